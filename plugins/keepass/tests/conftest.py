from __future__ import annotations

from pathlib import Path

import pytest
from vaults_keepass.testing import EntrySpec, create_database

MASTER = "VAULTSCANARY-master-pw"


@pytest.fixture(scope="module")
def shapes_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A database with every TOTP storage convention and lookup shape."""
    path = tmp_path_factory.mktemp("kp") / "shapes.kdbx"
    specs = {
        "xc_otpauth": EntrySpec(
            "XC Otpauth",
            "alice",
            "pw-xc",
            group=("Work",),
            attributes={"otp": "otpauth://totp/X:alice?secret=JBSWY3DPEHPK3PXP&issuer=X"},
            protected=frozenset({"otp"}),
        ),
        "xc_sha512": EntrySpec(
            "XC SHA512",
            "bob",
            "pw-512",
            group=("Work", "Nested"),
            attributes={
                "otp": "otpauth://totp/ACME:bob?secret=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"
                "&issuer=ACME&algorithm=sha512&digits=8"
            },
        ),
        "keeotp": EntrySpec(
            "KeeOtp",
            "carol",
            "pw-keeotp",
            attributes={
                "otp": "key=HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ&size=8&step=60&otpHashMode=SHA256"
            },
        ),
        "legacy": EntrySpec(
            "Legacy",
            "dave",
            "pw-legacy",
            attributes={"TOTP Seed": "JBSW Y3DP EHPK 3PXP", "TOTP Settings": "30;6"},
        ),
        "legacy_steam": EntrySpec(
            "Legacy Steam",
            "erin",
            "pw-steam",
            attributes={"TOTP Seed": "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ", "TOTP Settings": "30;S"},
        ),
        "timeotp": EntrySpec(
            "TimeOtp",
            "frank",
            "pw-timeotp",
            attributes={
                "TimeOtp-Secret-Base32": "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ",
                "TimeOtp-Length": "8",
                "TimeOtp-Period": "60",
                "TimeOtp-Algorithm": "HMAC-SHA-256",
            },
        ),
        "timeotp_hex": EntrySpec(
            "TimeOtp Hex",
            "gina",
            "pw-hex",
            attributes={"TimeOtp-Secret-Hex": "3132333435363738393031323334353637383930"},
        ),
        "plain": EntrySpec(
            "Plain",
            "henry",
            "pw-plain",
            url="https://plain.example",
            attributes={"api_token": "hidden-value", "note": "visible"},
            protected=frozenset({"api_token"}),
        ),
        "dup_a": EntrySpec("Twin", "twin-a", "pw-a", group=("A",)),
        "dup_b": EntrySpec("Twin", "twin-b", "pw-b", group=("B",)),
        "slash": EntrySpec("a/b title", "slash", "pw-slash"),
        "recycled": EntrySpec("Recycled", "gone", "pw-gone", recycled=True),
        "bad_totp": EntrySpec(
            "Bad Totp", "ivan", "pw-bad", attributes={"otp": "-- ?! VAULTSCANARY0189 --"}
        ),
        "no_key_totp": EntrySpec("No Key Totp", "jane", "pw-nokey", attributes={"otp": "-- ?! --"}),
        "keeotp_hotp": EntrySpec(
            "KeeOtp HOTP",
            "kim",
            "pw-hotp",
            attributes={"otp": "key=JBSWY3DPEHPK3PXP&type=Hotp&counter=3"},
        ),
    }
    ids = create_database(path, MASTER, specs.values())
    return path, {key: ids[i] for i, key in enumerate(specs)}
