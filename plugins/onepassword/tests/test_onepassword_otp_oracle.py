"""The doubles' own TOTP code must be right, or every comparison against it is worthless."""

import base64

import pyotp
import pytest
from vaults_onepassword.testing.otp_oracle import OtpParams, code_at, current_code, parse_otp

# RFC 6238 Appendix B (8 digits); the seeds are the ASCII strings of the RFC.
RFC_KEYS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC_VECTORS = [
    (59, "SHA1", "94287082"),
    (59, "SHA256", "46119246"),
    (59, "SHA512", "90693936"),
    (1111111109, "SHA1", "07081804"),
    (1234567890, "SHA256", "91819424"),
    (2000000000, "SHA512", "38618901"),
    (20000000000, "SHA1", "65353130"),
]


@pytest.mark.parametrize(("at", "algorithm", "expected"), RFC_VECTORS)
def test_rfc6238_vectors(at: int, algorithm: str, expected: str) -> None:
    params = OtpParams(RFC_KEYS[algorithm], algorithm, digits=8)
    assert code_at(params, at) == expected


def test_otpauth_uri_parameters_are_honoured() -> None:
    key = base64.b32encode(b"0123456789abcdef0123").decode().rstrip("=")
    uri = f"otpauth://totp/Bank:jane?secret={key}&algorithm=SHA512&digits=8&period=60"
    expected = pyotp.TOTP(key, digits=8, digest="sha512", interval=60).at(1_700_000_000)
    assert current_code(uri, at=1_700_000_000) == expected


def test_raw_secret_is_lenient_about_case_spaces_and_padding() -> None:
    key = base64.b32encode(b"0123456789abcdef0123").decode()
    spaced = " ".join(key.lower()[i : i + 4] for i in range(0, len(key), 4))
    assert current_code(spaced, at=1234) == pyotp.TOTP(key.rstrip("=")).at(1234)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not base32 !!",
        "otpauth://hotp/x?secret=JBSWY3DP",
        "otpauth://totp/x?digits=6",
        "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
    ],
)
def test_unreadable_secrets_give_no_code(raw: str) -> None:
    assert parse_otp(raw) is None
    assert current_code(raw) is None
