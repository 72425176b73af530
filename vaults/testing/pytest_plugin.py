"""The ``vaults`` pytest plugin (entry point ``pytest11``): fixtures and markers only.

Nothing here is autouse. It also loads the test-fixture modules installed vault plugins
declare under the entry-point group ``vaults.testing`` (local vault servers and the like);
opt out with the ini option ``vaults_fixture_plugins = false``.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Iterator

import pytest

from vaults.host import PluginHost
from vaults.testing.clock import FrozenClock
from vaults.testing.hosts import make_test_host
from vaults.testing.memory import MemoryBackend
from vaults.testing.seed import STANDARD_SEED, SeedItem

__all__ = [
    "FIXTURE_GROUP",
    "frozen_totp_time",
    "memory_backend",
    "vault_seed",
    "vaults_host",
    "vaults_host_factory",
]

FIXTURE_GROUP = "vaults.testing"
"""Entry-point group of pytest fixture modules shipped by vault plugins."""

HostFactory = Callable[..., PluginHost]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "vaults_fixture_plugins",
        "load the pytest fixture modules installed vault plugins declare "
        f"(entry-point group {FIXTURE_GROUP!r})",
        type="bool",
        default=True,
    )


def fixture_modules() -> list[str]:
    """Module names declared under the ``vaults.testing`` entry-point group, sorted."""
    return sorted({ep.value for ep in importlib.metadata.entry_points(group=FIXTURE_GROUP)})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "vaults_plugins(*names): the vault plugins (entry-point or distribution names) the "
        "vaults_host fixture loads; without the marker it loads none",
    )
    if not config.getini("vaults_fixture_plugins"):
        return
    for module in fixture_modules():
        # registered under its module name: `-p no:MODULE` blocks it, and a
        # `pytest_plugins = [MODULE]` elsewhere does not register it twice
        try:
            config.pluginmanager.import_plugin(module)
        except Exception as exc:
            # one broken vault plugin must not stop every test run of the host application
            config.issue_config_time_warning(
                pytest.PytestConfigWarning(
                    f"vaults: could not load the test fixtures {module!r} "
                    f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
                ),
                stacklevel=2,
            )


def _marked_names(request: pytest.FixtureRequest) -> list[str]:
    names: list[str] = []
    for marker in request.node.iter_markers("vaults_plugins"):
        names.extend(str(arg) for arg in marker.args)
    return names


@pytest.fixture
def vaults_host_factory() -> HostFactory:
    """``factory(*names, plugins=(), builtins=True) -> PluginHost``: a fresh host loading only
    the named installed plugins (and ``(name, module)`` pairs), checked with ``check_pending``."""

    def factory(
        *names: str, plugins: Iterable[tuple[str, object]] = (), builtins: bool = True
    ) -> PluginHost:
        return make_test_host(names, plugins=plugins, builtins=builtins)

    return factory


@pytest.fixture
def vaults_host(request: pytest.FixtureRequest, vaults_host_factory: HostFactory) -> PluginHost:
    """A fresh plugin host per test with the plugins named by ``@pytest.mark.vaults_plugins``."""
    return vaults_host_factory(*_marked_names(request))


@pytest.fixture
def frozen_totp_time() -> FrozenClock:
    """A deterministic clock: ``Vaults(clock=frozen_totp_time)``; ``.set()``/``.advance()``."""
    return FrozenClock()


@pytest.fixture(scope="session")
def vault_seed() -> tuple[SeedItem, ...]:
    """The standard seed (see :mod:`vaults.testing.seed`)."""
    return STANDARD_SEED


@pytest.fixture
def memory_backend() -> Iterator[MemoryBackend]:
    """A :class:`MemoryBackend` holding the standard seed (``.seed_ids``: seed key -> id)."""
    backend, _ = MemoryBackend.from_seed(STANDARD_SEED)
    yield backend
    backend.close()
