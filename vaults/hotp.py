"""RFC 4226 code generators for :mod:`vaults.totp_core`, on :mod:`hmac` alone.

HOTP (RFC 4226 section 5.3): HMAC of the 8-byte big-endian counter, dynamic truncation to
31 bits, then ``digits`` decimal digits (or, for Steam Guard, 5 characters of Steam's
alphabet). The key is decoded once per secret, not per code; no floor on the secret's
length (real sites still issue 80-bit secrets) and any period (the window counter is
computed by the caller). Checked against the RFC 4226/6238 test vectors and against pyotp
as an independent oracle (``tests/core``).
"""

from __future__ import annotations

import base64
import hmac
from typing import Final

from vaults.totp_core import STEAM_ALPHABET, Generator, OtpParams

__all__ = ["make_generator"]

_DIGESTS: Final[dict[str, str]] = {"SHA1": "sha1", "SHA256": "sha256", "SHA512": "sha512"}


def _key(params: OtpParams) -> bytes:
    return base64.b32decode(params.secret + "=" * (-len(params.secret) % 8))


def _truncated(key: bytes, counter: int, digest: str) -> int:
    """RFC 4226 dynamic truncation: 31 bits of the HMAC at the offset its last nibble names."""
    mac = hmac.digest(key, counter.to_bytes(8, "big"), digest)
    offset = mac[-1] & 0x0F
    return int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF


def make_generator(params: OtpParams) -> Generator:
    key = _key(params)
    digest = _DIGESTS[params.algorithm]
    if params.encoder == "steam":
        base = len(STEAM_ALPHABET)

        def steam(counter: int) -> str:
            value = _truncated(key, counter, digest)
            chars = []
            for _ in range(5):
                value, index = divmod(value, base)
                chars.append(STEAM_ALPHABET[index])
            return "".join(chars)

        return steam
    digits = params.digits
    modulus = 10**digits

    def decimal(counter: int) -> str:
        if counter < 0:
            raise ValueError("the counter must not be negative")
        return str(_truncated(key, counter, digest) % modulus).zfill(digits)

    return decimal
