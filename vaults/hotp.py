"""RFC 4226 code generators for :mod:`vaults.totp_core` (pyotp's, with the key decoded once).

Its own module so that pyotp is imported with the first code, not with the engine.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, Final

import pyotp

from vaults.totp_core import STEAM_ALPHABET, Generator, OtpParams

__all__ = ["make_generator"]

_DIGESTS: Final[dict[str, Callable[..., Any]]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}


class _Hotp(pyotp.OTP):
    """pyotp's RFC 4226 generator with the key decoded once, not per code, and without
    pyotp's 112-bit floor (80-bit secrets are common in the wild). The window counter is
    computed by the caller, so any period works (pyotp's TOTP caps it at 120 s)."""

    min_secret_length_bits = 0

    def __init__(self, params: OtpParams) -> None:
        self._key = base64.b32decode(params.secret + "=" * (-len(params.secret) % 8))
        super().__init__(
            params.secret, digits=max(params.digits, 6), digest=_DIGESTS[params.algorithm]
        )
        self.digits = params.digits  # pyotp's check stops at 6; 4 and 5 are real lengths

    def byte_secret(self) -> bytes:
        return self._key


class _SteamHotp(_Hotp):
    """Steam Guard: the RFC 4226 truncation, then 5 characters of Steam's alphabet."""

    def generate_otp(self, input: int) -> str:
        mac = hmac.new(self._key, self.int_to_bytestring(input), self.digest).digest()
        offset = mac[-1] & 0x0F
        value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
        chars = []
        for _ in range(5):
            value, index = divmod(value, len(STEAM_ALPHABET))
            chars.append(STEAM_ALPHABET[index])
        return "".join(chars)


def make_generator(params: OtpParams) -> Generator:
    otp = _SteamHotp(params) if params.encoder == "steam" else _Hotp(params)
    return otp.generate_otp
