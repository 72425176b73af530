"""The one exception hierarchy of vaults.

Every error a user can cause or meet is a :class:`VaultsError`. Each class carries the
CLI exit code it maps to (documented in the README). Messages never contain secrets:
they name the item, the vault or the problem, never a password, TOTP secret or token.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "AmbiguousItem",
    "AuthenticationFailed",
    "CodeFieldNotFound",
    "CodeTimeout",
    "ConfigurationError",
    "InvalidInput",
    "InvalidReference",
    "InvalidTotpSecret",
    "ItemNotFound",
    "LoginFieldNotFound",
    "NoCode",
    "ReadOnlyVault",
    "RepromptRequired",
    "TotpAlreadySet",
    "TotpExpired",
    "UnknownScheme",
    "VaultLocked",
    "VaultUnavailable",
    "VaultsError",
    "WriteConflict",
    "WriteNotVerified",
]

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_UNAVAILABLE = 4


class VaultsError(Exception):
    """Base class of every error vaults raises on purpose."""

    exit_code: int = EXIT_NOT_FOUND

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ItemNotFound(VaultsError):
    """The reference names no item in the vault (also: unknown vault, unknown field)."""


class AmbiguousItem(VaultsError):
    """The reference matches several items; ``candidates`` holds their ids."""

    def __init__(self, message: str, candidates: Sequence[str] = ()) -> None:
        self.candidates: tuple[str, ...] = tuple(candidates)
        if self.candidates and "candidates" not in message:
            message = f"{message} (candidates: {', '.join(self.candidates)})"
        super().__init__(message)


class NoCode(VaultsError):
    """The item exists but no one-time code could be produced or delivered."""


class CodeTimeout(NoCode):
    """Waiting for a pushed or pulled code ran out of time."""


class CodeFieldNotFound(VaultsError):
    """vaults.browser: no one-time code entry on the page (the message names the inputs it
    saw and why each was passed over), or the entry would not keep the code."""


class LoginFieldNotFound(VaultsError):
    """vaults.browser: no login form on the page (signup and password-change forms are never
    filled), or the credential lacks the username or password it asks for."""


class TotpExpired(VaultsError):
    """A code lease was used after the code's validity window ended."""


class VaultLocked(VaultsError):
    """The vault is locked (or its session is stale) and cannot be unlocked unattended."""

    exit_code = EXIT_AUTH


class AuthenticationFailed(VaultsError):
    """Wrong master password, bad token, not logged in, or no access to that vault."""

    exit_code = EXIT_AUTH


class RepromptRequired(AuthenticationFailed):
    """The item asks for the master password again before use (Bitwarden's "master
    password re-prompt"); pass ``allow_reprompt=True`` / ``--allow-reprompt`` to use it."""


class VaultUnavailable(VaultsError):
    """The vault could not be reached: server down, timeout, 5xx, CLI missing or crashed."""

    exit_code = EXIT_UNAVAILABLE


class InvalidInput(VaultsError):
    """The caller gave something malformed."""

    exit_code = EXIT_USAGE


class InvalidTotpSecret(InvalidInput):
    """A TOTP secret or otpauth URI cannot be used. The message never echoes the secret."""


class InvalidReference(InvalidInput):
    """A credential reference is malformed."""


class UnknownScheme(InvalidInput):
    """No installed vault plugin handles the reference's scheme."""


class ConfigurationError(InvalidInput):
    """Required configuration (environment variables, files) is missing or wrong."""


# -- writing TOTP secrets (Vaults.set_totp) --------------------------------------------------
class TotpAlreadySet(VaultsError):
    """The item already holds a different TOTP secret and ``replace`` was not given."""


class ReadOnlyVault(InvalidInput):
    """The vault plugin (or its configuration) cannot store secrets."""


class WriteConflict(VaultUnavailable):
    """The vault changed since it was read (e.g. a KeePass file saved meanwhile): nothing
    was written."""


class WriteNotVerified(VaultUnavailable):
    """A written secret did not read back as written; the previous state was restored."""
