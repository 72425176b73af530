"""Server-side one-time codes for the 1Password test doubles (stdlib only).

1Password computes the current code of an OTP field and returns it as ``totp`` next to the
field's ``value`` (an ``otpauth://`` URI or a raw base32 secret). The doubles do the same with
this small RFC 6238 implementation, kept independent of ``vaults.totp`` so that tests compare
two implementations instead of one with itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}


@dataclass(frozen=True)
class OtpParams:
    key: bytes
    algorithm: str = "SHA1"
    digits: int = 6
    period: int = 30


def _decode_base32(text: str) -> bytes | None:
    cleaned = "".join(text.split()).replace("-", "").upper().rstrip("=")
    if not cleaned:
        return None
    try:
        return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except ValueError:  # binascii.Error is a ValueError
        return None


def parse_otp(raw: str) -> OtpParams | None:
    """Parse an ``otpauth://totp/...`` URI or a raw base32 secret; None when unreadable."""
    text = raw.strip()
    if not text:
        return None
    if not text.lower().startswith("otpauth://"):
        key = _decode_base32(text)
        return OtpParams(key) if key else None
    parts = urlsplit(text)
    if parts.netloc.lower() != "totp":
        return None
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query).items()}
    key = _decode_base32(query.get("secret", ""))
    if not key:
        return None
    algorithm = query.get("algorithm", "SHA1").upper()
    if algorithm not in _DIGESTS:
        return None
    try:
        digits = int(query.get("digits", "6"))
        period = int(query.get("period", "30"))
    except ValueError:
        return None
    if not 6 <= digits <= 10 or period <= 0:
        return None
    return OtpParams(key, algorithm, digits, period)


def code_at(params: OtpParams, at: float) -> str:
    counter = int(at // params.period)
    mac = hmac.new(params.key, struct.pack(">Q", counter), _DIGESTS[params.algorithm]).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**params.digits).zfill(params.digits)


def current_code(raw: str, at: float | None = None) -> str | None:
    """The code 1Password would show now for ``raw``; None when the secret is unreadable."""
    params = parse_otp(raw)
    if params is None:
        return None
    return code_at(params, time.time() if at is None else at)
