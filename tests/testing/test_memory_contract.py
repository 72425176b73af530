"""The reference MemoryBackend passes the contract (registered through a real entry point)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence

import pytest

from vaults.errors import VaultsError
from vaults.models import Credential
from vaults.plain import PlainCredential, Secret
from vaults.refs import Reference
from vaults.testing import SeededVault, SeedItem, VaultContract
from vaults.testing.fakedist import write_dist_info
from vaults.testing.memory import MemoryBackend
from vaults.totp import code_at
from vaults.totp_core import totp_or_error


@pytest.fixture(scope="module", autouse=True)
def memory_entry_point(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Install (as far as importlib.metadata can tell) a distribution whose entry point
    registers the memory backend, for the registration checks."""
    site = tmp_path_factory.mktemp("site")
    write_dist_info(
        site, "vaults-memory-test", entry_points={"vaults": {"memory": "vaults.testing.memory"}}
    )
    sys.path.insert(0, str(site))
    yield
    sys.path.remove(str(site))


class TestMemoryContract(VaultContract):
    scheme = "memory"
    entry_point = "memory"
    supports_totp_error = True

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        backend, ids = MemoryBackend.from_seed(seed)
        return SeededVault(backend, ids)


class TestMemoryContractNamesOnly(VaultContract):
    """Capability flags turn checks into skips: a vault without ids or duplicates."""

    scheme = "memory"
    entry_point = "memory"
    supports_lookup_by_id = False
    supports_duplicate_names = False
    supports_steam = False
    supports_async = False

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        assert [item.key for item in seed if item.key in ("shared_2", "steam")] == []
        backend, ids = MemoryBackend.from_seed(seed)
        return SeededVault(backend, ids)


class PlainMemoryBackend(MemoryBackend):
    """The CLI's fast path: plain credentials, models only on request (as the vault plugins)."""

    def fetch_plain(self, ref: Reference) -> PlainCredential:
        item = self._find(ref)
        params, problem = totp_or_error(item.totp.get_secret_value() if item.totp else None)
        password = item.password.get_secret_value() if item.password is not None else None
        return PlainCredential(
            vault=self.scheme,
            id=item.id,
            name=item.name,
            username=item.username,
            password=Secret(password) if password is not None else None,
            uris=list(item.uris),
            totp_secret=params,
            totp_error=problem,
        )

    def fetch(self, ref: Reference) -> Credential:
        return self.fetch_plain(ref).to_credential()


class TestPlainMemoryContract(VaultContract):
    scheme = "memory"
    entry_point = "memory"
    supports_totp_error = True

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        backend, ids = PlainMemoryBackend.from_seed(seed)
        return SeededVault(backend, ids)


class BatchingMemoryBackend(MemoryBackend):
    """Answers a batch from one snapshot of the vault (what a real vault does with one listing)."""

    def fetch_many(self, refs: Sequence[Reference]) -> list[Credential | VaultsError]:
        snapshot = MemoryBackend(self._items.values())
        results: list[Credential | VaultsError] = []
        for ref in refs:
            try:
                results.append(snapshot.fetch(ref))
            except VaultsError as exc:
                results.append(exc)
        return results


class TestBatchingMemoryContract(VaultContract):
    scheme = "memory"
    entry_point = "memory"
    supports_batch = True

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        backend = BatchingMemoryBackend()
        ids = {
            item.key: backend.add(
                item.name,
                username=item.username,
                password=item.password,
                totp=item.totp,
                uris=item.uris,
            )
            for item in seed
        }
        return SeededVault(backend, ids)


class ServerCodeMemoryBackend(MemoryBackend):
    """Hands out codes computed "by the server" at real time instead of the secret."""

    def fetch(self, ref: Reference) -> Credential:
        cred = super().fetch(ref)
        if cred.totp_secret is not None:
            cred.totp = code_at(cred.totp_secret, time.time())
            cred.totp_source = "server"
            cred.totp_secret = None
        return cred


class TestServerCodeMemoryContract(VaultContract):
    scheme = "memory"
    entry_point = "memory"

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        backend = ServerCodeMemoryBackend()
        ids = {
            item.key: backend.add(
                item.name,
                username=item.username,
                password=item.password,
                totp=item.totp,
                uris=item.uris,
            )
            for item in seed
        }
        return SeededVault(backend, ids, secrets=("server-token-5f2a",))


class TestMemoryContractNamesOnlyWithDuplicates(VaultContract):
    """Without ids, items sharing a name cannot be named alone: their checks skip."""

    scheme = "memory"
    entry_point = "memory"
    supports_lookup_by_id = False

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        backend, ids = MemoryBackend.from_seed(seed)
        return SeededVault(backend, ids)
