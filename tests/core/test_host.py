"""make_host: entry-point discovery, env filters, isolation of broken plugins."""

from __future__ import annotations

import importlib.metadata
import types
from collections.abc import Callable

import pytest

from tests.core.conftest import FakeSite, backend_plugin
from vaults.backend import VaultBackend
from vaults.errors import UnknownScheme
from vaults.host import ENTRY_POINT_GROUP, PluginHost, make_host
from vaults.markers import hookimpl
from vaults.resolver import Vaults

FETCH_OK = "return Credential(vault=self.scheme, id='1', name=ref.path)"


def names(host: PluginHost) -> set[str]:
    return {info.name for info in host.plugins if info.name != "vaults.builtin"}


def info_of(host: PluginHost, name: str):  # type: ignore[no-untyped-def]
    return next(info for info in host.plugins if info.name == name)


def keepass_installed() -> bool:
    return any(ep.name == "keepass" for ep in importlib.metadata.entry_points(group="vaults"))


@pytest.fixture
def two_plugins(fake_site: FakeSite) -> tuple[str, str]:
    """Installs distributions vaults-alpha (scheme alpha) and vaults-beta (scheme beta)."""
    alpha = fake_site.module("vaults_core_alpha", backend_plugin("alpha", FETCH_OK))
    beta = fake_site.module("vaults_core_beta", backend_plugin("beta", FETCH_OK))
    fake_site.dist("vaults-alpha", {"alpha": alpha}, version="1.2.3")
    fake_site.dist("vaults-beta", {"beta": beta})
    return alpha, beta


def test_entry_point_group_is_vaults() -> None:
    assert ENTRY_POINT_GROUP == "vaults"


def test_builtins_only_when_nothing_is_loaded() -> None:
    host = make_host(env={"VAULTS_LOAD_PLUGINS": ""})
    assert [info.name for info in host.plugins] == ["vaults.builtin"]
    assert host.backends() == {}
    host.pm.check_pending()


def test_no_builtins() -> None:
    host = make_host(env={"VAULTS_LOAD_PLUGINS": ""}, builtins=False)
    assert host.plugins == []


def test_all_installed_plugins_load(two_plugins: tuple[str, str]) -> None:
    host = make_host(env={})
    assert {"alpha", "beta"} <= names(host)
    backends = host.backends()
    assert backends["alpha"].plugin == "alpha" and backends["beta"].plugin == "beta"
    info = info_of(host, "alpha")
    assert (info.distribution, info.version, info.schemes) == ("vaults-alpha", "1.2.3", ["alpha"])
    assert info.hooks == ["vaults_register_backends"]
    assert info.error is None
    host.pm.check_pending()


def test_load_plugins_by_entry_point_or_distribution_name(two_plugins: tuple[str, str]) -> None:
    assert names(make_host(env={"VAULTS_LOAD_PLUGINS": "alpha"})) == {"alpha"}
    assert names(make_host(env={"VAULTS_LOAD_PLUGINS": " vaults-beta , "})) == {"beta"}
    assert names(make_host(env={"VAULTS_LOAD_PLUGINS": "alpha,beta"})) == {"alpha", "beta"}
    assert names(make_host(env={"VAULTS_LOAD_PLUGINS": "nothing-like-that"})) == set()


@pytest.mark.skipif(not keepass_installed(), reason="vaults-keepass is not installed")
def test_load_only_keepass(two_plugins: tuple[str, str]) -> None:
    host = make_host(env={"VAULTS_LOAD_PLUGINS": "keepass"})
    assert names(host) == {"keepass"}
    assert list(host.backends()) == ["keepass"]
    host.pm.check_pending()
    disabled = make_host(env={"VAULTS_DISABLED_PLUGINS": "vaults-keepass"})
    assert "keepass" not in names(disabled)
    assert {"alpha", "beta"} <= names(disabled)


def test_disabled_plugins(two_plugins: tuple[str, str]) -> None:
    host = make_host(env={"VAULTS_DISABLED_PLUGINS": "alpha"})
    assert "alpha" not in names(host) and "beta" in names(host)
    both = make_host(env={"VAULTS_LOAD_PLUGINS": "alpha,beta", "VAULTS_DISABLED_PLUGINS": "beta"})
    assert names(both) == {"alpha"}


def test_env_defaults_to_os_environ(
    two_plugins: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULTS_LOAD_PLUGINS", "beta")
    assert names(make_host()) == {"beta"}


def test_import_failure_is_reported_and_others_load(
    fake_site: FakeSite, two_plugins: tuple[str, str]
) -> None:
    crashing = fake_site.module("vaults_core_crash", "raise RuntimeError('boom at import')\n")
    fake_site.dist(
        "vaults-broken",
        {"missing": "vaults_core_no_such_module_5d1c", "crashing": crashing},
        version="0.9",
    )
    host = make_host(env={"VAULTS_LOAD_PLUGINS": "vaults-broken,alpha,beta"})
    missing = info_of(host, "missing")
    assert missing.error is not None and "ModuleNotFoundError" in missing.error
    assert (missing.distribution, missing.version) == ("vaults-broken", "0.9")
    assert missing.module == "vaults_core_no_such_module_5d1c"
    crash = info_of(host, "crashing")
    assert crash.error == "RuntimeError: boom at import"
    assert set(host.backends()) == {"alpha", "beta"}
    assert info_of(host, "alpha").error is None
    host.pm.check_pending()
    data = missing.as_dict()
    assert data["error"] == missing.error and data["schemes"] == []


def test_register_hook_that_raises_is_isolated(
    fake_site: FakeSite, two_plugins: tuple[str, str]
) -> None:
    bad = fake_site.module(
        "vaults_core_badreg",
        """
        from vaults.markers import hookimpl

        @hookimpl
        def vaults_register_backends(register):
            raise RuntimeError("cannot register today")
        """,
    )
    fake_site.dist("vaults-badreg", {"badreg": bad})
    host = make_host(env={"VAULTS_LOAD_PLUGINS": "badreg,alpha,beta"})
    backends = host.backends()
    assert set(backends) == {"alpha", "beta"}
    assert info_of(host, "badreg").error == "RuntimeError: cannot register today"
    assert info_of(host, "alpha").error is None


def test_registering_a_non_backend_is_reported(fake_site: FakeSite) -> None:
    bad = fake_site.module(
        "vaults_core_notbackend",
        """
        from vaults.markers import hookimpl

        class NotABackend:
            scheme = "nope"

        @hookimpl
        def vaults_register_backends(register):
            register(NotABackend)
        """,
    )
    fake_site.dist("vaults-notbackend", {"notbackend": bad})
    host = make_host(env={"VAULTS_LOAD_PLUGINS": "notbackend"})
    assert host.backends() == {}
    error = info_of(host, "notbackend").error
    assert error is not None and error.startswith("TypeError") and "VaultBackend" in error


def test_backend_without_scheme_is_reported() -> None:
    class NoScheme(VaultBackend):
        def fetch(self, ref):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    plugin = types.SimpleNamespace(
        vaults_register_backends=hookimpl(lambda register: register(NoScheme))
    )
    host = make_host(env={}, load_entrypoints=False, plugins=[("noscheme", plugin)])
    assert host.backends() == {}
    assert "has no scheme" in (info_of(host, "noscheme").error or "")


def test_duplicate_scheme_is_reported(fake_site: FakeSite) -> None:
    first = fake_site.module("vaults_core_dup1", backend_plugin("dupe", FETCH_OK))
    second = fake_site.module("vaults_core_dup2", backend_plugin("dupe", FETCH_OK))
    fake_site.dist("vaults-dup", {"dup1": first, "dup2": second})
    host = make_host(env={"VAULTS_LOAD_PLUGINS": "vaults-dup"})
    backends = host.backends()
    assert list(backends) == ["dupe"]
    owner = backends["dupe"].plugin
    loser = ({"dup1", "dup2"} - {owner}).pop()
    error = info_of(host, loser).error
    assert error is not None
    assert "'dupe'" in error and "already registered" in error and owner in error
    assert info_of(host, owner).error is None
    assert info_of(host, owner).schemes == ["dupe"]


def test_invalid_hookimpl_signature_is_reported_and_not_registered() -> None:
    @hookimpl
    def vaults_register_backends(wrong_name: Callable[..., None]) -> None:
        raise AssertionError("must never be called")

    plugin = types.SimpleNamespace(vaults_register_backends=vaults_register_backends)
    host = make_host(env={}, load_entrypoints=False, plugins=[("wrongsig", plugin)])
    assert "PluginValidationError" in (info_of(host, "wrongsig").error or "")
    assert not host.pm.has_plugin("wrongsig")
    assert host.backends() == {}
    host.pm.check_pending()


def test_unknown_scheme_lists_installed_schemes(two_plugins: tuple[str, str]) -> None:
    host = make_host(env={"VAULTS_LOAD_PLUGINS": "alpha,beta"})
    with pytest.raises(UnknownScheme) as info:
        host.backend_class("nope")
    message = str(info.value)
    assert "'nope://'" in message and "alpha, beta" in message
    assert info.value.exit_code == 2
    with pytest.raises(UnknownScheme, match="none installed"):
        make_host(env={"VAULTS_LOAD_PLUGINS": ""}).backend_class("alpha")
    assert host.backend_class("ALPHA").scheme == "alpha"


def test_resolving_through_an_entry_point_plugin(two_plugins: tuple[str, str]) -> None:
    with Vaults(env={"VAULTS_LOAD_PLUGINS": "alpha"}) as vaults:
        cred = vaults.resolve("alpha://Some Item")
        assert (cred.vault, cred.name, cred.ref) == ("alpha", "Some Item", "alpha://Some Item")
        with pytest.raises(UnknownScheme):
            vaults.resolve("beta://x")


def test_backends_cached_until_a_plugin_is_added() -> None:
    host = make_host(env={"VAULTS_LOAD_PLUGINS": ""})
    first = host.backends()
    assert host.backends() is first

    class Late(VaultBackend):
        scheme = "late"

        def fetch(self, ref):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    plugin = types.SimpleNamespace(
        vaults_register_backends=hookimpl(lambda register: register(Late))
    )
    host.add_plugin(plugin, "late")
    assert host.backends()["late"].backend is Late


def test_each_host_is_fresh(two_plugins: tuple[str, str]) -> None:
    one = make_host(env={"VAULTS_LOAD_PLUGINS": "alpha"})
    two = make_host(env={"VAULTS_LOAD_PLUGINS": "alpha"})
    assert one.pm is not two.pm
    assert one.backends()["alpha"].backend is two.backends()["alpha"].backend
