"""Property tests: parsing never fails with anything but InvalidTotpSecret, the
pydantic-free core and the pydantic engine agree, and codes match pyotp."""

from __future__ import annotations

import base64
import hashlib
import string

import pyotp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaults.errors import InvalidTotpSecret
from vaults.totp import code_at, code_for_entry, parse_secret
from vaults.totp_core import code_for_counter, parse_params

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
PREFIXES = [
    "",
    "otpauth://",
    "otpauth://totp/",
    "otpauth://hotp/",
    "steam://",
    "key=",
    "otpauth://[",
]
PARAMS = ["secret", "algorithm", "digits", "period", "issuer", "encoder", "size", "step"]


@st.composite
def stored_secrets(draw: st.DrawFn) -> str:
    """Text shaped like stored secrets, plus noise (arbitrary unicode)."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.text(max_size=80))
    if kind == 1:
        return draw(st.sampled_from(PREFIXES)) + draw(st.text(max_size=60))
    if kind == 2:
        return draw(st.sampled_from(PREFIXES)) + draw(
            st.text(alphabet=B32 + B32.lower() + " -=%3D_!", max_size=50)
        )
    pairs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(PARAMS),
                st.text(alphabet=string.printable + "é日", max_size=20),
            ),
            max_size=6,
        )
    )
    query = "&".join(f"{k}={v}" for k, v in pairs)
    return f"{draw(st.sampled_from(PREFIXES))}{draw(st.text(max_size=10))}?{query}"


@SETTINGS
@given(stored_secrets())
def test_parsing_raises_only_invalid_totp_secret(raw: str) -> None:
    for parse in (parse_params, parse_secret):
        try:
            parsed = parse(raw)
        except InvalidTotpSecret:
            continue
        # whatever parses must produce a code
        code_at(parse_secret(raw), 1_700_000_000)
        assert parsed is not None


@SETTINGS
@given(stored_secrets(), st.integers(0, 10**11))
def test_core_and_engine_agree(raw: str, at: int) -> None:
    try:
        params = parse_params(raw)
    except InvalidTotpSecret:
        try:
            parse_secret(raw)
        except InvalidTotpSecret:
            return
        raise AssertionError("the engine accepted what the core refused") from None
    secret = parse_secret(raw)
    assert secret.secret.get_secret_value() == params.secret
    assert (secret.algorithm, secret.digits, secret.period, secret.encoder) == (
        params.algorithm,
        params.digits,
        params.period,
        params.encoder,
    )
    assert (secret.issuer, secret.account) == (params.issuer, params.account)
    assert code_at(secret, at).code == code_for_counter(params, at // params.period)


@st.composite
def otp_uris(draw: st.DrawFn) -> tuple[str, bytes, str, int, int]:
    key = draw(st.binary(min_size=14, max_size=70))
    algorithm = draw(st.sampled_from(["SHA1", "SHA256", "SHA512"]))
    digits = draw(st.integers(6, 10))
    period = draw(st.integers(1, 120))  # pyotp's own limit
    b32 = base64.b32encode(key).decode().rstrip("=")
    if draw(st.booleans()):
        b32 = b32.lower()
    uri = f"otpauth://totp/x?secret={b32}&algorithm={algorithm}&digits={digits}&period={period}"
    return uri, key, algorithm, digits, period


@SETTINGS
@given(otp_uris(), st.integers(0, 253402300799))
def test_codes_match_pyotp(case: tuple[str, bytes, str, int, int], at: int) -> None:
    uri, key, algorithm, digits, period = case
    expected = pyotp.TOTP(
        base64.b32encode(key).decode(),
        digits=digits,
        digest=getattr(hashlib, algorithm.lower()),
        interval=period,
    ).at(at)
    assert code_at(uri, at).code == expected
    assert code_for_counter(parse_params(uri), at // period) == expected


@SETTINGS
@given(
    otp_uris(),
    st.floats(0, 1e11, allow_nan=False),
    st.floats(0, 200, allow_nan=False),
)
def test_entry_rule_invariants(
    case: tuple[str, bytes, str, int, int], now: float, min_remaining: float
) -> None:
    uri, _, _, _, period = case
    code = code_for_entry(uri, now, min_remaining)
    current = code_at(uri, now)
    assert code.valid_until - code.valid_from == period
    if current.valid_until - now >= min_remaining:
        assert code == current
    else:
        assert code.valid_from == current.valid_until
