"""The reference MemoryBackend passes the contract (registered through a real entry point)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence

import pytest

from vaults.testing import SeededVault, SeedItem, VaultContract
from vaults.testing.fakedist import write_dist_info
from vaults.testing.memory import MemoryBackend


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
