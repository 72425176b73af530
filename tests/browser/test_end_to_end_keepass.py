"""End to end: a login whose server checks the 2FA code against the TOTP secret of the
KeePass demo vault (plugins/keepass/vaults_keepass/demo.py), filled from ``resolve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.testsite import Website
from vaults.browser import fill_code, fill_login
from vaults.resolver import Vaults
from vaults.testing.hosts import make_test_host

demo = pytest.importorskip("vaults_keepass.demo")


def test_login_with_2fa_from_the_keepass_demo_vault(
    page: Any, site: Website, tmp_path: Path
) -> None:
    kdbx = tmp_path / "demo.kdbx"
    assert demo.main([str(kdbx)]) == 0
    acme = demo.DEMO_ENTRIES[0]
    # the server checks codes with pyotp against the secret in the demo entry's otpauth URI
    secret = parse_qs(urlsplit(acme.attributes["otp"]).query)["secret"][0]
    sid = site.session(username=acme.username, password=acme.password, totp_secret=secret)
    env = {"VAULTS_KEEPASS_DB": str(kdbx), "VAULTS_KEEPASS_PASSWORD": demo.DEMO_PASSWORD}
    with Vaults(make_test_host(["keepass"]), env=env) as vaults:
        cred = vaults.resolve("keepass://Demo/Acme Cloud")
    assert cred.totp is not None

    page.goto(site.page_url("acme", sid))
    assert fill_login(page, cred, submit=True).step == "both"
    found = fill_code(page, cred, submit=True)
    assert (found.kind, found.count) == ("split", 6)
    page.wait_for_url("**/welcome?**")
    assert page.title() == "Acme Cloud - signed in"
    assert site.answers(sid) == [(True, "ok"), (True, "ok")]  # password, then the code
    # the server does check: another code is refused
    wrong = f"{(int(cred.totp.code) + 500_000) % 1_000_000:06d}"
    assert site.check_code(site.session(totp_secret=secret), {"code": wrong})[0] is False
