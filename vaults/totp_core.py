"""Secret parsing and code computation without pydantic (the CLI's fast path).

:mod:`vaults.totp` wraps this in the public models. Formats: raw base32 (lenient),
``otpauth://totp/…`` URIs (Key-Uri-Format), ``otpauth://hotp/…`` (parsed with its
counter; only ``vaults totp`` computes it), Steam Guard (``steam://SECRET``,
``encoder=steam``, Aegis' ``otpauth://steam/…``: always 30 s and 5 characters) and the
KeeOtp ``key=…&size=…&step=…`` form. A vault's own base32 clean-up (Bitwarden drops
characters outside the alphabet, KeePassXC also maps ``0/1/8`` to ``O/L/B``) is a
:class:`Base32Rules` value its plugin passes in. Codes come from
the RFC 4226 generator of :mod:`vaults.hotp` applied to the RFC 6238 window counter, with
the key decoded once per secret: no floor on the secret's length (real sites still issue
80-bit secrets) and no cap on the period.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Final, Literal, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit

from vaults.errors import InvalidTotpSecret

Algorithm = Literal["SHA1", "SHA256", "SHA512"]


class OtpParams(NamedTuple):
    """A parsed secret. ``secret`` is normalised base32 and is kept out of ``repr``.
    (A named tuple: building a dataclass at import costs the CLI's cold start more.)"""

    secret: str
    algorithm: Algorithm = "SHA1"
    digits: int = 6
    period: int = 30
    encoder: Literal["steam"] | None = None
    issuer: str | None = None
    account: str | None = None
    kind: Literal["totp", "hotp"] = "totp"
    counter: int = 0
    """HOTP only: the counter the URI carries (nothing here ever increments it)."""

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self._fields if name != "secret"
        )
        return f"OtpParams({shown})"

    def __str__(self) -> str:
        return self.__repr__()


SECRET_SETTINGS: Final = ("algorithm", "digits", "period", "encoder", "issuer", "account")
"""What a TOTP secret carries besides its key (:class:`OtpParams` and the public model)."""


class Base32Rules(NamedTuple):
    """How one vault's app cleans a base32 secret before decoding it (data, not code).

    The default (``vaults``) accepts case, spaces, ``-``, ``_`` and padding and refuses
    anything else. A plugin passes its vault's rules so that every item the vault's own
    app shows a code for gets the same code here.
    """

    name: str = "vaults"
    replace: tuple[tuple[str, str], ...] = ()
    """Look-alike characters mapped before anything else (KeePassXC: 0→O, 1→L, 8→B)."""
    drop_invalid: bool = False
    """Drop every character outside ``A-Z2-7`` (after upper-casing) instead of refusing."""


DEFAULT_RULES: Final = Base32Rules()
MIN_DIGITS: Final = 4
MAX_DIGITS: Final = 10
STEAM_DIGITS: Final = 5
STEAM_PERIOD: Final = 30
UNSUPPORTED_KINDS: Final = {
    "yandex": "Yandex Key (encoder=yandex)",
    "yaotp": "Yandex Key",
    "motp": "mOTP (mobile-OTP)",
}
"""Schemes, otpauth types and encoders we know and refuse by name (a wrong code is worse)."""

STEAM_ALPHABET: Final = "23456789BCDFGHJKMNPQRTVWXY"
_B32_ALPHABET = re.compile(r"[A-Z2-7]+")


def _fail(problem: str) -> InvalidTotpSecret:
    return InvalidTotpSecret(f"invalid TOTP secret: {problem}")


def _normalise_base32(raw: str, rules: Base32Rules = DEFAULT_RULES) -> str:
    """Lenient base32: case, spaces, dashes, padding (also ``%3D``) and a length that
    leaves trailing bits (which are ignored, as Bitwarden and KeePassXC do) are accepted;
    ``rules`` adds a vault's own clean-up (look-alikes, dropping junk)."""
    text = unquote(raw) if "%" in raw else raw
    if not text.strip():
        raise _fail("the secret is empty")
    for old, new in rules.replace:
        text = text.replace(old, new)
    if rules.drop_invalid:
        cleaned = "".join(_B32_ALPHABET.findall(text.upper()))
        if not cleaned:
            raise _fail("no base32 characters (letters A-Z and digits 2-7) in the secret")
    else:
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


def parse_digits(value: str, name: str = "digits") -> int:
    """A code length: 4 to 10 (KeePassXC and Bitwarden's apps take 1–10; below 4 no site
    asks for it and a typo is likelier)."""
    return _int_param(name, value, MIN_DIGITS, MAX_DIGITS)


def _refuse_unsupported(name: str, where: str) -> None:
    known = UNSUPPORTED_KINDS.get(name.strip().lower())
    if known is not None:
        raise _fail(f"{known} codes are not supported (only TOTP, HOTP and Steam Guard)")
    if where == "encoder":
        raise _fail("unsupported encoder (only encoder=steam is known)")


def split_label(raw_path: str) -> tuple[str | None, str | None]:
    """``(issuer, account)`` of an otpauth label (the URI path, still percent-encoded).

    A literal ``:`` separates issuer and account, so an issuer holding an encoded colon
    (``Issuer%20Two%3A%20100%25:alice``) stays whole; with no literal colon an encoded
    ``%3A`` is the separator (Key-Uri-Format allows both)."""
    label = raw_path.lstrip("/")
    head: str | None = None
    tail = label
    if ":" in label:
        head, _, tail = label.partition(":")
    else:
        found = re.search("%3a", label, re.IGNORECASE)
        if found is not None:
            head, tail = label[: found.start()], label[found.end() :]
    issuer = unquote(head).strip() or None if head is not None else None
    return issuer, unquote(tail).strip() or None


def _parse_otpauth(raw: str, rules: Base32Rules) -> OtpParams:
    try:
        parts = urlsplit(raw)
    except ValueError:  # e.g. an unbalanced "[" where the type belongs
        raise _fail("the otpauth URI is malformed") from None
    kind = parts.netloc.lower()
    if kind not in ("totp", "hotp", "steam"):
        _refuse_unsupported(kind, "type")
        # not echoed: a malformed URI may hold the secret in that place
        raise _fail("otpauth type must be totp, hotp or steam (otpauth://totp/LABEL?secret=...)")
    query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
    if not query.get("secret", "").strip():
        raise _fail("the otpauth URI has no secret parameter")
    label_issuer, account = split_label(parts.path)
    # KeeTrayTOTP writes Steam as format=Steam; everyone else as encoder=steam
    encoder = query.get("encoder", "").strip().lower()
    if not encoder and query.get("format", "").strip().lower() == "steam":
        encoder = "steam"
    if encoder and encoder != "steam":
        _refuse_unsupported(encoder, "encoder")
    steam = kind == "steam" or encoder == "steam"
    algorithm = _algorithm(query["algorithm"]) if query.get("algorithm") else "SHA1"
    counter = 0
    if kind == "hotp":
        if steam:
            raise _fail("Steam Guard codes are time-based: otpauth://hotp/ cannot be Steam")
        if not query.get("counter", "").strip():
            raise _fail("the otpauth://hotp/ URI has no counter parameter")
        counter = _int_param("counter", query["counter"], 0, 2**64 - 1)
    if steam:  # Steam's app, pyotp and Aegis: 30 s and 5 characters, whatever the URI says
        digits, period = STEAM_DIGITS, STEAM_PERIOD
    else:
        digits = parse_digits(query["digits"]) if query.get("digits") else 6
        period = _int_param("period", query["period"], 1, None) if query.get("period") else 30
    return OtpParams(
        secret=_normalise_base32(query["secret"], rules),
        algorithm="SHA1" if steam else algorithm,
        digits=digits,
        period=period,
        encoder="steam" if steam else None,
        issuer=query.get("issuer") or label_issuer,
        account=account,
        kind="hotp" if kind == "hotp" else "totp",
        counter=counter,
    )


def key_to_base32(raw: str, encoding: str) -> str:
    """A key stored as hex, base64 or UTF-8 text (KeeOtp2 ``encoding=``, KeePass'
    ``TimeOtp-Secret-Hex``…), as normalised base32."""
    try:
        if encoding == "hex":
            key = bytes.fromhex(re.sub(r"\s", "", raw))
        elif encoding == "base64":
            key = base64.b64decode(re.sub(r"\s", "", raw), validate=True)
        elif encoding in ("utf8", "utf-8"):
            key = raw.encode("utf-8")
        else:
            raise _fail("unknown key encoding (use Base32, Base64, Hex or UTF8)")
    except (ValueError, binascii.Error):
        raise _fail(f"the key is not valid {encoding}") from None
    if not key:
        raise _fail("the secret is empty")
    return base64.b32encode(key).decode("ascii").rstrip("=")


def _parse_keeotp(raw: str, rules: Base32Rules) -> OtpParams:
    """KeeOtp / KeeOtp2 ``key=…&type=Totp|Hotp|Steam&counter=…&size=…&step=…&otpHashMode=…
    &encoding=Base32|Base64|Hex|UTF8&encoder=steam`` (names case-insensitive)."""
    query = {k.lower(): v for k, v in parse_qsl(raw, keep_blank_values=True)}
    if not query.get("key", "").strip():
        raise _fail("the KeeOtp settings have no key")
    kind = query.get("type", "totp").strip().lower() or "totp"
    if kind not in ("totp", "hotp", "steam"):
        _refuse_unsupported(kind, "type")
        raise _fail("unknown KeeOtp type (Totp, Hotp or Steam)")
    encoder = query.get("encoder", "").strip().lower()
    if encoder and encoder != "steam":
        _refuse_unsupported(encoder, "encoder")
    steam = kind == "steam" or (kind == "totp" and encoder == "steam")
    encoding = query.get("encoding", "base32").strip().lower() or "base32"
    key = query["key"]
    secret = _normalise_base32(key, rules) if encoding == "base32" else key_to_base32(key, encoding)
    algorithm = _algorithm(query["otphashmode"]) if query.get("otphashmode") else "SHA1"
    counter = 0
    if kind == "hotp":
        text = query.get("counter", "").strip() or "0"
        counter = _int_param("counter", text, 0, 2**64 - 1)
    if steam:
        digits, period = STEAM_DIGITS, STEAM_PERIOD
    else:
        digits = parse_digits(query["size"]) if query.get("size") else 6
        period = _int_param("step", query["step"], 1, None) if query.get("step") else 30
    return OtpParams(
        secret=secret,
        algorithm="SHA1" if steam else algorithm,
        digits=digits,
        period=period,
        encoder="steam" if steam else None,
        kind="hotp" if kind == "hotp" else "totp",
        counter=counter,
    )


def parse_params(raw: str, rules: Base32Rules = DEFAULT_RULES) -> OtpParams:
    """Parse a stored TOTP (or HOTP) secret in any supported format.

    ``rules`` is the vault's own base32 clean-up (default: :data:`DEFAULT_RULES`).
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
    lowered = text[:24].lower()
    if lowered.startswith("otpauth://"):
        return _parse_otpauth(text, rules)
    if lowered.startswith("steam://"):
        return OtpParams(
            secret=_normalise_base32(text[len("steam://") :], rules),
            digits=STEAM_DIGITS,
            encoder="steam",
        )
    if lowered.startswith("otpauth-migration://"):
        raise _fail(
            "a Google Authenticator export (otpauth-migration://) holds several accounts: "
            "list them with 'vaults totp' or 'vaults qr' and store one otpauth:// URI"
        )
    if "://" in text[:16]:
        _refuse_unsupported(text.split("://", 1)[0], "scheme")
        raise _fail("unsupported URI scheme (expected otpauth:// or steam://)")
    if lowered.startswith("key="):
        return _parse_keeotp(text, rules)
    return OtpParams(secret=_normalise_base32(text, rules))


Generator = Callable[[int], str]
"""Window counter -> code."""

_GENERATORS: dict[OtpParams, Generator] = {}


def generator(params: OtpParams) -> Generator:
    """A (cached) code generator for these parameters: window counter -> code."""
    cached = _GENERATORS.get(params)
    if cached is None:
        from vaults.hotp import make_generator

        cached = make_generator(params)
        if len(_GENERATORS) > 1024:
            _GENERATORS.clear()
        _GENERATORS[params] = cached
    return cached


def code_for_counter(params: OtpParams, counter: int) -> str:
    """The code of window number ``counter`` (``floor(epoch / period)``, 0 to 2**64 - 1)."""
    return generator(params)(counter)


DEFAULT_MIN_REMAINING: Final = 20
MAX_TIME: Final = 1e15
"""Latest accepted epoch (keeps the window counter inside RFC 4226's 8 bytes)."""

HOTP_IN_VAULT: Final = (
    "an HOTP (counter-based) secret: no vault here keeps its counter, so no code is made "
    "('vaults totp URI' prints the code for the URI's counter)"
)


def parse_totp(raw: str, rules: Base32Rules = DEFAULT_RULES) -> OtpParams:
    """:func:`parse_params` for a secret stored in a vault: an ``otpauth://hotp/`` secret is
    refused too (its counter lives nowhere we could update)."""
    params = parse_params(raw, rules)
    if params.kind == "hotp":
        raise _fail(HOTP_IN_VAULT)
    return params


def totp_or_error(
    raw: str | None, rules: Base32Rules = DEFAULT_RULES
) -> tuple[OtpParams | None, str | None]:
    """For backends: ``(params, None)``, or ``(None, why)`` when no code can be made; empty or
    missing ``raw`` gives ``(None, None)``. ``why`` is safe to show (never the secret)."""
    if raw is None or not raw.strip():
        return None, None
    try:
        return parse_totp(raw, rules), None
    except InvalidTotpSecret as exc:
        return None, exc.message.removeprefix("invalid TOTP secret: ")


def check_time(at: float) -> float:
    """``at`` as a float, refused unless it is an epoch from 0 to :data:`MAX_TIME`."""
    import math

    now = float(at)
    if not math.isfinite(now) or not 0 <= now < MAX_TIME:
        raise InvalidTotpSecret("invalid time: it must be an epoch from 0 to 1e15 seconds")
    return now


def entry_counter(period: int, now: float, min_remaining: float = DEFAULT_MIN_REMAINING) -> int:
    """The window to type a code from at ``now``: the current one, or the next when fewer
    than ``min_remaining`` seconds are left in it."""
    counter = int(now // period)
    if (counter + 1) * period - now < min_remaining:
        counter += 1
    return counter


def otpauth_uri(params: OtpParams) -> str:
    """``params`` as an ``otpauth://totp/`` URI (contains the secret: handle with care)."""
    from urllib.parse import quote, urlencode

    def part(text: str) -> str:  # a colon inside issuer or account is escaped
        return quote(text, safe="@")

    label = (
        f"{part(params.issuer)}:{part(params.account)}"
        if params.issuer and params.account
        else part(params.account or params.issuer or "vaults")
    )
    query: dict[str, str | int] = {"secret": params.secret}
    if params.issuer:
        query["issuer"] = params.issuer
    if params.algorithm != "SHA1":
        query["algorithm"] = params.algorithm
    query["digits"] = params.digits
    query["period"] = params.period
    if params.encoder:
        query["encoder"] = params.encoder
    return f"otpauth://totp/{label}?{urlencode(query, quote_via=quote)}"
