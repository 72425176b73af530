"""Issue 13: labels, Steam, HOTP, Google Authenticator exports, refused encoders, and an
unusable vault secret that keeps the login (``totp_error``) from the CLI's point of view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.core.conftest import CANARY, CANARY_SECRET, no_leak, one_error_line, run_vaults
from vaults.cli.main import cli
from vaults.errors import InvalidTotpSecret
from vaults.migration import parse_migration
from vaults.models import TotpSecret
from vaults.totp import code_at, parse_secret, secret_or_error
from vaults.totp_core import parse_params

RFC = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
DISCORD_EXPORT = (  # GNOME Authenticator's test vector (tests/data/peers/totp)
    "otpauth-migration://offline?data=CjYKEExyJfPiZeroMa/MdF%2BnkTISE2pvaG5kb2VAZXhhbXBsZS5jb20a"
    "B0Rpc2NvcmQgASgBMAIQARgBIAA%3D"
)
TWO_ACCOUNTS = (  # Bitwarden Authenticator's GoogleImporterTests vector
    "otpauth-migration://offline?data=ChgKCkhlbGxvId6tvu8SBE5hbWUgASgBMAIKGwoMAESNbONNjj/vBKjS"
    "EgVOYW1lMiABKAEwAhACGAEgAA%3D%3D"
)


@pytest.mark.parametrize(
    ("issuer", "account"),
    [
        ("Issuer Two: 100% the Sequel", "person:2@bitwarden.com"),
        ("ACME Co", "a/b?c#d&e=f"),
        ("Ünï: 日本", "jürgen@例え.jp"),
    ],
)
def test_labels_with_colons_round_trip(issuer: str, account: str) -> None:
    uri = TotpSecret(secret=RFC, issuer=issuer, account=account).to_uri()
    assert uri.count(":") == 2  # the scheme's and the separator: colons inside are escaped
    again = parse_secret(uri)
    assert (again.issuer, again.account) == (issuer, account)


def test_issuer_with_encoded_colon_is_not_split_there() -> None:
    parsed = parse_params(
        "otpauth://totp/Issuer%20Two%3A%20100%25:person%40example.test?secret=" + RFC
    )
    assert (parsed.issuer, parsed.account) == ("Issuer Two: 100%", "person@example.test")


@pytest.mark.parametrize(
    "uri",
    [
        f"otpauth://totp/S:u?secret={RFC}&encoder=steam&period=60&digits=8",
        f"otpauth://steam/S:u?secret={RFC}&digits=6&period=15",
        f"otpauth://totp/S:u?secret={RFC}&format=Steam&period=60",  # KeeTrayTOTP's KeyUri
        f"key={RFC}&type=Steam&step=45&size=8",  # KeeOtp2
        f"steam://{RFC}",
    ],
)
def test_steam_is_always_30_s_and_5_characters(uri: str) -> None:
    secret = parse_secret(uri)
    assert (secret.encoder, secret.period, secret.digits) == ("steam", 30, 5)
    assert code_at(secret, 1511200518).code == code_at(f"steam://{RFC}", 1511200518).code


@pytest.mark.parametrize("digits", [4, 5])
def test_four_and_five_digit_codes(digits: int) -> None:
    code = code_at(f"otpauth://totp/x?secret={RFC}&digits={digits}", 1234567890).code
    assert code == "89005924"[-digits:]  # RFC 6238's SHA1 row, truncated


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (f"otpauth://totp/x?secret={CANARY_SECRET}&encoder=yandex", "Yandex"),
        (f"otpauth://yaotp/x?secret={CANARY_SECRET}", "Yandex"),
        (f"motp://x?secret={CANARY_SECRET}", "mOTP"),
        (f"otpauth://motp/x?secret={CANARY_SECRET}", "mOTP"),
        (f"key={CANARY_SECRET}&encoder=yandex", "Yandex"),
    ],
)
def test_unsupported_encoders_are_refused_by_name(raw: str, words: str) -> None:
    with pytest.raises(InvalidTotpSecret) as caught:
        parse_params(raw)
    assert words in caught.value.message and "not supported" in caught.value.message
    no_leak([caught.value.message], [CANARY])


def test_keeotp2_encodings_and_hotp() -> None:
    hex_key = RFC_KEY.hex()
    assert parse_params(f"key={hex_key}&encoding=Hex").secret == RFC
    assert parse_params("key=MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=&encoding=Base64").secret == RFC
    assert parse_params("key=12345678901234567890&encoding=UTF8").secret == RFC
    hotp = parse_params(f"key={RFC}&type=Hotp&counter=7")
    assert (hotp.kind, hotp.counter) == ("hotp", 7)
    with pytest.raises(InvalidTotpSecret, match="HOTP"):
        parse_secret(f"key={RFC}&type=Hotp&counter=7")


RFC_KEY = b"12345678901234567890"


def test_secret_or_error_keeps_the_reason_not_the_secret() -> None:
    assert secret_or_error(None) == (None, None)
    assert secret_or_error("  ") == (None, None)
    secret, problem = secret_or_error(f"otpauth://hotp/x?secret={CANARY_SECRET}&counter=2")
    assert secret is None and problem is not None and "HOTP" in problem
    no_leak([problem], [CANARY])


# -- vaults totp: HOTP and Google Authenticator exports ------------------------------------------
def test_cli_hotp_prints_the_code_for_the_counter_and_says_nothing_increments_it() -> None:
    result = run_vaults("totp", f"otpauth://hotp/x?secret={RFC}&counter=9")
    assert (result.returncode, result.stdout) == (0, "520489\n")  # RFC 4226 Appendix D
    assert "counter 9" in result.stderr and "nothing increments" in result.stderr
    as_json = run_vaults("totp", "--json", f"otpauth://hotp/x?secret={RFC}&counter=1")
    assert json.loads(as_json.stdout) == {
        "code": "287082",
        "type": "hotp",
        "counter": 1,
        "digits": 6,
    }


def test_cli_totp_lists_every_account_of_an_export() -> None:
    result = run_vaults("totp", "-", "--at", "59", stdin=TWO_ACCOUNTS + "\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == ["Name", "Name2"]
    assert lines[0].split()[0] == code_at("JBSWY3DPEHPK3PXP", 59).code
    as_json = run_vaults("totp", "--json", "--at", "59", DISCORD_EXPORT)
    (account,) = json.loads(as_json.stdout)
    assert account["issuer"] == "Discord" and account["name"] == "johndoe@example.com"
    assert account["code"] == code_at("JRZCL47CMXVOQMNPZR2F7J4RGI", 59).code


def test_migration_accounts_become_otpauth_uris() -> None:
    (discord,) = parse_migration(DISCORD_EXPORT)
    assert discord.uri is not None
    secret = parse_secret(discord.uri)
    assert (secret.issuer, secret.account) == ("Discord", "johndoe@example.com")
    assert secret.secret.get_secret_value() == "JRZCL47CMXVOQMNPZR2F7J4RGI"


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        ("otpauth-migration://offline", "no data"),
        ("otpauth-migration://offline?data=!!!", "not base64"),
        ("otpauth-migration://offline?data=CjEKCkhlbGxvIVdvcmxk", "truncated"),
        ("otpauth-migration://offline?data=EAE%3D", "no accounts"),
    ],
)
def test_bad_exports_say_what_is_wrong(uri: str, problem: str) -> None:
    with pytest.raises(InvalidTotpSecret, match=problem):
        parse_migration(uri)
    result = run_vaults("totp", uri)
    assert result.returncode == 2 and "base32" not in one_error_line(result.stderr)


def test_an_export_stored_as_a_vault_secret_is_explained() -> None:
    problem = secret_or_error(DISCORD_EXPORT)[1]
    assert problem is not None and "Google Authenticator export" in problem


def test_md5_accounts_are_listed_with_the_reason() -> None:
    # one account: secret b"abcdefghij", name "md5", algorithm MD5 (4), TOTP (2)
    payload = bytes([0x0A, 0x13, 0x0A, 0x0A]) + b"abcdefghij" + bytes([0x12, 0x03]) + b"md5"
    payload += bytes([0x20, 0x04, 0x30, 0x02])
    import base64

    uri = "otpauth-migration://offline?data=" + base64.b64encode(payload).decode()
    (account,) = parse_migration(uri)
    assert account.uri is None and account.problem is not None and "MD5" in account.problem
    result = CliRunner().invoke(cli, ["totp", uri])
    assert result.exit_code == 0 and "not supported" in result.stdout


def test_qr_unpacks_an_export(tmp_path: Path) -> None:
    segno = pytest.importorskip("segno")
    pytest.importorskip("zxingcpp")
    image = tmp_path / "export.png"
    segno.make(TWO_ACCOUNTS, micro=False, error="m").save(str(image), kind="png", scale=6)
    result = run_vaults("qr", str(image))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "otpauth://totp/Name?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30",
        "otpauth://totp/Name2?secret=ABCI23HDJWHD73YEVDJA&algorithm=SHA1&digits=6&period=30",
    ]
