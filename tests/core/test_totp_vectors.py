"""Published TOTP test vectors: RFC 6238 Appendix B, the Key-Uri-Format wiki examples and
Bitwarden's sdk-internal vectors. Expected values are written out here (facts from the
specifications), not read from the reference files."""

from __future__ import annotations

import pytest

from vaults.totp import code_at, parse_secret
from vaults.totp_core import code_for_counter, parse_params

# RFC 6238 Appendix B: the seeds are the ASCII strings "1234567890" repeated to 20, 32 and
# 64 bytes; T0 = 0, X = 30, 8 digits.
RFC_SEEDS = {
    "SHA1": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    "SHA256": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA====",
    "SHA512": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA=",
}
RFC_ROWS = [
    (59, "SHA1", "94287082"),
    (59, "SHA256", "46119246"),
    (59, "SHA512", "90693936"),
    (1111111109, "SHA1", "07081804"),
    (1111111109, "SHA256", "68084774"),
    (1111111109, "SHA512", "25091201"),
    (1111111111, "SHA1", "14050471"),
    (1111111111, "SHA256", "67062674"),
    (1111111111, "SHA512", "99943326"),
    (1234567890, "SHA1", "89005924"),
    (1234567890, "SHA256", "91819424"),
    (1234567890, "SHA512", "93441116"),
    (2000000000, "SHA1", "69279037"),
    (2000000000, "SHA256", "90698825"),
    (2000000000, "SHA512", "38618901"),
    (20000000000, "SHA1", "65353130"),
    (20000000000, "SHA256", "77737706"),
    (20000000000, "SHA512", "47863826"),
]


def test_all_eighteen_rows_are_here() -> None:
    assert len(RFC_ROWS) == 18
    assert len({(t, mode) for t, mode, _ in RFC_ROWS}) == 18


@pytest.mark.parametrize(("at", "mode", "expected"), RFC_ROWS)
def test_rfc6238_appendix_b(at: int, mode: str, expected: str) -> None:
    uri = f"otpauth://totp/RFC6238:{mode}?secret={RFC_SEEDS[mode]}&algorithm={mode}&digits=8"
    code = code_at(uri, at)
    assert code.code == expected
    assert code.valid_from == at // 30 * 30
    assert code.valid_until == code.valid_from + 30
    assert code.digits == 8
    # the pydantic-free core (the CLI fast path) gives the same code
    assert code_for_counter(parse_params(uri), at // 30) == expected


@pytest.mark.parametrize(("at", "expected"), [(59, "287082"), (1111111109, "081804")])
def test_rfc_sha1_seed_as_raw_six_digit_secret(at: int, expected: str) -> None:
    """Six digits are the last six of the eight (same truncated value, smaller modulus)."""
    assert code_at(RFC_SEEDS["SHA1"], at).code == expected


# Key-Uri-Format wiki examples and edge cases (codes from the RFC 6238 algorithm).
JBSWY_CODES = {59: "996554", 1111111109: "071271", 1234567890: "742275", 1672531200: "082136"}
ACME_CODES = {59: "320382", 1111111109: "362012", 1234567890: "566657", 1672531200: "525939"}
TEST_PADDED_CODES = {59: "467315", 1111111109: "909341", 1234567890: "347035", 1672531200: "108172"}
ACME_SHA256_8_60 = {59: "65469948", 1111111109: "95713611", 1234567890: "67500123"}
ACME_SHA512_8 = {59: "90950657", 1111111109: "78619027", 1234567890: "75008811"}

URI_CASES = [
    (
        "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        ("Example", "alice@google.com", "SHA1", 6, 30),
        JBSWY_CODES,
    ),
    (
        "otpauth://totp/ACME%20Co:john.doe@email.com?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
        "&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30",
        ("ACME Co", "john.doe@email.com", "SHA1", 6, 30),
        ACME_CODES,
    ),
    (
        "otpauth://totp/Big%20Corporation%3A%20alice%40bigco.com?secret=JBSWY3DPEHPK3PXP"
        "&issuer=Big%20Corporation",
        ("Big Corporation", "alice@bigco.com", "SHA1", 6, 30),
        JBSWY_CODES,
    ),
    (
        "otpauth://totp/alice@example.com?secret=jbswy3dpehpk3pxp",
        (None, "alice@example.com", "SHA1", 6, 30),
        JBSWY_CODES,
    ),
    (
        "otpauth://totp/test:lkj?secret=TEST%3D%3D%3D%3D&period=30&digits=6&issuer=test",
        ("test", "lkj", "SHA1", 6, 30),
        TEST_PADDED_CODES,
    ),
    (
        "otpauth://totp/ACME:bob?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME"
        "&algorithm=SHA256&digits=8&period=60",
        ("ACME", "bob", "SHA256", 8, 60),
        ACME_SHA256_8_60,
    ),
    (
        "otpauth://totp/ACME:bob?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&issuer=ACME"
        "&algorithm=SHA512&digits=8",
        ("ACME", "bob", "SHA512", 8, 30),
        ACME_SHA512_8,
    ),
]


@pytest.mark.parametrize(("uri", "parsed", "codes"), URI_CASES)
def test_key_uri_format_examples(
    uri: str, parsed: tuple[str | None, str, str, int, int], codes: dict[int, str]
) -> None:
    secret = parse_secret(uri)
    issuer, account, algorithm, digits, period = parsed
    assert (secret.issuer, secret.account) == (issuer, account)
    assert (secret.algorithm, secret.digits, secret.period) == (algorithm, digits, period)
    for at, expected in codes.items():
        assert code_at(secret, at).code == expected, at


RAW_CASES = [
    ("JBSWY3DPEHPK3PXP", JBSWY_CODES),
    ("jbswy3dpehpk3pxp", JBSWY_CODES),
    ("JBSW Y3DP EHPK 3PXP", JBSWY_CODES),
    ("JBSWY3DPEHPK3PXP====", JBSWY_CODES),
    ("jbsw-y3dp-ehpk-3pxp", JBSWY_CODES),
    ("JBSWY3DPEHPK3PXP%3D%3D%3D%3D", JBSWY_CODES),
    ("  JBSWY3DPEHPK3PXP\n", JBSWY_CODES),
    ("TEST", TEST_PADDED_CODES),
    ("TEST====", TEST_PADDED_CODES),
    ("test%3d%3d%3d%3d", TEST_PADDED_CODES),
]


@pytest.mark.parametrize(("raw", "codes"), RAW_CASES)
def test_lenient_raw_base32(raw: str, codes: dict[int, str]) -> None:
    for at, expected in codes.items():
        assert code_at(raw, at).code == expected, at


def test_eighty_bit_secret_works() -> None:
    """JBSWY3DPEHPK3PXP is 10 bytes (under pyotp's 112-bit floor) and real sites issue it."""
    secret = parse_secret("JBSWY3DPEHPK3PXP")
    assert secret.secret.get_secret_value() == "JBSWY3DPEHPK3PXP"
    assert code_at(secret, 59).code == "996554"


# Bitwarden sdk-internal vectors at 2023-01-01T00:00:00Z.
BW_TIME = 1672531200
BW_RAW = [
    ("WQIQ25BRKZYCJVYP", "194506"),
    ("wqiq25brkzycjvyp", "194506"),
    ("PIUDISEQYA", "829846"),
    ("PIUDISEQYA======", "829846"),
    ("steam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ", "7W6CJ"),
    ("StEam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ", "7W6CJ"),
    ("ddfdf", "932653"),  # 25 bits: the trailing bit is ignored
    ("HJSGFJHDFDJDJKSDFD", "000034"),  # zero-padded to six digits
    ("xvdsfasdfasdasdghsgsdfg", "403786"),
]
BW_URIS = [
    ("otpauth://totp/test-account?secret=WQIQ25BRKZYCJVYP", "194506", 30),
    ("OTPauth://totp/test-account?secret=WQIQ25BRKZYCJVYP", "194506", 30),
    ("otpauth://totp/test-account?secret=WQIQ25BRKZYCJVYP&period=60", "730364", 60),
    ("otpauth://totp/test-account?secret=WQIQ25BRKZYCJVYP&algorithm=SHA256", "842615", 30),
]


@pytest.mark.parametrize(("raw", "expected"), BW_RAW)
def test_bitwarden_raw_key_vectors(raw: str, expected: str) -> None:
    assert code_at(raw, BW_TIME).code == expected


@pytest.mark.parametrize(("uri", "expected", "period"), BW_URIS)
def test_bitwarden_otpauth_vectors(uri: str, expected: str, period: int) -> None:
    code = code_at(uri, BW_TIME)
    assert (code.code, code.period) == (expected, period)
    assert code.valid_from == BW_TIME // period * period


BW_LABELS = [
    ("otpauth://totp/?secret=WQIQ25BRKZYCJVYP", None, None),
    (
        "otpauth://totp/test-account@example.com?secret=WQIQ25BRKZYCJVYP",
        None,
        "test-account@example.com",
    ),
    (
        "otpauth://totp/test-issuer:test-account@example.com?secret=WQIQ25BRKZYCJVYP",
        "test-issuer",
        "test-account@example.com",
    ),
    (  # the issuer parameter wins over the label prefix
        "otpauth://totp/test-issuer:test-account@example.com?secret=WQIQ25BRKZYCJVYP"
        "&issuer=other-test-issuer",
        "other-test-issuer",
        "test-account@example.com",
    ),
    (
        "otpauth://totp/test-issuer%3Atest-account@example.com?secret=WQIQ25BRKZYCJVYP"
        "&issuer=test-issuer",
        "test-issuer",
        "test-account@example.com",
    ),
    (
        "otpauth://totp/test%20issuer:test-account%40example%2Ecom?secret=WQIQ25BRKZYCJVYP"
        "&issuer=test%20issuer",
        "test issuer",
        "test-account@example.com",
    ),
]


@pytest.mark.parametrize(("uri", "issuer", "account"), BW_LABELS)
def test_label_parsing(uri: str, issuer: str | None, account: str | None) -> None:
    secret = parse_secret(uri)
    assert (secret.issuer, secret.account) == (issuer, account)
    assert code_at(secret, BW_TIME).code == "194506"
