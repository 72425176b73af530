from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vaults_keepass import KeePassBackend
from vaults_keepass.testing import EntrySpec, create_database

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ConfigurationError,
    ItemNotFound,
    VaultUnavailable,
)
from vaults.refs import parse_reference
from vaults.resolver import Vaults
from vaults.totp import code_at

MASTER = "VAULTSCANARY-master-pw"  # the password conftest.shapes_db writes

T = 1_700_000_000.0  # 20 s into a 30 s window: the skip rule does not apply with min_remaining=0


def vaults_for(path: Path, password: str = MASTER) -> Vaults:
    return Vaults(backends=[KeePassBackend(path, password)], clock=lambda: T, min_remaining=0)


@pytest.mark.parametrize(
    ("ref", "secret", "username"),
    [
        ("keepass://XC Otpauth", "otpauth://totp/X?secret=JBSWY3DPEHPK3PXP", "alice"),
        ("keepass://Work/XC Otpauth", "JBSWY3DPEHPK3PXP", "alice"),
        (
            "keepass://Work/Nested/XC SHA512",
            "otpauth://totp/a?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&algorithm=SHA512&digits=8",
            "bob",
        ),
        (
            "keepass://KeeOtp",
            "otpauth://totp/a?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&algorithm=SHA256&digits=8&period=60",
            "carol",
        ),
        ("keepass://Legacy", "JBSWY3DPEHPK3PXP", "dave"),
        ("keepass://Legacy Steam", "steam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ", "erin"),
        (
            "keepass://TimeOtp",
            "otpauth://totp/a?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&algorithm=SHA256&digits=8&period=60",
            "frank",
        ),
        ("keepass://TimeOtp Hex", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", "gina"),
    ],
)
def test_every_totp_storage_convention(shapes_db, ref, secret, username):
    path, _ = shapes_db
    with vaults_for(path) as vaults:
        cred = vaults.resolve(ref)
    assert cred.username == username
    assert cred.totp is not None
    assert cred.totp.code == code_at(secret, T).code
    assert cred.totp_source == "vault"


def test_steam_codes_use_the_steam_alphabet(shapes_db):
    path, _ = shapes_db
    with vaults_for(path) as vaults:
        cred = vaults.resolve("keepass://Legacy Steam")
    assert cred.totp is not None and len(cred.totp.code) == 5
    assert set(cred.totp.code) <= set("23456789BCDFGHJKMNPQRTVWXY")


def test_lookup_by_uuid_in_both_spellings(shapes_db):
    path, ids = shapes_db
    hexid = ids["plain"]
    dashed = f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"
    with vaults_for(path) as vaults:
        assert vaults.resolve(f"keepass://{hexid}").name == "Plain"
        assert vaults.resolve(f"keepass://{dashed.upper()}").id == hexid


def test_custom_fields_exposed_and_hidden_ones_masked(shapes_db):
    path, _ = shapes_db
    with vaults_for(path) as vaults:
        cred = vaults.resolve("keepass://Plain")
    assert cred.totp is None
    assert cred.uris == ["https://plain.example"]
    token = cred.field("api_token")
    assert token is not None and token.type == "hidden"
    assert token.value is not None and token.value.get_secret_value() == "hidden-value"
    assert token.public_dict()["value"] == "********"
    note = cred.field("note")
    assert note is not None and note.public_dict()["value"] == "visible"


def test_duplicate_titles_are_ambiguous_until_the_group_is_named(shapes_db):
    path, ids = shapes_db
    with vaults_for(path) as vaults:
        with pytest.raises(AmbiguousItem) as info:
            vaults.resolve("keepass://Twin")
        assert set(info.value.candidates) == {ids["dup_a"], ids["dup_b"]}
        assert vaults.resolve("keepass://B/Twin").username == "twin-b"


def test_title_with_slash_is_found_whole_or_percent_encoded(shapes_db):
    path, _ = shapes_db
    with vaults_for(path) as vaults:
        assert vaults.resolve("keepass://a/b title").username == "slash"
        assert vaults.resolve("keepass://a%2Fb title").username == "slash"


def test_recycle_bin_entries_are_not_returned(shapes_db):
    path, _ = shapes_db
    with vaults_for(path) as vaults, pytest.raises(ItemNotFound):
        vaults.resolve("keepass://Recycled")


def test_junk_in_a_secret_is_cleaned_as_keepassxc_does(shapes_db):
    """KeePassXC's Base32::sanitizeInput: 0/1/8 read as O/L/B, the rest of the junk dropped."""
    path, _ = shapes_db
    with vaults_for(path) as vaults:
        cred = vaults.resolve("keepass://Bad Totp")
    assert cred.totp is not None and cred.totp_error is None
    assert cred.totp.code == code_at("VAULTSCANARYOLB", T).code


@pytest.mark.parametrize(
    ("ref", "problem"),
    [("keepass://No Key Totp", "no base32 characters"), ("keepass://KeeOtp HOTP", "HOTP")],
)
def test_unusable_totp_keeps_the_login(shapes_db, ref, problem):
    path, _ = shapes_db
    with vaults_for(path) as vaults:
        cred = vaults.resolve(ref)
    assert cred.username and cred.password is not None
    assert cred.totp is None and cred.totp_secret is None
    assert cred.totp_error is not None and problem in cred.totp_error
    assert "JBSWY3DPEHPK3PXP" not in cred.totp_error


def test_wrong_master_password(shapes_db):
    path, _ = shapes_db
    with vaults_for(path, "wrong-password") as vaults, pytest.raises(AuthenticationFailed) as info:
        vaults.resolve("keepass://Plain")
    assert "wrong-password" not in str(info.value)


def test_key_file_unlock(tmp_path):
    keyfile = tmp_path / "db.key"
    keyfile.write_bytes(os.urandom(64))
    db = tmp_path / "k.kdbx"
    create_database(db, None, [EntrySpec("K", "kuser", "kpw")], keyfile=keyfile)
    backend = KeePassBackend.from_env(
        {"VAULTS_KEEPASS_DB": str(db), "VAULTS_KEEPASS_KEYFILE": str(keyfile)}
    )
    assert backend.fetch(parse_reference("keepass://K")).username == "kuser"


def test_configuration_errors():
    with pytest.raises(ConfigurationError, match="VAULTS_KEEPASS_DB"):
        KeePassBackend.from_env({})
    with pytest.raises(ConfigurationError, match="VAULTS_KEEPASS_PASSWORD"):
        KeePassBackend.from_env({"VAULTS_KEEPASS_DB": "x.kdbx"})
    with pytest.raises(ConfigurationError, match="does not exist"):
        KeePassBackend("/nonexistent/x.kdbx", "pw").fetch(parse_reference("keepass://A"))


def test_database_is_reopened_when_the_file_changes(tmp_path):
    db = tmp_path / "c.kdbx"
    create_database(db, "pw", [EntrySpec("One", "u1", "p1")])
    backend = KeePassBackend(db, "pw")
    assert backend.fetch(parse_reference("keepass://One")).username == "u1"
    create_database(db, "pw", [EntrySpec("One", "u2", "p2"), EntrySpec("Two", "u3", "p3")])
    os.utime(db, (T + 100, T + 100))
    assert backend.fetch(parse_reference("keepass://One")).username == "u2"


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env, "VAULTS_LOAD_PLUGINS": "keepass"}
    full_env.pop("VAULTS_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "vaults.cli.main", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_resolve_json_and_exit_codes(shapes_db):
    path, ids = shapes_db
    env = {"VAULTS_KEEPASS_DB": str(path), "VAULTS_KEEPASS_PASSWORD": MASTER}
    ok = run_cli("resolve", "keepass://Work/XC Otpauth", "--json", env=env)
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert set(data) >= {"ref", "vault", "id", "name", "username", "password", "uris", "totp"}
    assert data["password"] == "********" and data["id"] == ids["xc_otpauth"]
    assert set(data["totp"]) == {"code", "valid_from", "valid_until", "period", "digits"}
    assert data["totp"]["valid_until"] - data["totp"]["valid_from"] == 30
    revealed = run_cli("resolve", "keepass://Work/XC Otpauth", "--json", "--reveal", env=env)
    assert json.loads(revealed.stdout)["password"] == "pw-xc"
    field = run_cli("resolve", "keepass://Plain", "--field", "username", env=env)
    assert field.stdout == "henry\n"

    missing = run_cli("resolve", "keepass://Nope", env=env)
    assert missing.returncode == 1 and missing.stderr.startswith("error: ")
    assert "Traceback" not in missing.stderr
    ambiguous = run_cli("resolve", "keepass://Twin", env=env)
    assert ambiguous.returncode == 1 and ids["dup_a"] in ambiguous.stderr
    wrong = run_cli(
        "resolve", "keepass://Plain", env={**env, "VAULTS_KEEPASS_PASSWORD": "VAULTSCANARY-wrong"}
    )
    assert wrong.returncode == 3
    assert "VAULTSCANARY" not in wrong.stderr + wrong.stdout
    unconfigured = run_cli("resolve", "keepass://Plain", env={"VAULTS_KEEPASS_DB": ""})
    assert unconfigured.returncode == 2 and "VAULTS_KEEPASS_DB" in unconfigured.stderr
    no_code = run_cli("resolve", "keepass://Plain", "--field", "code", env=env)
    assert no_code.returncode == 1
    for result in (missing, ambiguous, wrong, unconfigured, no_code):
        assert MASTER not in result.stderr + result.stdout
        assert "pw-" not in result.stderr


PEERS = Path(__file__).resolve().parents[3] / "tests" / "data" / "peers" / "keepass"


def test_an_empty_master_password_is_a_password():
    """kdbxweb's EmptyPass.kdbx: VAULTS_KEEPASS_PASSWORD set and empty unlocks it."""
    database = PEERS / "kdbxweb" / "EmptyPass.kdbx"
    env = {"VAULTS_KEEPASS_DB": str(database), "VAULTS_KEEPASS_PASSWORD": ""}
    backend = KeePassBackend.from_env(env)
    assert backend._open() is not None


def test_a_tampered_kdbx4_header_is_refused(tmp_path):
    data = bytearray((PEERS / "keepassxc" / "Format400.kdbx").read_bytes())
    data[40] ^= 0x01  # inside the header fields, before the header's SHA-256 and HMAC
    broken = tmp_path / "tampered.kdbx"
    broken.write_bytes(bytes(data))
    with pytest.raises(VaultUnavailable, match="damaged"):
        KeePassBackend(broken, "t").fetch(parse_reference("keepass://x"))


def test_titles_match_under_nfc_and_url_placeholders_resolve(tmp_path):
    import unicodedata

    db = tmp_path / "nfc.kdbx"
    decomposed = unicodedata.normalize("NFD", "Café Zürich")
    create_database(
        db,
        "pw",
        [
            EntrySpec(decomposed, "anna", "pw-a", url="https://x.test/?u={USERNAME}&t={TITLE}"),
            EntrySpec("Ref", "{REF:U@T:" + decomposed + "}", "{REF:P@T:" + decomposed + "}"),
        ],
    )
    backend = KeePassBackend(db, "pw")
    cred = backend.fetch(parse_reference("keepass://Café Zürich"))  # typed NFC
    assert cred.username == "anna"
    assert cred.uris == [f"https://x.test/?u=anna&t={decomposed}"]
    ref = backend.fetch(parse_reference("keepass://Ref"))
    assert ref.username == "anna" and ref.password is not None
    assert ref.password.get_secret_value() == "pw-a"


def test_a_broken_key_file_is_blamed_on_the_key_file(tmp_path):
    keyfile = tmp_path / "broken.keyx"
    keyfile.write_text(
        '<?xml version="1.0"?><KeyFile><Meta><Version>2.0</Version></Meta>'
        '<Key><Data Hash="00000000">ZZ</Data></Key></KeyFile>'
    )
    db = PEERS / "keepassxc" / "Format400.kdbx"
    with pytest.raises(ConfigurationError, match=r"key file broken\.keyx is broken"):
        KeePassBackend(db, "t", keyfile).fetch(parse_reference("keepass://K"))
