"""KeePassXC's own CLI is the oracle: for every entry it shows a code for, we show the same code.

One database (written by pykeepass) holds every TOTP storage convention; ``keepassxc-cli show
-t`` prints KeePassXC's code for each entry, and the plugin must give the same one. Where we
deliberately differ the case says why and the test asserts our behaviour.
Needs ``keepassxc-cli`` (Debian: keepassxc); with VAULTS_REQUIRE_KEEPASSXC=1 its absence fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from vaults_keepass import KeePassBackend
from vaults_keepass.testing import EntrySpec, create_database

from vaults.refs import parse_reference
from vaults.totp import code_at

PASSWORD = "oracle-VAULTSCANARY"
RFC = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
HX = "HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"

SAME: dict[str, dict[str, str]] = {
    "uri": {"otp": f"otpauth://totp/X:a?secret={HX}&issuer=X"},
    "uri sha256 8 60": {"otp": f"otpauth://totp/X:a?secret={HX}&algorithm=SHA256&digits=8&period=60"},
    "uri sha512": {"otp": f"otpauth://totp/X:a?secret={RFC}&algorithm=SHA512&digits=8"},
    "uri lower case": {"otp": f"otpauth://totp/X:a?secret={HX.lower()}"},
    "uri look-alikes 0 1 8": {"otp": "otpauth://totp/X:a?secret=GEZDGNBVGY3TQ0JQ"},
    "uri junk": {"otp": "otpauth://totp/X:a?secret=GEZD-GNBV%20GY3T.QOJQ"},
    "uri steam": {"otp": f"otpauth://totp/S:a?secret={HX}&encoder=steam"},
    "keeotp": {"otp": f"key={HX}&size=8&step=60&otpHashMode=SHA256"},
    "legacy 30;6": {"TOTP Seed": RFC, "TOTP Settings": "30;6"},
    "legacy 30;8": {"TOTP Seed": RFC, "TOTP Settings": "30;8"},
    "legacy 30;S": {"TOTP Seed": HX, "TOTP Settings": "30;S"},
    "legacy third part": {"TOTP Seed": RFC, "TOTP Settings": "60;8;https://time.example.test"},
    "legacy seed look-alikes": {"TOTP Seed": "gezd gnbv gy3t q0jq", "TOTP Settings": "30;6"},
    "legacy beats otp": {"otp": f"otpauth://totp/X:a?secret={HX}", "TOTP Seed": RFC,
                         "TOTP Settings": "30;7"},
}  # fmt: skip

DELIBERATE: dict[str, tuple[dict[str, str], str, str]] = {
    # name: (attributes, what we do, why)
    "keeotp hotp": (
        {"otp": f"key={HX}&type=Hotp&counter=3"},
        "error:HOTP",
        "KeePassXC ignores KeeOtp2's type=Hotp and shows a time-based code the site refuses",
    ),
    "no base32 at all": (
        {"otp": "otpauth://totp/X:a?secret=!!!!"},
        "error:no base32",
        "KeePassXC computes a code from an empty key",
    ),
    "length 19": (
        {"otp": f"otpauth://totp/X:a?secret={RFC[:19]}"},
        "code",
        "KeePassXC 2.7 refuses lengths 1, 3 and 6 (mod 8); we drop the trailing bits as "
        "Bitwarden does",
    ),
    "3 digits": (
        {"otp": f"otpauth://totp/X:a?secret={HX}&digits=3"},
        "error:digits",
        "we accept 4-10 digits; KeePassXC accepts 1-10",
    ),
    "keepass 2.47 TimeOtp": (
        {"TimeOtp-Secret-Base32": HX, "TimeOtp-Length": "8"},
        "code",
        "KeePassXC before 2.7.5 has no TimeOtp-* support; KeePass itself shows this code",
    ),
}


def _keepassxc_cli() -> str:
    found = shutil.which("keepassxc-cli")
    if found is None:
        if os.environ.get("VAULTS_REQUIRE_KEEPASSXC") == "1":
            pytest.fail("VAULTS_REQUIRE_KEEPASSXC=1 but keepassxc-cli is not installed")
        pytest.skip("keepassxc-cli is not installed (Debian package keepassxc)")
    return found


@pytest.fixture(scope="module")
def oracle_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    binary = _keepassxc_cli()
    path = tmp_path_factory.mktemp("oracle") / "oracle.kdbx"
    specs = [EntrySpec(name, "user", "pw", attributes=attrs) for name, attrs in SAME.items()]
    specs += [
        EntrySpec(name, "user", "pw", attributes=attrs)
        for name, (attrs, _, _) in DELIBERATE.items()
    ]
    create_database(path, PASSWORD, specs)
    return binary, path


def keepassxc_code(binary: str, db: Path, title: str) -> str | None:
    result = subprocess.run(
        [binary, "show", "-q", "-t", str(db), title],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = result.stdout.strip()
    return out if result.returncode == 0 and out and " " not in out else None


_BACKENDS: dict[Path, KeePassBackend] = {}


def backend_for(db: Path) -> KeePassBackend:
    """One backend per database: it decrypts the file once."""
    return _BACKENDS.setdefault(db, KeePassBackend(db, PASSWORD))


def both(binary: str, db: Path, title: str) -> tuple[str | None, Any]:
    backend = backend_for(db)
    for _ in range(3):  # a window boundary between the two answers: ask again
        before = time.time()
        theirs = keepassxc_code(binary, db, title)
        cred = backend.fetch(parse_reference(f"keepass://{title}"))
        ours = code_at(cred.totp_secret, time.time()).code if cred.totp_secret else cred
        if int(before // 30) == int(time.time() // 30):
            break
    return theirs, ours


@pytest.mark.parametrize("title", list(SAME))
def test_same_code_as_keepassxc(oracle_db: tuple[str, Path], title: str) -> None:
    binary, db = oracle_db
    theirs, ours = both(binary, db, title)
    assert theirs is not None, f"keepassxc-cli shows no code for {title!r}"
    assert ours == theirs, f"{title!r}: KeePassXC shows {theirs}, we show {ours}"


@pytest.mark.parametrize("title", list(DELIBERATE))
def test_deliberate_differences(oracle_db: tuple[str, Path], title: str) -> None:
    _, expected, why = DELIBERATE[title]
    assert why
    cred = backend_for(oracle_db[1]).fetch(parse_reference(f"keepass://{title}"))
    if expected == "code":
        assert cred.totp_secret is not None and cred.totp_error is None
    else:
        assert cred.totp_secret is None and cred.totp_error is not None
        assert expected.removeprefix("error:") in cred.totp_error
    assert cred.username == "user"
