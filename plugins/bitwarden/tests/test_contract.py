"""The ``vaults.testing`` contract, over the real ``bw serve`` and the real ``bw`` CLI.

The standard seed lives on its own test server with its own account: one login for the
module, shared by both transports (``bw serve`` runs on a copy of that login's app data).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.testing.cli import BwCli, BwServe
from vaults_bitwarden.testing.fixtures import require_bw_binary
from vaults_bitwarden.testing.items import VaultItem
from vaults_bitwarden.testing.server import BitwardenTestServer

from vaults.testing import HOTP_ITEM, STANDARD_SEED, SeededVault, SeedItem, VaultContract

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)


@dataclass(frozen=True)
class ContractVault:
    server: BitwardenTestServer
    cli: BwCli
    serve_url: str
    ids: dict[str, str]


def _item(seed: SeedItem) -> VaultItem:
    return VaultItem(
        name=seed.name,
        username=seed.username,
        password=seed.password,
        totp=seed.totp,
        uris=seed.uris,
    )


@pytest.fixture(scope="module")
def contract_bitwarden(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractVault]:
    """A test server holding the standard seed, a logged-in ``bw`` and a ``bw serve``."""
    binary = require_bw_binary()
    items = {seed.key: _item(seed) for seed in (*STANDARD_SEED, HOTP_ITEM)}
    server = BitwardenTestServer.create(
        tmp_path_factory.mktemp("contract-tls"), items=list(items.values())
    )
    with server:
        cli = BwCli(
            binary=binary,
            appdata_dir=tmp_path_factory.mktemp("contract-bw"),
            ca_cert=server.ca_cert,
        )
        cli.config_server(server.url)
        cli = cli.login_password(server.email, server.master_password)
        work = tmp_path_factory.mktemp("contract-serve")
        serve = BwServe.start(cli.clone(work / "appdata"), log_path=work / "bw-serve.log")
        try:
            yield ContractVault(server, cli, serve.url, {k: v.id for k, v in items.items()})
        finally:
            serve.stop()


def _secrets(vault: ContractVault) -> tuple[str, ...]:
    return (vault.server.master_password, vault.cli.session or "")


class TestBitwardenServeContract(VaultContract):
    """Every lookup through the real ``bw serve`` (httpx, sync and async)."""

    scheme = "bitwarden"
    entry_point = "bitwarden"
    supports_batch = True
    supports_totp_error = True

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        vault: ContractVault = request.getfixturevalue("contract_bitwarden")
        backend = BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": vault.serve_url})
        return SeededVault(backend, {s.key: vault.ids[s.key] for s in seed}, _secrets(vault))


@pytest.mark.slow  # ~80 real `bw` runs of ~1.5 s each (about 100 s on 2 cores)
class TestBitwardenCliContract(VaultContract):
    """Every lookup through the real ``bw`` subprocess (``bw get item``/``bw list items``)."""

    scheme = "bitwarden"
    entry_point = "bitwarden"
    supports_batch = True
    # each write is ~8 bw runs; CLI writes are checked in test_store_totp.py
    supports_store_totp = False
    supports_totp_error = True

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        vault: ContractVault = request.getfixturevalue("contract_bitwarden")
        env = {**vault.cli.env, "VAULTS_BITWARDEN_BW": str(Path(vault.cli.binary))}
        backend = BitwardenBackend.from_env(env)
        return SeededVault(backend, {s.key: vault.ids[s.key] for s in seed}, _secrets(vault))
