"""The pytest plugin's fixtures and marker, fixture modules from plugins, assert rewriting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest

import vaults.testing.contract
import vaults.testing.leaks
from vaults.host import PluginHost
from vaults.refs import parse_reference
from vaults.resolver import Vaults
from vaults.testing import FROZEN_TIME, STANDARD_SEED, FrozenClock, SeedItem
from vaults.testing.fakedist import write_dist_info
from vaults.testing.memory import MemoryBackend
from vaults.totp import code_for_entry

OUR_FIXTURES = {
    "vaults_host",
    "vaults_host_factory",
    "frozen_totp_time",
    "vault_seed",
    "memory_backend",
}

INNER = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")  # inner pytest runs: no slow extras


@pytest.fixture(scope="module")
def memory_distribution(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An installed-looking distribution whose entry point ``memtest`` registers MemoryBackend."""
    site = tmp_path_factory.mktemp("site")
    write_dist_info(
        site, "vaults-memtest", entry_points={"vaults": {"memtest": "vaults.testing.memory"}}
    )
    sys.path.insert(0, str(site))
    yield "memtest"
    sys.path.remove(str(site))


def test_vaults_host_without_marker_loads_no_plugin(vaults_host: PluginHost) -> None:
    assert [info.name for info in vaults_host.plugins] == ["vaults.builtin"]
    assert vaults_host.backends() == {}


@pytest.mark.vaults_plugins("memtest")
def test_vaults_host_loads_the_marked_plugins(
    memory_distribution: str, vaults_host: PluginHost
) -> None:
    assert [info.name for info in vaults_host.plugins] == ["vaults.builtin", "memtest"]
    assert vaults_host.backends()["memory"].backend is MemoryBackend


@pytest.mark.vaults_plugins("vaults-memtest")
def test_vaults_host_accepts_distribution_names(
    memory_distribution: str, vaults_host: PluginHost
) -> None:
    assert "memory" in vaults_host.backends()


def test_vaults_host_factory_fails_for_a_missing_plugin(
    vaults_host_factory: Callable[..., PluginHost],
) -> None:
    with pytest.raises(AssertionError, match="not installed: \\['no-such-plugin'\\]"):
        vaults_host_factory("no-such-plugin")


def test_vaults_host_factory_fails_for_a_broken_plugin(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    vaults_host_factory: Callable[..., PluginHost],
) -> None:
    site = tmp_path_factory.mktemp("broken")
    write_dist_info(site, "vaults-broken", entry_points={"vaults": {"broken": "no_such_module"}})
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(AssertionError, match="broken: ModuleNotFoundError"):
        vaults_host_factory("broken")


def test_frozen_totp_time_drives_the_host(
    frozen_totp_time: FrozenClock, memory_backend: MemoryBackend
) -> None:
    assert frozen_totp_time() == FROZEN_TIME
    github = next(item for item in STANDARD_SEED if item.key == "github")
    secret = github.totp_secret()
    assert secret is not None
    vaults = Vaults(env={}, backends=[memory_backend], clock=frozen_totp_time)
    first = vaults.resolve("memory://GitHub").totp
    assert first is not None and first.code == code_for_entry(secret, FROZEN_TIME).code
    assert frozen_totp_time.advance(30) == FROZEN_TIME + 30
    second = vaults.resolve("memory://GitHub").totp
    assert second is not None and second.valid_from == first.valid_from + 30
    frozen_totp_time.set(0)
    assert frozen_totp_time.now == 0.0 and repr(frozen_totp_time) == "FrozenClock(0.0)"


def test_vault_seed_is_the_standard_seed(vault_seed: tuple[SeedItem, ...]) -> None:
    assert vault_seed is STANDARD_SEED


def test_memory_backend_holds_the_seed(memory_backend: MemoryBackend) -> None:
    assert set(memory_backend.seed_ids) == {item.key for item in STANDARD_SEED}
    cred = memory_backend.fetch(parse_reference(f"memory://{memory_backend.seed_ids['unicode']}"))
    assert cred.name.startswith("Zürich")


def test_nothing_is_autouse(request: pytest.FixtureRequest) -> None:
    assert not OUR_FIXTURES & set(request.fixturenames)


def test_contract_and_leak_modules_are_assert_rewritten() -> None:
    for module in (vaults.testing.contract, vaults.testing.leaks):
        assert "@py_builtins" in vars(module), f"{module.__name__} is not assert-rewritten"


def test_the_marker_is_registered(pytestconfig: pytest.Config) -> None:
    assert any(line.startswith("vaults_plugins(") for line in pytestconfig.getini("markers"))


FIXTURE_MODULE = """
import pytest


@pytest.fixture(scope="session")
def myvault_server():
    return "http://127.0.0.1:1"
"""
USES_IT = """
def test_uses_the_plugin_fixture(myvault_server):
    assert myvault_server.startswith("http://127.0.0.1")
"""


def _fixture_plugin(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(myvault_fixtures=FIXTURE_MODULE, test_it=USES_IT)
    site = pytester.path / "site"
    write_dist_info(
        site,
        "vaults-myvault",
        entry_points={"vaults.testing": {"myvault": "myvault_fixtures"}},
    )
    pytester.syspathinsert(site)
    pytester.syspathinsert()


def test_fixture_modules_of_installed_plugins_are_loaded(pytester: pytest.Pytester) -> None:
    _fixture_plugin(pytester)
    pytester.runpytest(*INNER).assert_outcomes(passed=1)


def test_fixture_modules_can_be_turned_off_by_ini(pytester: pytest.Pytester) -> None:
    _fixture_plugin(pytester)
    pytester.makeini("[pytest]\nvaults_fixture_plugins = false\n")
    result = pytester.runpytest(*INNER)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'myvault_server' not found*"])


def test_fixture_modules_can_be_blocked_one_by_one(pytester: pytest.Pytester) -> None:
    _fixture_plugin(pytester)
    result = pytester.runpytest(*INNER, "-p", "no:myvault_fixtures")
    result.assert_outcomes(errors=1)


def test_fixture_modules_are_not_registered_twice(pytester: pytest.Pytester) -> None:
    _fixture_plugin(pytester)
    pytester.makeconftest('pytest_plugins = ["myvault_fixtures"]')
    pytester.runpytest(*INNER).assert_outcomes(passed=1)


def test_a_broken_fixture_module_is_a_warning_not_a_crash(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_it="def test_ok():\n    pass\n")
    site = pytester.path / "site"
    write_dist_info(
        site, "vaults-broken", entry_points={"vaults.testing": {"broken": "no_such_fixtures"}}
    )
    pytester.syspathinsert(site)
    result = pytester.runpytest(*INNER)
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*vaults: could not load the test fixtures 'no_such_fixtures'*No module named*"]
    )
