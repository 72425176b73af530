"""Where KeePass and its plugins store TOTP secrets, turned into one parsed secret.

Precedence is KeePassXC's (``Entry::updateTotp``): an entry with ``TOTP Settings`` uses the
legacy pair; otherwise ``otp``; otherwise KeePass 2.47's built-in ``TimeOtp-*`` fields.

- ``TOTP Seed`` + ``TOTP Settings`` (legacy KeePassXC, TrayTOTP, KeeTrayTOTP):
  ``"30;6"``, ``"30;S"`` (Steam), ``"30;6;https://time.server"`` (a third part, TrayTOTP's
  time-correction URL, is ignored); ``TOTP Settings`` may also hold an ``otpauth://`` URI.
- ``otp`` (KeePassXC, KeeOtp/KeeOtp2, KeeTrayTOTP's KeyUri): an ``otpauth://`` URI
  (KeeTrayTOTP's ``format=Steam`` is Steam) or ``key=…&size=…&step=…&type=…&encoding=…``.
- KeePass 2.47+: ``TimeOtp-Secret-Base32`` (or ``-Secret``, ``-Secret-Hex``,
  ``-Secret-Base64``) with ``TimeOtp-Length``, ``TimeOtp-Period``, ``TimeOtp-Algorithm``.
  ``HmacOtp-*`` (HOTP) gives no code.

Base32 is cleaned as KeePassXC does (``Base32::sanitizeInput``): ``0``/``1``/``8`` read as
``O``/``L``/``B`` and other characters outside the alphabet are dropped. An entry whose
TOTP gives no code keeps its login: :func:`totp_from_attributes` returns the reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from vaults.errors import InvalidTotpSecret
from vaults.totp_core import (
    HOTP_IN_VAULT,
    Base32Rules,
    OtpParams,
    key_to_base32,
    parse_digits,
    parse_totp,
)

if TYPE_CHECKING:
    from vaults.models import TotpSecret

__all__ = [
    "KEEPASSXC_MAX_PERIOD",
    "KEEPASSXC_RULES",
    "TOTP_KEYS",
    "keepassxc_otp_uri",
    "params_from_attributes",
    "totp_from_attributes",
]

KEEPASSXC_MAX_PERIOD = 60
"""KeePassXC clamps the period of an ``otp`` URI to 1–60 s."""

KEEPASSXC_RULES: Final = Base32Rules(
    name="keepassxc", replace=(("0", "O"), ("1", "L"), ("8", "B")), drop_invalid=True
)
"""KeePassXC's ``Base32::sanitizeInput`` (src/core/Base32.cpp), as data."""

_SECRET_FIELDS: Final = (
    ("TimeOtp-Secret-Base32", "base32"),
    ("TimeOtp-Secret-Hex", "hex"),
    ("TimeOtp-Secret-Base64", "base64"),
    ("TimeOtp-Secret", "utf8"),
)
_HOTP_FIELDS: Final = (
    "HmacOtp-Secret-Base32",
    "HmacOtp-Secret-Hex",
    "HmacOtp-Secret-Base64",
    "HmacOtp-Secret",
)
TOTP_KEYS = frozenset(
    {
        "otp",
        "TOTP Seed",
        "TOTP Settings",
        "TimeOtp-Length",
        "TimeOtp-Period",
        "TimeOtp-Algorithm",
        "HmacOtp-Counter",
        "HmacOtp-Length",
        "HmacOtp-Algorithm",
        *(name for name, _ in _SECRET_FIELDS),
        *_HOTP_FIELDS,
    }
)
_ALGORITHMS = {"HMAC-SHA-1": "SHA1", "HMAC-SHA-256": "SHA256", "HMAC-SHA-512": "SHA512"}


def _fail(problem: str) -> InvalidTotpSecret:
    return InvalidTotpSecret(f"invalid TOTP secret: {problem}")


def _legacy(seed: str, settings: str | None) -> OtpParams:
    if settings and settings.strip().lower().startswith("otpauth://"):
        return parse_totp(settings, KEEPASSXC_RULES)
    base = parse_totp(seed, KEEPASSXC_RULES)
    if not settings or not settings.strip():
        return base
    parts = [p.strip() for p in settings.strip().split(";")]
    if len(parts) < 2:  # KeePassXC ignores a lone step: default 30 s, 6 digits
        return base
    step_text, size = parts[0], parts[1].upper()
    if size == "S":  # KeePassXC: Steam is 30 s and 5 characters whatever the step says
        return base._replace(period=30, digits=5, encoder="steam")
    try:
        period = int(step_text)
    except ValueError:
        raise _fail("TOTP Settings: the step must be a number") from None
    if period < 1:
        raise _fail("TOTP Settings: the step must be positive")
    digits = parse_digits(size, "TOTP Settings digits") if size else 6
    return base._replace(period=period, digits=digits)


def _keepass_builtin(attrs: Mapping[str, str]) -> OtpParams:
    for name, encoding in _SECRET_FIELDS:
        raw = attrs.get(name, "")
        if not raw.strip():
            continue
        if encoding == "base32":
            base = parse_totp(raw, KEEPASSXC_RULES)
        else:
            base = OtpParams(secret=key_to_base32(raw, encoding))
        return _with_keepass_settings(base, attrs)
    raise _fail("the TimeOtp secret is empty")


def _with_keepass_settings(base: OtpParams, attrs: Mapping[str, str]) -> OtpParams:
    update: dict[str, Any] = {}
    if attrs.get("TimeOtp-Length", "").strip():
        update["digits"] = parse_digits(attrs["TimeOtp-Length"], "TimeOtp-Length")
    if attrs.get("TimeOtp-Period", "").strip():
        try:
            period = int(attrs["TimeOtp-Period"])
        except ValueError:
            raise _fail("TimeOtp-Period is not a number") from None
        if period < 1:
            raise _fail("TimeOtp-Period must be positive")
        update["period"] = period
    if attrs.get("TimeOtp-Algorithm", "").strip():
        name = attrs["TimeOtp-Algorithm"].strip().upper()
        if name not in _ALGORITHMS:
            raise _fail("TimeOtp-Algorithm must be HMAC-SHA-1, HMAC-SHA-256 or HMAC-SHA-512")
        update["algorithm"] = _ALGORITHMS[name]
    return base._replace(**update) if update else base


def _parse(attrs: Mapping[str, str]) -> OtpParams | None:
    if "TOTP Settings" in attrs and (
        attrs.get("TOTP Seed", "").strip()
        or attrs["TOTP Settings"].strip().lower().startswith("otpauth://")
    ):
        return _legacy(attrs.get("TOTP Seed", ""), attrs.get("TOTP Settings"))
    if attrs.get("otp", "").strip():
        return parse_totp(attrs["otp"], KEEPASSXC_RULES)
    if attrs.get("TOTP Seed", "").strip():  # a seed without settings: 30 s, 6 digits
        return _legacy(attrs["TOTP Seed"], None)
    if any(attrs.get(name, "").strip() for name, _ in _SECRET_FIELDS):
        return _keepass_builtin(attrs)
    if any(attrs.get(name, "").strip() for name in _HOTP_FIELDS):
        raise _fail(HOTP_IN_VAULT)
    return None


def keepassxc_otp_uri(secret: TotpSecret, title: str, username: str) -> str:
    """The ``otp`` value KeePassXC writes: ``otpauth://totp/ISSUER:ACCOUNT?secret=…&period=…
    &digits=…&issuer=…`` (+ ``encoder=steam``, ``algorithm=`` when not SHA1). The issuer and
    account come from the secret (a setup QR code's), else the entry's title and username
    (KeePassXC: "KeePassXC" for an empty title, "none" for an empty username)."""
    issuer = secret.issuer or title or "KeePassXC"
    account = secret.account or username or "none"
    query = [
        ("secret", secret.secret.get_secret_value()),
        ("period", str(secret.period)),
        ("digits", str(secret.digits)),
        ("issuer", issuer),
    ]
    if secret.encoder == "steam":
        query.append(("encoder", "steam"))
    if secret.algorithm != "SHA1":
        query.append(("algorithm", secret.algorithm))
    label = quote(f"{issuer}:{account}", safe=":@")
    return f"otpauth://totp/{label}?" + "&".join(f"{k}={quote(v, safe='')}" for k, v in query)


def params_from_attributes(attrs: Mapping[str, str]) -> tuple[OtpParams | None, str | None]:
    """``(params, None)`` from whichever convention the entry uses, ``(None, None)`` without
    TOTP, or ``(None, why)`` when its TOTP gives no code (safe text, never the secret)."""
    try:
        return _parse(attrs), None
    except InvalidTotpSecret as exc:
        return None, exc.message.removeprefix("invalid TOTP secret: ")


def totp_from_attributes(attrs: Mapping[str, str]) -> tuple[TotpSecret | None, str | None]:
    """:func:`params_from_attributes` as the public :class:`~vaults.models.TotpSecret`."""
    from vaults.totp import secret_model

    params, why = params_from_attributes(attrs)
    return (secret_model(params) if params is not None else None), why
