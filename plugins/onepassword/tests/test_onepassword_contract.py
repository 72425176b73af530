"""The plugin passes the vaults plugin contract over Connect REST and over the ``op`` CLI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from vaults_onepassword.backend import OnePasswordBackend
from vaults_onepassword.testing.connect_server import ConnectServer
from vaults_onepassword.testing.fixtures import make_op_cli
from vaults_onepassword.testing.seed import (
    ACCOUNT,
    CONNECT_TOKEN,
    SERVICE_ACCOUNT_TOKEN,
    SESSION_TOKEN,
    login_item,
    make_id,
    otp_field,
    vault,
)

from vaults.testing.contract import SeededVault, VaultContract
from vaults.testing.seed import SeedItem

CONTRACT_VAULT = "Contract Vault"
CONTRACT_VAULT_ID = make_id("vault:" + CONTRACT_VAULT)


def contract_seed(items: Sequence[SeedItem]) -> tuple[dict[str, Any], dict[str, str]]:
    """The contract's standard seed as 1Password logins in one vault (OTP field values hold
    the seed's raw / otpauth / steam secrets as stored)."""
    entries = [
        login_item(
            item.name,
            item.username,
            item.password,
            key="contract:" + item.key,
            extra_fields=[otp_field(item.totp, key=item.key)] if item.totp else [],
            urls=list(item.uris),
        )
        for item in items
    ]
    contract_vault = vault(CONTRACT_VAULT, entries)
    assert contract_vault["id"] == CONTRACT_VAULT_ID
    seed = {
        "account": ACCOUNT,
        "access": [
            {"kind": "connect", "token": CONNECT_TOKEN, "vaults": [CONTRACT_VAULT_ID]},
            {"kind": "service_account", "token": SERVICE_ACCOUNT_TOKEN, "vaults": None},
            {"kind": "session", "token": SESSION_TOKEN, "vaults": None},
        ],
        "vaults": [contract_vault],
    }
    ids = {item.key: entry["id"] for item, entry in zip(items, entries, strict=True)}
    return seed, ids


class OnePasswordContract(VaultContract):
    scheme = "op"
    entry_point = "onepassword"
    supports_batch = True

    def ref_by_id(self, item_id: str) -> str:
        return f"op://{CONTRACT_VAULT_ID}/{item_id}"

    def ref_by_name(self, name: str) -> str:
        return f"op://{CONTRACT_VAULT}/{name}"

    def missing_id(self) -> str:
        return "zzzzzzzzzzzzzzzzzzzzzzzzzz"


class TestOnePasswordConnectContract(OnePasswordContract):
    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        data, ids = contract_seed(seed)
        server = ConnectServer(data).start()
        request.addfinalizer(server.stop)
        backend = OnePasswordBackend.from_env(
            {"OP_CONNECT_HOST": server.url, "OP_CONNECT_TOKEN": CONNECT_TOKEN}
        )
        assert backend.transport.name == "connect"
        return SeededVault(backend, ids, secrets=[CONNECT_TOKEN])


class TestOnePasswordCliContract(OnePasswordContract):
    # every op call is a process (~1 s each): op writes are tested in test_onepassword_store_totp
    supports_store_totp = False

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        data, ids = contract_seed(seed)
        factory: pytest.TempPathFactory = request.getfixturevalue("tmp_path_factory")
        op = make_op_cli(data, factory.mktemp("op-contract"))
        backend = OnePasswordBackend.from_env(op.env)
        assert backend.transport.name == "op"
        return SeededVault(backend, ids, secrets=[SERVICE_ACCOUNT_TOKEN])
