"""Secret parsing and code computation without pydantic (the CLI's fast path).

:mod:`vaults.totp` wraps this in the public models. Formats: raw base32 (lenient),
``otpauth://totp/…`` URIs (Key-Uri-Format), Steam Guard (``steam://SECRET`` and
``encoder=steam``) and the KeeOtp ``key=…&size=…&step=…`` form. Codes come from
pyotp's RFC 4226 generator applied to the RFC 6238 window counter, with the key decoded
once per secret: no 112-bit floor (real sites still issue 80-bit secrets) and no cap on
the period (pyotp's TOTP class refuses periods over 120 s; the counter is computed here).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import pyotp

from vaults.errors import InvalidTotpSecret

Algorithm = Literal["SHA1", "SHA256", "SHA512"]


@dataclass(frozen=True)
class OtpParams:
    """A parsed secret. ``secret`` is normalised base32 and is kept out of ``repr``."""

    secret: str = field(repr=False)
    algorithm: Algorithm = "SHA1"
    digits: int = 6
    period: int = 30
    encoder: Literal["steam"] | None = None
    issuer: str | None = None
    account: str | None = None


STEAM_ALPHABET: Final = "23456789BCDFGHJKMNPQRTVWXY"
_B32_ALPHABET = re.compile(r"[A-Z2-7]+")
_DIGESTS: Final[dict[str, Callable[..., Any]]] = {
    "SHA1": hashlib.sha1,
    "SHA256": hashlib.sha256,
    "SHA512": hashlib.sha512,
}


def _fail(problem: str) -> InvalidTotpSecret:
    return InvalidTotpSecret(f"invalid TOTP secret: {problem}")


def _normalise_base32(raw: str) -> str:
    """Lenient base32: case, spaces, dashes, padding (also ``%3D``) and a length that
    leaves trailing bits (which are ignored, as Bitwarden and KeePassXC do) are accepted."""
    text = unquote(raw) if "%" in raw else raw
    cleaned = re.sub(r"[\s\-_]", "", text).rstrip("=").upper()
    if not cleaned:
        raise _fail("the secret is empty")
    if not _B32_ALPHABET.fullmatch(cleaned):
        raise _fail("not base32 (allowed: letters A-Z and digits 2-7)")
    whole = len(cleaned) * 5 // 8
    if whole == 0:
        raise _fail("the secret is too short")
    usable = cleaned[: -(-whole * 8 // 5)]
    padded = usable + "=" * (-len(usable) % 8)
    try:
        decoded = base64.b32decode(padded)
    except (binascii.Error, ValueError):
        # lengths 1, 3 and 6 (mod 8) leave bits no byte uses: decode what forms whole bytes
        bits = "".join(f"{'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.index(c):05b}" for c in cleaned)
        decoded = int(bits[: whole * 8], 2).to_bytes(whole, "big")
    if len(decoded) != whole:
        raise _fail("not valid base32")
    return base64.b32encode(decoded).decode("ascii").rstrip("=")


def _algorithm(value: str) -> Algorithm:
    name = value.strip().upper().replace("-", "").replace("_", "")
    if name.startswith("HMAC"):
        name = name[4:]
    if name == "SHA1":
        return "SHA1"
    if name == "SHA256":
        return "SHA256"
    if name == "SHA512":
        return "SHA512"
    raise _fail(f"unknown algorithm {value.strip()[:16]!r} (use SHA1, SHA256 or SHA512)")


def _int_param(name: str, value: str, low: int, high: int | None) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise _fail(f"{name} must be a whole number") from None
    if number < low or (high is not None and number > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise _fail(f"{name} must be {bound}, got {number}")
    return number


def _digits(value: str, steam: bool) -> int:
    if steam:
        return 5
    return _int_param("digits", value, 6, 10)


def _parse_otpauth(raw: str) -> OtpParams:
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unbalanced "[" where the type belongs
        raise _fail("the otpauth URI is malformed") from None
    kind = parts.netloc.lower()
    if kind == "hotp":
        raise _fail("HOTP (counter-based) codes are not supported, only TOTP")
    if kind != "totp":  # not echoed: a malformed URI may hold the secret in that place
        raise _fail("otpauth type must be 'totp' (otpauth://totp/LABEL?secret=...)")
    query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    if not query.get("secret", "").strip():
        raise _fail("the otpauth URI has no secret parameter")
    label = unquote(parts.path.lstrip("/"))
    label_issuer: str | None = None
    account: str | None = label.strip() or None
    if ":" in label:
        head, _, tail = label.partition(":")
        label_issuer, account = head.strip() or None, tail.strip() or None
    steam = query.get("encoder", "").lower() == "steam"
    algorithm = _algorithm(query["algorithm"]) if query.get("algorithm") else "SHA1"
    return OtpParams(
        secret=_normalise_base32(query["secret"]),
        algorithm=algorithm,
        digits=_digits(query["digits"], steam) if query.get("digits") else (5 if steam else 6),
        period=_int_param("period", query["period"], 1, None) if query.get("period") else 30,
        encoder="steam" if steam else None,
        issuer=query.get("issuer") or label_issuer,
        account=account,
    )


def _parse_keeotp(raw: str) -> OtpParams:
    query = {k.lower(): v for k, v in parse_qsl(raw, keep_blank_values=True)}
    if not query.get("key", "").strip():
        raise _fail("the KeeOtp settings have no key")
    algorithm = _algorithm(query["otphashmode"]) if query.get("otphashmode") else "SHA1"
    return OtpParams(
        secret=_normalise_base32(query["key"]),
        algorithm=algorithm,
        digits=_digits(query["size"], False) if query.get("size") else 6,
        period=_int_param("step", query["step"], 1, None) if query.get("step") else 30,
    )


def parse_params(raw: str) -> OtpParams:
    """Parse a stored TOTP secret in any supported format.

    Raises :class:`~vaults.errors.InvalidTotpSecret` naming the problem (never the secret).
    """
    text = raw
    if not isinstance(text, str):
        raise _fail("expected text")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise _fail("not valid text (an unpaired surrogate)") from None
    text = text.strip()
    if not text:
        raise _fail("the secret is empty")
    lowered = text[:12].lower()
    if lowered.startswith("otpauth://"):
        return _parse_otpauth(text)
    if lowered.startswith("steam://"):
        return OtpParams(
            secret=_normalise_base32(text[len("steam://") :]),
            digits=5,
            encoder="steam",
        )
    if "://" in text[:16]:
        raise _fail("unsupported URI scheme (expected otpauth:// or steam://)")
    if lowered.startswith("key="):
        return _parse_keeotp(text)
    return OtpParams(secret=_normalise_base32(text))


Generator = Callable[[int], str]
"""Window counter -> code."""

_GENERATORS: dict[OtpParams, Generator] = {}


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


def _make_generator(params: OtpParams) -> Generator:
    otp = _SteamHotp(params) if params.encoder == "steam" else _Hotp(params)
    return otp.generate_otp


def generator(params: OtpParams) -> Generator:
    """A (cached) code generator for these parameters: window counter -> code."""
    cached = _GENERATORS.get(params)
    if cached is None:
        cached = _make_generator(params)
        if len(_GENERATORS) > 1024:
            _GENERATORS.clear()
        _GENERATORS[params] = cached
    return cached


def code_for_counter(params: OtpParams, counter: int) -> str:
    """The code of window number ``counter`` (``floor(epoch / period)``, 0 to 2**64 - 1)."""
    return generator(params)(counter)
