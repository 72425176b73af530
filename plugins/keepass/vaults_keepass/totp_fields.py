"""Where KeePass and its plugins store TOTP secrets, turned into one :class:`TotpSecret`.

- KeePassXC: the ``otp`` attribute, an ``otpauth://`` URI or KeeOtp ``key=…&size=…&step=…``.
- Legacy KeePassXC / TrayTOTP: ``TOTP Seed`` (base32) + ``TOTP Settings`` (``"30;6"``,
  ``"30;S"`` for Steam).
- KeePass 2.47+: ``TimeOtp-Secret-Base32`` (or ``-Secret``, ``-Secret-Hex``,
  ``-Secret-Base64``) with ``TimeOtp-Length``, ``TimeOtp-Period``, ``TimeOtp-Algorithm``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from urllib.parse import quote

from pydantic import SecretStr

from vaults.errors import InvalidTotpSecret
from vaults.models import TotpSecret
from vaults.totp import parse_secret

__all__ = ["KEEPASSXC_MAX_PERIOD", "TOTP_KEYS", "keepassxc_otp_uri", "totp_from_attributes"]

KEEPASSXC_MAX_PERIOD = 60
"""KeePassXC clamps the period of an ``otp`` URI to 1–60 s."""

TOTP_KEYS = frozenset(
    {
        "otp",
        "TOTP Seed",
        "TOTP Settings",
        "TimeOtp-Secret-Base32",
        "TimeOtp-Secret",
        "TimeOtp-Secret-Hex",
        "TimeOtp-Secret-Base64",
        "TimeOtp-Length",
        "TimeOtp-Period",
        "TimeOtp-Algorithm",
    }
)

_ALGORITHMS = {"HMAC-SHA-1": "SHA1", "HMAC-SHA-256": "SHA256", "HMAC-SHA-512": "SHA512"}


def _legacy(seed: str, settings: str | None) -> TotpSecret:
    base = parse_secret(seed)
    if not settings or not settings.strip():
        return base
    step_text, _, size_text = settings.strip().partition(";")
    try:
        period = int(step_text)
    except ValueError:
        raise InvalidTotpSecret("invalid TOTP Settings: the step must be a number") from None
    if period < 1:
        raise InvalidTotpSecret("invalid TOTP Settings: the step must be positive")
    size = size_text.strip().upper()
    if size == "S":
        return base.model_copy(update={"period": period, "digits": 5, "encoder": "steam"})
    try:
        digits = int(size) if size else 6
    except ValueError:
        raise InvalidTotpSecret("invalid TOTP Settings: digits must be a number or S") from None
    if not 6 <= digits <= 10:
        raise InvalidTotpSecret(f"invalid TOTP Settings: digits must be 6 to 10, got {digits}")
    return base.model_copy(update={"period": period, "digits": digits})


def _keepass_builtin(attrs: Mapping[str, str]) -> TotpSecret:
    raw: bytes
    try:
        if attrs.get("TimeOtp-Secret-Base32"):
            return _with_keepass_settings(parse_secret(attrs["TimeOtp-Secret-Base32"]), attrs)
        if attrs.get("TimeOtp-Secret-Hex"):
            raw = bytes.fromhex(attrs["TimeOtp-Secret-Hex"].replace(" ", ""))
        elif attrs.get("TimeOtp-Secret-Base64"):
            raw = base64.b64decode(attrs["TimeOtp-Secret-Base64"], validate=True)
        else:
            raw = attrs["TimeOtp-Secret"].encode("utf-8")
    except (ValueError, binascii.Error):
        raise InvalidTotpSecret("invalid TimeOtp secret: it does not decode") from None
    if not raw:
        raise InvalidTotpSecret("invalid TimeOtp secret: it is empty")
    encoded = base64.b32encode(raw).decode("ascii").rstrip("=")
    return _with_keepass_settings(TotpSecret(secret=SecretStr(encoded)), attrs)


def _with_keepass_settings(base: TotpSecret, attrs: Mapping[str, str]) -> TotpSecret:
    update: dict[str, object] = {}
    if attrs.get("TimeOtp-Length"):
        try:
            digits = int(attrs["TimeOtp-Length"])
        except ValueError:
            raise InvalidTotpSecret("invalid TimeOtp-Length: not a number") from None
        if not 6 <= digits <= 10:
            raise InvalidTotpSecret(f"invalid TimeOtp-Length: must be 6 to 10, got {digits}")
        update["digits"] = digits
    if attrs.get("TimeOtp-Period"):
        try:
            period = int(attrs["TimeOtp-Period"])
        except ValueError:
            raise InvalidTotpSecret("invalid TimeOtp-Period: not a number") from None
        if period < 1:
            raise InvalidTotpSecret("invalid TimeOtp-Period: must be positive")
        update["period"] = period
    if attrs.get("TimeOtp-Algorithm"):
        name = attrs["TimeOtp-Algorithm"].strip().upper()
        if name not in _ALGORITHMS:
            raise InvalidTotpSecret(
                "invalid TimeOtp-Algorithm: use HMAC-SHA-1, HMAC-SHA-256 or HMAC-SHA-512"
            )
        update["algorithm"] = _ALGORITHMS[name]
    return base.model_copy(update=update) if update else base


def totp_from_attributes(attrs: Mapping[str, str]) -> TotpSecret | None:
    """The entry's TOTP secret from whichever convention it uses (``otp`` first), or None."""
    if attrs.get("otp", "").strip():
        return parse_secret(attrs["otp"])
    if attrs.get("TOTP Seed", "").strip():
        return _legacy(attrs["TOTP Seed"], attrs.get("TOTP Settings"))
    if any(
        attrs.get(k)
        for k in (
            "TimeOtp-Secret-Base32",
            "TimeOtp-Secret",
            "TimeOtp-Secret-Hex",
            "TimeOtp-Secret-Base64",
        )
    ):
        return _keepass_builtin(attrs)
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
