"""The TOTP engine: parse every secret format real vaults store, compute RFC 6238 codes.

Formats (see :mod:`vaults.totp_core`): raw base32 (lenient), ``otpauth://totp/…``
URIs, Steam Guard (``steam://SECRET``, ``encoder=steam``) and KeeOtp settings.
:func:`code_for_entry` applies the entry rule: fewer than ``min_remaining`` seconds left
in the window means the next window's code.
"""

from __future__ import annotations

import time

from pydantic import SecretStr

from vaults.lease import CodeLease  # re-exported: its home before vaults.lease
from vaults.models import TotpCode, TotpSecret
from vaults.totp_core import (
    DEFAULT_MIN_REMAINING,
    DEFAULT_RULES,
    HOTP_IN_VAULT,
    MAX_TIME,
    SECRET_SETTINGS,
    Base32Rules,
    Generator,
    OtpParams,
    check_time,
    entry_counter,
    generator,
    parse_totp,
    totp_or_error,
)

__all__ = [
    "DEFAULT_MIN_REMAINING",
    "DEFAULT_RULES",
    "HOTP_IN_VAULT",
    "MAX_TIME",
    "Base32Rules",
    "CodeLease",
    "code_at",
    "code_for_entry",
    "parse_secret",
    "secret_model",
    "secret_or_error",
]


def parse_secret(raw: str | SecretStr, rules: Base32Rules = DEFAULT_RULES) -> TotpSecret:
    """Parse a stored TOTP secret in any supported format.

    ``rules`` is the vault's own base32 clean-up (plugins pass theirs). Raises
    :class:`~vaults.errors.InvalidTotpSecret` naming the problem (never the secret); an
    ``otpauth://hotp/`` secret is refused too (its counter lives nowhere we could update).
    """
    text = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
    return secret_model(parse_totp(text, rules))


def secret_model(params: OtpParams) -> TotpSecret:
    """The public model of parsed secret ``params``."""
    settings = {name: getattr(params, name) for name in SECRET_SETTINGS}
    return TotpSecret(secret=SecretStr(params.secret), **settings)


def secret_or_error(
    raw: str | SecretStr | None, rules: Base32Rules = DEFAULT_RULES
) -> tuple[TotpSecret | None, str | None]:
    """For backends: ``(secret, None)``, or ``(None, why)`` when no code can be made.

    The credential is still returned (``Credential(totp_secret=…, totp_error=…)``): an
    unusable TOTP secret never costs the user the username and password. ``why`` is safe
    to show (it never holds the secret). Empty or missing ``raw`` gives ``(None, None)``.
    """
    text = raw.get_secret_value() if isinstance(raw, SecretStr) else raw
    params, why = totp_or_error(text, rules)
    return (secret_model(params) if params is not None else None), why


_Key = tuple[str, str, int, int, str | None]
_GENERATORS: dict[_Key, Generator] = {}


def _generator(secret: TotpSecret) -> Generator:
    """The cached generator of ``secret`` (the hot path: no dataclass built per code)."""
    key: _Key = (
        secret.secret.get_secret_value(),
        secret.algorithm,
        secret.digits,
        secret.period,
        secret.encoder,
    )
    found = _GENERATORS.get(key)
    if found is None:
        found = generator(secret.to_params())
        if len(_GENERATORS) > 1024:
            _GENERATORS.clear()
        _GENERATORS[key] = found
    return found


def _code_for_window(secret: TotpSecret, counter: int) -> TotpCode:
    period = secret.period
    code = TotpCode(
        code=_generator(secret)(counter),
        valid_from=counter * period,
        valid_until=(counter + 1) * period,
        period=period,
        digits=secret.digits,
    )
    code._secret = secret
    return code


def _secret(secret: TotpSecret | str | SecretStr) -> TotpSecret:
    return secret if isinstance(secret, TotpSecret) else parse_secret(secret)


def _now(at: float | None) -> float:
    return check_time(time.time() if at is None else at)


def code_at(secret: TotpSecret | str | SecretStr, at: float | None = None) -> TotpCode:
    """The exact code for time ``at`` (epoch seconds; now by default). No skip rule."""
    parsed = _secret(secret)
    return _code_for_window(parsed, int(_now(at) // parsed.period))


def code_for_entry(
    secret: TotpSecret | str | SecretStr,
    now: float | None = None,
    min_remaining: float = DEFAULT_MIN_REMAINING,
) -> TotpCode:
    """The code to type now: when fewer than ``min_remaining`` seconds are left in the
    current window, the next window's code (``valid_from``/``valid_until`` describe the
    window actually returned)."""
    parsed = _secret(secret)
    return _code_for_window(parsed, entry_counter(parsed.period, _now(now), min_remaining))
