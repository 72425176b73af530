"""Secrets never leak through the native Bitwarden transport (``VAULTS_BITWARDEN_SERVER``).

The test server's account has the ``BW_PASSWORD`` canary as master password and the
``BW_CLIENTSECRET`` canary as API key secret; its items hold canary passwords, TOTP secrets and
hidden fields; the account's user key (random) is added to the canaries for this test. Paths:
success, not found, ambiguous, a wrong master password (cold and warm cache), a wrong API key
secret, a tampered item (MAC failure), a server down, and the ``vaults`` CLI with a wrong
password; surfaces: exceptions, DEBUG logs, credentials, CLI output, and the cache file.
No Node.js needed.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vaults_reliability_canaries as c
from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.items import CustomField, FieldType, VaultItem
from vaults_bitwarden.testing.server import BitwardenTestServer
from vaults_reliability_canaries import LeakLedger
from vaults_reliability_canary_vaults import OTP_URI

from vaults import Vaults
from vaults.errors import AmbiguousItem, AuthenticationFailed, ItemNotFound, VaultUnavailable

ITEMS = [
    VaultItem(
        "Canary Login",
        "alice",
        c.PASSWORD,
        totp=OTP_URI,
        fields=(CustomField("api key", c.FIELD_SECRET, FieldType.HIDDEN),),
        own_cipher_key=True,
    ),
    VaultItem("Twin", "one", c.PASSWORD, organization=True),
    VaultItem("Twin", "two", c.PASSWORD_2),
    VaultItem("Tampered", "t", c.PASSWORD_2, totp=c.TOTP_SECRET),
]


@pytest.fixture(scope="module")
def native_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BitwardenTestServer]:
    account = dataclasses.replace(
        BitwardenAccount.create(email="canary@example.test", master_password=c.BW_PASSWORD),
        client_secret=c.BW_CLIENTSECRET,
    )
    tmp = tmp_path_factory.mktemp("leaks-bw-native")
    with BitwardenTestServer.create(tmp / "tls", account=account, items=ITEMS) as server:
        tampered = server.cipher(ITEMS[-1].id)
        head, body, mac = tampered["login"]["password"].split("|")
        tampered["login"]["password"] = "|".join((head, body[::-1], mac))
        server.vault.replace_cipher(ITEMS[-1].id, tampered)
        yield server


def _env(server: BitwardenTestServer, cache: Path, **extra: str) -> dict[str, str]:
    return {
        "VAULTS_BITWARDEN_SERVER": server.url,
        "VAULTS_BITWARDEN_CA": str(server.ca_cert),
        "VAULTS_BITWARDEN_CACHE_DIR": str(cache),
        "BW_CLIENTID": server.client_id,
        "BW_CLIENTSECRET": c.BW_CLIENTSECRET,
        "BW_PASSWORD": c.BW_PASSWORD,
        **extra,
    }


def _resolve(env: dict[str, str], ref: str) -> Any:
    with Vaults(env=env) as vaults:
        return vaults.resolve(ref)


def test_native_transport(
    native_server: BitwardenTestServer,
    tmp_path: Path,
    debug_caplog: Any,
    reliability_report: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_key = native_server.account.user_key.to_bytes()
    monkeypatch.setitem(c.ALL, base64.b64encode(user_key).decode(), "Bitwarden user key")
    monkeypatch.setitem(c.ALL, user_key.hex(), "Bitwarden user key (hex)")
    ledger = LeakLedger("Bitwarden native transport (Python API, CLI, cache file)")
    log = debug_caplog
    cache = tmp_path / "cache"
    env = _env(native_server, cache)
    ledger.ok("native ok (cold cache)", lambda: _resolve(env, "bitwarden://Canary Login"), log)
    ledger.ok("native ok (warm cache)", lambda: _resolve(env, "bitwarden://Canary Login"), log)
    ledger.error(
        "native not found", lambda: _resolve(env, "bitwarden://Missing"), log, ItemNotFound
    )
    ledger.error("native ambiguous", lambda: _resolve(env, "bitwarden://Twin"), log, AmbiguousItem)
    ledger.error(
        "native tampered item", lambda: _resolve(env, "bitwarden://Tampered"), log, VaultUnavailable
    )
    for label, where in (("warm", cache), ("cold", tmp_path / "cold")):
        wrong = _env(native_server, where, BW_PASSWORD=c.WRONG_SECRET)
        ledger.error(
            f"native wrong BW_PASSWORD ({label} cache)",
            lambda wrong=wrong: _resolve(wrong, "bitwarden://Canary Login"),
            log,
            AuthenticationFailed,
        )
    refused = _env(native_server, tmp_path / "refused", BW_CLIENTSECRET=c.WRONG_SECRET)
    ledger.error(
        "native wrong BW_CLIENTSECRET",
        lambda: _resolve(refused, "bitwarden://Canary Login"),
        log,
        AuthenticationFailed,
    )
    (cache_file,) = cache.iterdir()
    ledger.texts("native sync cache", "cache file", cache_file.read_text())

    vaults_bin = Path(sys.executable).with_name("vaults")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "BW_"))}
    for label, extra in (
        ("ok", {}),
        ("wrong BW_PASSWORD", {"BW_PASSWORD": c.WRONG_SECRET}),
        # a fresh cache: a cached access token (valid, under the user key) would still work
        (
            "wrong BW_CLIENTSECRET",
            {"BW_CLIENTSECRET": c.WRONG_SECRET, "VAULTS_BITWARDEN_CACHE_DIR": str(tmp_path / "x")},
        ),
    ):
        done = subprocess.run(
            [str(vaults_bin), "resolve", "bitwarden://Canary Login", "--json"],
            env={**base, "VAULTS_LOAD_PLUGINS": "bitwarden", **env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == (0 if label == "ok" else 3), done.stderr
        ledger.texts(
            f"vaults resolve, native, {label}", "CLI stdout+stderr", done.stdout + done.stderr
        )

    native_server.stop()
    ledger.error(
        "native server down",
        lambda: _resolve(_env(native_server, tmp_path / "down"), "bitwarden://Canary Login"),
        log,
        VaultUnavailable,
    )
    native_server.start()
    ledger.record(reliability_report)
    ledger.assert_clean()
