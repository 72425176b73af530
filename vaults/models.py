"""Pydantic models a host gets back: credentials, TOTP secrets and codes.

Secrets are :class:`pydantic.SecretStr`; nothing secret shows in ``repr()``/``str()`` and
the parsed TOTP secret is never serialised unless a caller asks with ``reveal``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from vaults.plain import MASK, code_dict, credential_dict, field_dict

if TYPE_CHECKING:
    from vaults.lease import CodeLease
    from vaults.totp_core import OtpParams

__all__ = ["MASK", "Algorithm", "CodeSource", "Credential", "CustomField", "TotpCode", "TotpSecret"]

_SECRET_MASK = "**********"  # noqa: S105 - a mask, not a password
"""How ``repr``/``str`` show a code or a magic link (as :class:`pydantic.SecretStr` does)."""


def masked_repr_args(args: Any, names: frozenset[str]) -> Any:
    """``__repr_args__`` pairs with the values of ``names`` masked (``None`` stays)."""
    for name, value in args:
        yield name, (_SECRET_MASK if name in names and value is not None else value)


Algorithm = Literal["SHA1", "SHA256", "SHA512"]
CodeSource = Literal["vault", "server", "pull", "inbox"]


class TotpSecret(BaseModel):
    """A parsed TOTP secret with its parameters (see :func:`vaults.totp.parse_secret`)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    secret: SecretStr
    """Normalised base32: upper case, no spaces, no padding."""
    algorithm: Algorithm = "SHA1"
    digits: int = 6
    period: int = 30
    encoder: Literal["steam"] | None = None
    issuer: str | None = None
    account: str | None = None

    def to_params(self) -> OtpParams:
        """The engine's (pydantic-free) form of this secret."""
        from vaults.totp_core import SECRET_SETTINGS, OtpParams

        settings = {name: getattr(self, name) for name in SECRET_SETTINGS}
        return OtpParams(secret=self.secret.get_secret_value(), **settings)

    def to_uri(self) -> str:
        """The secret as an ``otpauth://`` URI (contains the secret: handle with care)."""
        from vaults.totp_core import otpauth_uri

        return otpauth_uri(self.to_params())


class TotpCode(BaseModel):
    """One code and its validity window (epoch seconds, ``valid_until`` exclusive)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    code: str
    """The code (masked in ``repr``/``str``; read it here or with :meth:`public_dict`)."""
    valid_from: int
    valid_until: int
    period: int
    digits: int
    _secret: TotpSecret | None = PrivateAttr(default=None)

    def __repr_args__(self) -> Any:
        return masked_repr_args(super().__repr_args__(), frozenset({"code"}))

    def seconds_left(self, now: float | None = None) -> float:
        """Seconds until the code stops being valid (negative once expired)."""
        return self.valid_until - (time.time() if now is None else now)

    def is_valid(self, now: float | None = None) -> bool:
        t = time.time() if now is None else now
        return self.valid_from <= t < self.valid_until

    def lease(self) -> CodeLease:
        """A lease handing this same code to every box of one form (see :class:`CodeLease`)."""
        from vaults.lease import CodeLease

        return CodeLease(self)

    def secret(self) -> TotpSecret | None:
        """The parsed secret this code was computed from, if any (not serialised)."""
        return self._secret

    def public_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        data = code_dict(self)
        if reveal and self._secret is not None:
            data["secret"] = self._secret.to_uri()
        return data


class CustomField(BaseModel):
    """A custom field of a vault item. Values are secret (hidden fields hold secrets)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    value: SecretStr | None = None
    type: str = "text"
    """``text``, ``hidden``, ``boolean``, ``linked``, ``otp``, ``url``… as the vault names it."""
    section: str | None = None
    id: str | None = None

    def public_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        return field_dict(self, reveal=reveal)

    def hidden(self) -> CustomField:
        """The same field with type ``hidden`` (masked in every output)."""
        return self.model_copy(update={"type": "hidden"})


class Credential(BaseModel):
    """What a host gets back: who to log in as, the password and a ready-to-type code."""

    model_config = ConfigDict(frozen=False, validate_assignment=True, defer_build=True)

    vault: str
    """The vault plugin's scheme (``keepass``, ``bitwarden``, ``op``…)."""
    id: str
    name: str
    username: str | None = None
    password: SecretStr | None = None
    uris: list[str] = Field(default_factory=list)
    fields: list[CustomField] = Field(default_factory=list)
    totp: TotpCode | None = None
    totp_source: CodeSource | None = None
    """Where ``totp`` came from: vault secret, server-computed code, pull endpoint, inbox."""
    magic_link: str | None = None
    """A delivered sign-in link (masked in ``repr``/``str``)."""
    ref: str | None = None
    totp_secret: TotpSecret | None = Field(default=None, exclude=True, repr=False)
    """Set by backends; the host turns it into ``totp``. Never serialised."""
    totp_error: str | None = None
    """Why the item's TOTP secret gives no code (unparseable, HOTP…); safe to show. The
    credential is still returned with ``totp=None`` (set by backends, or by the host)."""
    reprompt: bool = False
    """The vault asks for the master password again before showing this item (Bitwarden's
    re-prompt): the host returns it only when allowed (``Vaults(allow_reprompt=True)``)."""

    def __repr_args__(self) -> Any:
        return masked_repr_args(super().__repr_args__(), frozenset({"magic_link"}))

    def field(self, name: str) -> CustomField | None:
        """The first custom field called ``name`` (case-insensitive)."""
        wanted = name.casefold()
        for f in self.fields:
            if f.name.casefold() == wanted:
                return f
        return None

    def public_dict(self, *, reveal: bool = False) -> dict[str, Any]:
        """The documented JSON shape; the password is masked unless ``reveal``."""
        totp = self.totp.public_dict(reveal=reveal) if self.totp else None
        fields = [f.public_dict(reveal=reveal) for f in self.fields]
        return credential_dict(self, totp, fields, reveal=reveal)
