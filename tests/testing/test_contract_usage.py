"""How the contract behaves for its users: once per class, fixture overrides, readable misuse."""

from __future__ import annotations

import pytest

from vaults.testing.fakedist import write_dist_info

HEADER = """
from vaults.testing import SeededVault, VaultContract
from vaults.testing.memory import MemoryBackend

def seeded(seed):
    backend, ids = MemoryBackend.from_seed(seed)
    return SeededVault(backend, ids)
"""

INNER = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # inner pytest runs: no slow extras


@pytest.fixture
def memory_plugin(pytester: pytest.Pytester) -> pytest.Pytester:
    site = pytester.path / "site"
    write_dist_info(
        site, "vaults-mem", entry_points={"vaults": {"memory": "vaults.testing.memory"}}
    )
    pytester.syspathinsert(site)
    return pytester


def test_the_vault_is_seeded_once_per_class(memory_plugin: pytest.Pytester) -> None:
    memory_plugin.makepyfile(
        HEADER
        + """
CALLS = []

class TestOne(VaultContract):
    scheme = "memory"
    entry_point = "memory"

    def create_vault(self, seed, request):
        CALLS.append(type(self).__name__)
        return seeded(seed)

class TestTwo(TestOne):
    pass

def test_zz_calls():
    assert CALLS == ["TestOne", "TestTwo"]
"""
    )
    memory_plugin.runpytest(*INNER).assert_outcomes(passed=77, skipped=4)


def test_the_fixture_can_be_overridden_with_fixture_dependencies(
    memory_plugin: pytest.Pytester,
) -> None:
    memory_plugin.makepyfile(
        HEADER
        + """
import pytest


@pytest.fixture(scope="session")
def memory_server(tmp_path_factory):
    return tmp_path_factory.mktemp("server")

class TestOverride(VaultContract):
    scheme = "memory"
    entry_point = "memory"

    @pytest.fixture(scope="class")
    @classmethod
    def seeded_vault(cls, memory_server, vault_seed):
        assert memory_server.is_dir()
        return seeded(vault_seed)
"""
    )
    memory_plugin.runpytest(*INNER, "-W", "error").assert_outcomes(passed=38, skipped=2)


MISUSE = {
    "test_no_factory.py": """
class TestNoFactory(VaultContract):
    scheme = "memory"
    entry_point = "memory"
""",
    "test_missing_id.py": """
class TestMissingId(VaultContract):
    scheme = "memory"
    entry_point = "memory"

    def create_vault(self, seed, request):
        vault = seeded(seed)
        return SeededVault(vault.backend, {k: v for k, v in vault.ids.items() if k != "shared_2"})
""",
    "test_wrong_return.py": """
class TestWrongReturn(VaultContract):
    scheme = "memory"
    entry_point = "memory"

    def create_vault(self, seed, request):
        return MemoryBackend.from_seed(seed)
""",
    "test_no_entry_point.py": """
class TestNoEntryPoint(VaultContract):
    scheme = "memory"

    def create_vault(self, seed, request):
        return seeded(seed)
""",
    "test_plain_differs.py": """
import dataclasses


class DriftingPlainBackend(MemoryBackend):
    def fetch_plain(self, ref):  # a fast path that forgot the username
        return dataclasses.replace(to_plain(self.fetch(ref)), username=None)


def to_plain(cred):
    from vaults.plain import PlainCredential, Secret

    password = Secret(cred.password.get_secret_value()) if cred.password else None
    return PlainCredential(vault=cred.vault, id=cred.id, name=cred.name,
                           username=cred.username, password=password)


class TestPlainDiffers(VaultContract):
    scheme = "memory"
    entry_point = "memory"

    def create_vault(self, seed, request):
        backend = DriftingPlainBackend()
        vault = seeded(seed)
        backend._items = vault.backend._items
        return SeededVault(backend, vault.ids)
""",
    "test_claims_batching.py": """
class TestClaimsBatching(VaultContract):
    scheme = "memory"
    entry_point = "memory"
    supports_batch = True

    def create_vault(self, seed, request):
        return seeded(seed)
""",
}


@pytest.mark.parametrize(
    ("module", "test", "outcome", "message"),
    [
        (
            "test_no_factory.py",
            "TestNoFactory::test_resolve_by_id[github]",
            "errors",
            "*TestNoFactory must implement create_vault(self, seed, request) -> SeededVault*",
        ),
        (
            "test_missing_id.py",
            "TestMissingId::test_resolve_by_id[github]",
            "errors",
            "*TestMissingId.create_vault returned no id for seed keys [[]'shared_2'[]]*",
        ),
        (
            "test_wrong_return.py",
            "TestWrongReturn::test_resolve_by_id[github]",
            "errors",
            "*TestWrongReturn.create_vault must return a SeededVault, got <class 'tuple'>*",
        ),
        (
            "test_no_entry_point.py",
            "TestNoEntryPoint::test_entry_point_registers_the_backend",
            "failed",
            "*TestNoEntryPoint.entry_point is not set*",
        ),
        (
            "test_no_entry_point.py",
            "TestNoEntryPoint::test_scheme_is_unique_among_installed_plugins",
            "failed",
            "*TestNoEntryPoint.entry_point is not set*",
        ),
        (
            "test_plain_differs.py",
            "TestPlainDiffers::test_plain_fast_path_matches_the_models",
            "failed",
            "*fetch_plain gave Credential(id=*), fetch gave Credential(id=*)*",
        ),
        (
            "test_claims_batching.py",
            "TestClaimsBatching::test_backend_batch_methods",
            "failed",
            "*supports_batch = True but the backend does not override fetch_many*",
        ),
    ],
)
def test_misuse_fails_with_readable_messages(
    memory_plugin: pytest.Pytester, module: str, test: str, outcome: str, message: str
) -> None:
    memory_plugin.makepyfile(**{module.removesuffix(".py"): HEADER + MISUSE[module]})
    result = memory_plugin.runpytest(*INNER, f"{module}::{test}")
    result.assert_outcomes(**{outcome: 1})
    result.stdout.fnmatch_lines([message])
