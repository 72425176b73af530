"""What ``bw`` and ``bw serve`` say when something fails, mapped to :mod:`vaults.errors`.

Both transports get the same texts (``bw serve`` in the ``message`` of a ``success: false``
envelope, the CLI on stderr), so one table serves both. Matching is by substring because
the CLI adds colour codes, prefixes and trailing lists of ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ItemNotFound,
    VaultLocked,
    VaultsError,
    VaultUnavailable,
    WriteConflict,
)

__all__ = [
    "AMBIGUOUS",
    "INVALID_PASSWORD",
    "LOCKED",
    "NOT_FOUND",
    "NOT_LOGGED_IN",
    "OUT_OF_DATE",
    "error_for_message",
    "ids_in",
    "redact",
]

NOT_FOUND = "Not found."
AMBIGUOUS = "More than one result was found"
LOCKED = "Vault is locked."
NOT_LOGGED_IN = "You are not logged in."
INVALID_PASSWORD = "Invalid master password"  # noqa: S105 - a message
OUT_OF_DATE = "is out of date"
"""The server refusing an edit based on an older revision of the item (``PUT /ciphers``)."""

_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MAX_QUOTED = 200


def ids_in(text: str) -> list[str]:
    """The item ids (UUIDs) listed in a message, in order, without repeats."""
    seen: list[str] = []
    for found in _UUID.findall(text):
        lowered = found.lower()
        if lowered not in seen:
            seen.append(lowered)
    return seen


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` without colour codes and with every secret replaced by ``***``."""
    cleaned = _ANSI.sub("", text)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, "***")
    return cleaned


def _quote(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:_MAX_QUOTED] + ("…" if len(first) > _MAX_QUOTED else "")


def error_for_message(
    message: str,
    *,
    source: str,
    what: str,
    candidates: Sequence[str] = (),
    secrets: Iterable[str] = (),
) -> VaultsError:
    """The typed error for a failure text from ``bw``.

    ``source`` names the transport (``bw serve at http://…`` / ``bw``), ``what`` the thing
    asked for (``item 'GitHub'``). Unknown texts become :class:`VaultUnavailable` quoting the
    first line, with configured secrets redacted.
    """
    text = redact(message, secrets)
    if AMBIGUOUS in text:
        ids = list(candidates) or ids_in(text)
        return AmbiguousItem(f"Bitwarden: several items match {what}", ids)
    if LOCKED in text:
        return VaultLocked(
            f"the Bitwarden vault is locked ({source}); unlock it (`bw unlock`) and set "
            "BW_SESSION, or set BW_PASSWORD to unlock it automatically"
        )
    if NOT_LOGGED_IN in text:
        return AuthenticationFailed(f"{source} is not logged in to Bitwarden; run `bw login` first")
    if INVALID_PASSWORD in text:
        return AuthenticationFailed(f"{source} rejected the master password (BW_PASSWORD)")
    if NOT_FOUND in text:
        return ItemNotFound(f"Bitwarden has no {what}")
    if OUT_OF_DATE in text:
        return WriteConflict(
            f"{source}: {what} was changed elsewhere since it was read; nothing written, try again"
        )
    return VaultUnavailable(f"{source} failed for {what}: {_quote(text) or 'no message'}")
