"""Secrets never leak with the real Bitwarden CLI and a real ``bw serve``.

A Bitwarden test server holds an account whose master password is the ``BW_PASSWORD`` canary
and items whose passwords and TOTP secrets are canaries; the official ``bw`` logs in to it.
Error paths: not found, ambiguous, a stale ``BW_SESSION`` (locked, then unlocked with
``BW_PASSWORD``), a wrong ``BW_PASSWORD`` (refused unlock), and the same through ``bw serve``
after ``POST /lock``. Needs ``bw`` (skips without it, fails when ``VAULTS_REQUIRE_BW=1``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import vaults_reliability_canaries as c
from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.cli import BwCli, BwServe
from vaults_bitwarden.testing.fixtures import require_bw_binary
from vaults_bitwarden.testing.items import CustomField, FieldType, VaultItem
from vaults_bitwarden.testing.server import BitwardenTestServer
from vaults_reliability_canaries import LeakLedger
from vaults_reliability_canary_vaults import OTP_URI

from vaults import Vaults
from vaults.errors import AmbiguousItem, AuthenticationFailed, ItemNotFound, VaultLocked

ITEMS = [
    VaultItem(
        "Canary Login",
        "alice",
        c.PASSWORD,
        totp=OTP_URI,
        fields=(CustomField("api key", c.FIELD_SECRET, FieldType.HIDDEN),),
    ),
    VaultItem("Twin", "one", c.PASSWORD),
    VaultItem("Twin", "two", c.PASSWORD_2),
]


@pytest.fixture(scope="module")
def bw_canary(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BwCli]:
    binary = require_bw_binary()
    tmp = tmp_path_factory.mktemp("leaks-bw")
    account = BitwardenAccount.create(email="canary@example.test", master_password=c.BW_PASSWORD)
    with BitwardenTestServer.create(tmp / "tls", account=account, items=ITEMS) as server:
        cli = BwCli(binary=binary, appdata_dir=tmp / "appdata", ca_cert=server.ca_cert)
        cli.config_server(server.url)
        yield cli.login_password(account.email, c.BW_PASSWORD)


def _env(cli: BwCli, **extra: str) -> dict[str, str]:
    env = dict(cli.env)
    env.pop("BW_NOINTERACTION", None)
    env.update({"VAULTS_BITWARDEN_BW": str(cli.binary), "VAULTS_BITWARDEN_TIMEOUT": "60"})
    env.update(extra)
    return {k: v for k, v in env.items() if v}


def _resolve(env: dict[str, str], ref: str) -> Any:
    with Vaults(env=env) as vaults:
        return vaults.resolve(ref)


def test_real_bw_cli(
    bw_canary: BwCli, tmp_path: Path, debug_caplog: Any, reliability_report
) -> None:
    ledger = LeakLedger("Bitwarden real bw CLI (Python API)")
    log = debug_caplog
    cli = bw_canary.clone(tmp_path / "appdata")
    env = _env(cli, BW_SESSION=cli.session or "")
    ledger.ok("bw ok", lambda: _resolve(env, "bitwarden://Canary Login"), log)
    ledger.error("bw not found", lambda: _resolve(env, "bitwarden://Missing"), log, ItemNotFound)
    ledger.error("bw ambiguous", lambda: _resolve(env, "bitwarden://Twin"), log, AmbiguousItem)
    stale = _env(cli, BW_SESSION=c.BW_SESSION)  # a session key that is not this vault's
    ledger.error(
        "bw stale session", lambda: _resolve(stale, "bitwarden://Canary Login"), log, VaultLocked
    )
    refused = _env(cli, BW_SESSION=c.BW_SESSION, BW_PASSWORD=c.WRONG_SECRET)
    ledger.error(
        "bw unlock with a wrong BW_PASSWORD",
        lambda: _resolve(refused, "bitwarden://Canary Login"),
        log,
        AuthenticationFailed,
    )
    unlocking = _env(cli, BW_SESSION=c.BW_SESSION, BW_PASSWORD=c.BW_PASSWORD)
    # the stale session makes vaults unlock with BW_PASSWORD (sent to bw in its environment)
    ledger.ok(
        "bw unlocked with BW_PASSWORD", lambda: _resolve(unlocking, "bitwarden://Canary Login"), log
    )
    ledger.record(reliability_report)
    ledger.assert_clean()


def test_real_bw_serve(
    bw_canary: BwCli, tmp_path: Path, debug_caplog: Any, reliability_report
) -> None:
    ledger = LeakLedger("Bitwarden real bw serve (Python API)")
    log = debug_caplog
    cli = bw_canary.clone(tmp_path / "serve-appdata")
    serve = BwServe.start(cli, log_path=tmp_path / "bw-serve.log")
    try:
        env = {"VAULTS_BITWARDEN_URL": serve.url, "VAULTS_BITWARDEN_TIMEOUT": "60"}
        ledger.ok("bw serve ok", lambda: _resolve(env, "bitwarden://Canary Login"), log)
        ledger.error(
            "bw serve not found", lambda: _resolve(env, "bitwarden://Missing"), log, ItemNotFound
        )
        ledger.error(
            "bw serve ambiguous", lambda: _resolve(env, "bitwarden://Twin"), log, AmbiguousItem
        )
        httpx.post(f"{serve.url}/lock", timeout=30).raise_for_status()
        ledger.error(
            "bw serve locked",
            lambda: _resolve(env, "bitwarden://Canary Login"),
            log,
            VaultLocked,
        )
        ledger.error(
            "bw serve unlock with a wrong BW_PASSWORD",
            lambda: _resolve({**env, "BW_PASSWORD": c.WRONG_SECRET}, "bitwarden://Canary Login"),
            log,
            AuthenticationFailed,
        )
        ledger.ok(
            "bw serve unlocked with BW_PASSWORD",
            lambda: _resolve({**env, "BW_PASSWORD": c.BW_PASSWORD}, "bitwarden://Canary Login"),
            log,
        )
    finally:
        serve.stop()
    ledger.record(reliability_report)
    ledger.assert_clean()
