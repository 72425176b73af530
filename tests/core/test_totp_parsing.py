"""parse_secret: every accepted format and parameter, and every rejection (never echoing
the secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import traceback

import pytest
from pydantic import SecretStr

from tests.core.conftest import CANARY, CANARY_SECRET, no_fragment, no_leak
from vaults.errors import InvalidInput, InvalidTotpSecret, VaultsError
from vaults.totp import code_at, parse_secret
from vaults.totp_core import STEAM_ALPHABET, parse_params

HX = "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"


def reference_code(secret_b32: str, at: int, *, algorithm: str, digits: int, period: int) -> str:
    """RFC 6238 straight from the definition (HMAC, dynamic truncation, modulus)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    mac = hmac.new(key, (at // period).to_bytes(8, "big"), getattr(hashlib, algorithm)).digest()
    offset = mac[-1] & 0x0F
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


@pytest.mark.parametrize(
    ("uri", "issuer", "account"),
    [
        ("otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP", "GitHub", "octo"),
        ("otpauth://totp/octo?secret=JBSWY3DPEHPK3PXP&issuer=GitHub", "GitHub", "octo"),
        ("otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP&issuer=GitHub", "GitHub", "octo"),
        ("otpauth://totp/Label:octo?secret=JBSWY3DPEHPK3PXP&issuer=Param", "Param", "octo"),
        ("otpauth://totp/GitHub%3A%20octo%40x.test?secret=JBSWY3DP", "GitHub", "octo@x.test"),
        ("otpauth://totp/Caf%C3%A9%20Bank:j%C3%BCrgen?secret=JBSWY3DP", "Café Bank", "jürgen"),
        ("otpauth://totp/?secret=JBSWY3DPEHPK3PXP&issuer=Only%20Issuer", "Only Issuer", None),
        ("otpauth://totp?secret=JBSWY3DPEHPK3PXP", None, None),
        ("otpauth://TOTP/X:y?SECRET=JBSWY3DPEHPK3PXP", "X", "y"),
    ],
)
def test_issuer_in_label_and_or_parameter(
    uri: str, issuer: str | None, account: str | None
) -> None:
    secret = parse_secret(uri)
    assert (secret.issuer, secret.account) == (issuer, account)
    if secret.secret.get_secret_value() == "JBSWY3DPEHPK3PXP":
        assert code_at(secret, 59).code == "996554"


@pytest.mark.parametrize(
    ("value", "algorithm"),
    [
        ("SHA1", "SHA1"),
        ("sha1", "SHA1"),
        ("Sha256", "SHA256"),
        ("sHa512", "SHA512"),
        ("SHA-256", "SHA256"),
        ("HMAC-SHA-512", "SHA512"),
        ("hmacsha1", "SHA1"),
    ],
)
def test_algorithm_any_letter_case(value: str, algorithm: str) -> None:
    secret = parse_secret(f"otpauth://totp/x?secret={HX}&algorithm={value}&digits=8")
    assert secret.algorithm == algorithm
    expected = reference_code(HX, 1234567890, algorithm=algorithm.lower(), digits=8, period=30)
    assert code_at(secret, 1234567890).code == expected


@pytest.mark.parametrize("digits", [4, 5, 6, 7, 8, 9, 10])
@pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
def test_digits_four_to_ten(digits: int, algorithm: str) -> None:
    uri = f"otpauth://totp/x?secret={HX}&digits={digits}&algorithm={algorithm}"
    for at in (59, 1111111109, 2000000000):
        code = code_at(uri, at)
        assert len(code.code) == digits and code.code.isdigit()
        assert code.code == reference_code(
            HX, at, algorithm=algorithm.lower(), digits=digits, period=30
        )


@pytest.mark.parametrize("digits", ["3", "11", "0", "-6", "eight", "6.5"])
def test_digits_out_of_range_rejected(digits: str) -> None:
    with pytest.raises(InvalidTotpSecret, match="digits"):
        parse_secret(f"otpauth://totp/x?secret={HX}&digits={digits}")


@pytest.mark.parametrize("period", [1, 15, 30, 45, 60, 90, 120, 180, 300, 3600])
def test_any_positive_period(period: int) -> None:
    uri = f"otpauth://totp/x?secret={HX}&period={period}"
    at = 1_700_000_123
    code = code_at(uri, at)
    assert code.period == period
    assert code.valid_from == at // period * period <= at < code.valid_until
    assert code.valid_until - code.valid_from == period
    assert code.code == reference_code(HX, at, algorithm="sha1", digits=6, period=period)


@pytest.mark.parametrize("period", ["0", "-30", "thirty", "1.5"])
def test_period_must_be_a_positive_whole_number(period: str) -> None:
    with pytest.raises(InvalidTotpSecret, match="period"):
        parse_secret(f"otpauth://totp/x?secret={HX}&period={period}")


def test_blank_optional_parameters_mean_defaults() -> None:
    secret = parse_secret(f"otpauth://totp/x?secret={HX}&digits=&period=&algorithm=")
    assert (secret.algorithm, secret.digits, secret.period) == ("SHA1", 6, 30)


# -- Steam Guard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stored",
    [
        f"steam://{HX}",
        f"STEAM://{HX.lower()}",
        f"otpauth://totp/Steam:gaben?secret={HX}&issuer=Steam&encoder=steam",
        f"otpauth://totp/Steam:gaben?secret={HX}&encoder=Steam&digits=8",
    ],
)
def test_steam_forms(stored: str) -> None:
    secret = parse_secret(stored)
    assert secret.encoder == "steam"
    assert secret.digits == 5
    code = code_at(secret, 1672531200)
    assert code.code == "7W6CJ"
    assert code.digits == 5


def test_steam_codes_use_only_the_steam_alphabet() -> None:
    seen: set[str] = set()
    for window in range(400):
        code = code_at(f"steam://{HX}", window * 30).code
        assert len(code) == 5
        assert set(code) <= set(STEAM_ALPHABET)
        seen.update(code)
    assert len(seen) > 20  # the whole alphabet is in use, not just digits


def test_steam_short_secret() -> None:
    assert code_at("steam://ABCD234", 1672531200).code != ""
    assert set(code_at("steam://ABCD234", 1672531200).code) <= set(STEAM_ALPHABET)


# -- KeeOtp ------------------------------------------------------------------------------


def test_keeotp_settings() -> None:
    secret = parse_secret(f"key={HX}&size=8&step=60&otpHashMode=SHA256")
    assert (secret.algorithm, secret.digits, secret.period) == ("SHA256", 8, 60)
    expected = reference_code(HX, 1234567890, algorithm="sha256", digits=8, period=60)
    assert code_at(secret, 1234567890).code == expected


# -- round trip --------------------------------------------------------------------------


def test_to_uri_round_trips() -> None:
    original = parse_secret(
        f"otpauth://totp/ACME%20Co:bob%40x.test?secret={HX}&issuer=ACME%20Co"
        "&algorithm=sha512&digits=8&period=45"
    )
    again = parse_secret(original.to_uri())
    assert again == original
    steam = parse_secret(f"steam://{HX}")
    again_steam = parse_secret(steam.to_uri())
    assert again_steam.model_copy(update={"account": None}) == steam  # label placeholder
    assert code_at(again_steam, 1672531200).code == "7W6CJ"


def test_secretstr_input() -> None:
    assert code_at(SecretStr("JBSWY3DPEHPK3PXP"), 59).code == "996554"


# -- rejections --------------------------------------------------------------------------

BAD = [
    ("", "empty"),
    ("   ", "empty"),
    (f"{CANARY_SECRET}!", "base32"),
    (f"{CANARY_SECRET}0189", "base32"),
    (f"{CANARY_SECRET}=={CANARY_SECRET}", "base32"),
    ("A", "too short"),
    (f"otpauth://totp/{CANARY}:x?issuer=y", "no secret"),
    (f"otpauth://totp/{CANARY}:x?secret=&issuer=y", "no secret"),
    (f"otpauth://totp/x?secret={CANARY_SECRET}&algorithm=MD5", "algorithm"),
    (f"otpauth://totp/x?secret={CANARY_SECRET}&algorithm=SHA3-256", "algorithm"),
    (f"otpauth://totp/x?secret={CANARY_SECRET}&digits=3", "digits"),
    (f"otpauth://totp/x?secret={CANARY_SECRET}&digits=11", "digits"),
    (f"otpauth://hotp/x?secret={CANARY_SECRET}", "counter"),
    (f"otpauth://totp/x?secret={CANARY_SECRET}&encoder=yandex", "Yandex"),
    (f"otpauth://yandex/x?secret={CANARY_SECRET}", "Yandex"),
    (f"motp://x?secret={CANARY_SECRET}", "mOTP"),
    (f"otpauth://totp/x?secret={CANARY_SECRET}&encoder=rot13", "encoder"),
    (f"otpauth://{CANARY_SECRET}?secret={CANARY_SECRET}", "type"),
    (f"otpauth://[{CANARY_SECRET}/x?secret={CANARY_SECRET}", "malformed"),
    (f"otpauth://totp/x?secret={CANARY_SECRET}%21", "base32"),
    (f"https://example.test/?secret={CANARY_SECRET}", "scheme"),
    ("steam://", "empty"),
    (f"key={CANARY_SECRET}&size=11", "digits"),
    ("key=&size=6", "no key"),
]


@pytest.mark.parametrize(("raw", "problem"), BAD)
def test_bad_input_names_the_problem_and_never_echoes_the_secret(raw: str, problem: str) -> None:
    for parse in (parse_secret, parse_params):
        with pytest.raises(InvalidTotpSecret) as info:
            parse(raw)
        exc = info.value
        assert isinstance(exc, InvalidInput) and isinstance(exc, VaultsError)
        assert exc.exit_code == 2
        assert problem.lower() in str(exc).lower()
        formatted = "".join(traceback.format_exception(exc))
        no_leak([str(exc), repr(exc), exc.message, formatted], [CANARY_SECRET, CANARY])
        no_fragment([str(exc), formatted], CANARY_SECRET)


def test_non_text_rejected() -> None:
    with pytest.raises(InvalidTotpSecret):
        parse_params(12345)  # type: ignore[arg-type]


@pytest.mark.parametrize("at", [-1, float("nan"), float("inf"), 1e300])
def test_bad_time_rejected(at: float) -> None:
    with pytest.raises(InvalidTotpSecret, match="time"):
        code_at("JBSWY3DPEHPK3PXP", at)


def test_parsed_secret_repr_hides_the_secret() -> None:
    secret = parse_secret(f"otpauth://totp/Acme:bob?secret={CANARY_SECRET}&issuer=Acme")
    params = parse_params(f"otpauth://totp/Acme:bob?secret={CANARY_SECRET}&issuer=Acme")
    no_leak([repr(secret), str(secret), secret.model_dump_json(), repr(params)], [CANARY])
    assert secret.secret.get_secret_value() == CANARY_SECRET
    assert CANARY_SECRET in secret.to_uri()
