"""What the inbox stores: one pushed code, plus the rules for identifiers and sources."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaults.errors import InvalidInput

__all__ = [
    "MAX_IDENTIFIER_LENGTH",
    "OTP_TYPES",
    "OtpType",
    "PushedCode",
    "check_tag",
    "check_text",
    "extraction_source",
    "identifier_key",
    "iso_utc",
    "normalise_source",
]

OtpType = Literal["totp", "magic_link"]
OTP_TYPES: tuple[OtpType, ...] = ("totp", "magic_link")
MAX_IDENTIFIER_LENGTH = 320
MAX_TAG_LENGTH = 200
"""Longest ``task_id`` / ``workflow_run_id`` / ``source`` accepted."""

_PHONE = re.compile(r"\+?[0-9][0-9 ().\-]{4,30}")
_PHONE_NOISE = re.compile(r"[ ().\-]")
_SOURCE_ALIASES = {
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "phone": "phone",
    "sms": "phone",
    "text": "phone",
    "mms": "phone",
}


def check_text(name: str, text: str, *, nul: bool = False) -> str:
    """``text``, unless a store cannot hold it: an unpaired surrogate (not UTF-8) or, unless
    ``nul``, a NUL character (PostgreSQL text cannot hold one)."""
    if not nul and "\x00" in text:
        raise InvalidInput(f"the {name} contains a NUL character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"the {name} is not valid text (an unpaired surrogate)") from None
    return text


def identifier_key(identifier: str) -> str:
    """The form identifiers are matched by.

    E-mail addresses match case-insensitively (``User@Example.COM`` is ``user@example.com``);
    phone numbers match without their punctuation (``+1 (555) 010-0000`` is
    ``+15550100000``); anything else matches exactly, surrounding whitespace aside.
    """
    if not isinstance(identifier, str):
        raise InvalidInput("the identifier must be a string")
    ident = identifier.strip()
    if not ident:
        raise InvalidInput("the identifier is empty")
    if len(ident) > MAX_IDENTIFIER_LENGTH:
        raise InvalidInput(f"the identifier is longer than {MAX_IDENTIFIER_LENGTH} characters")
    check_text("identifier", ident)
    local, at, domain = ident.rpartition("@")
    if at and local and domain and not any(ch.isspace() for ch in ident):
        return ident.casefold()
    if _PHONE.fullmatch(ident):
        return _PHONE_NOISE.sub("", ident)
    return ident


def normalise_source(source: str | None) -> str | None:
    """``email`` and ``phone`` (``sms``, ``text`` …) are canonical; other labels are kept."""
    if source is None:
        return None
    if not isinstance(source, str):
        raise InvalidInput("the source must be a string")
    text = check_text("source", source.strip().lower())
    if not text:
        return None
    if len(text) > MAX_TAG_LENGTH:
        raise InvalidInput(f"the source is longer than {MAX_TAG_LENGTH} characters")
    return _SOURCE_ALIASES.get(text, text)


def extraction_source(source: str | None) -> str | None:
    """The ``source`` argument of the extraction hook: ``"email"``, ``"phone"`` or ``None``."""
    return source if source in ("email", "phone") else None


def check_tag(name: str, value: str | None) -> str | None:
    """Validate an optional ``task_id`` / ``workflow_run_id``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    text = check_text(name, value.strip())
    if len(text) > MAX_TAG_LENGTH:
        raise InvalidInput(f"{name} is longer than {MAX_TAG_LENGTH} characters")
    return text or None


def iso_utc(epoch: float) -> str:
    """Epoch seconds as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


class PushedCode(BaseModel):
    """One code (or magic link) delivered to the inbox, as stored.

    Times are epoch seconds. A code is handed to waiters until ``expires_at`` (its lifespan,
    10 minutes by default); with one-time consumption, ``consumed_at`` marks it as taken.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    identifier: str
    """The identifier as it was pushed (matching uses :func:`identifier_key`)."""
    otp_type: OtpType
    value: str = Field(repr=False)
    """The code, or the magic link's URL (kept out of ``repr``, like every message part)."""
    origin: str | None = None
    """The origin a code is bound to, when the message says (``@example.com #123456``)."""
    source: str | None = None
    task_id: str | None = None
    workflow_run_id: str | None = None
    created_at: float
    expires_at: float
    consumed_at: float | None = None

    def is_expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    def seconds_left(self, now: float | None = None) -> float:
        """Seconds until the code expires (negative once it has)."""
        return self.expires_at - (time.time() if now is None else now)

    def status(self, now: float | None = None) -> str:
        """``consumed``, ``expired`` or ``active``."""
        if self.consumed_at is not None:
            return "consumed"
        return "expired" if self.is_expired(now) else "active"

    def public_dict(self) -> dict[str, Any]:
        """The documented JSON shape (``vaults codes list --json``, ``wait --json``): the HTTP
        API's names (``GET /v1/credentials/totp``, the seed system's), times as epoch seconds,
        then the names vaults used first as aliases of the same values."""
        return {
            "totp_code_id": self.id,
            "totp_identifier": self.identifier,
            "code": self.value,
            "otp_type": self.otp_type,
            "origin": self.origin,
            "source": self.source,
            "task_id": self.task_id,
            "workflow_run_id": self.workflow_run_id,
            "created_at": self.created_at,
            "expired_at": self.expires_at,
            "consumed_at": self.consumed_at,
            # aliases: id = totp_code_id, identifier = totp_identifier, value = code,
            # expires_at = expired_at
            "id": self.id,
            "identifier": self.identifier,
            "value": self.value,
            "expires_at": self.expires_at,
        }
