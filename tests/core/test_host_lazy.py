"""The lazy host (what ``Vaults`` uses): a scheme declared in ``vaults.schemes`` imports only
the plugin declaring it; undeclared schemes, listings and other hooks load every plugin."""

from __future__ import annotations

import sys

from tests.core.conftest import FakeSite, backend_plugin
from vaults.entry_points import entry_points
from vaults.host import SCHEMES_GROUP, make_host
from vaults.testing.fakedist import write_dist_info

FETCH_OK = "return Credential(vault=self.scheme, id='1', name=ref.path)"


def install(site: FakeSite, name: str, scheme: str, *, declare: bool) -> str:
    module = site.module(f"vaults_lazy_{name}", backend_plugin(scheme, FETCH_OK))
    groups = {"vaults": {name: module}}
    if declare:
        groups[SCHEMES_GROUP] = {scheme: module}
    write_dist_info(site.root, f"vaults-{name}", "1.0", entry_points=groups)
    return module


def test_a_declared_scheme_imports_only_its_plugin(fake_site: FakeSite) -> None:
    wanted = install(fake_site, "lzone", "lzone", declare=True)
    other = install(fake_site, "lztwo", "lztwo", declare=True)
    host = make_host(env={}, lazy=True)
    assert wanted not in sys.modules and other not in sys.modules
    assert host.backend_class("lzone").scheme == "lzone"
    assert wanted in sys.modules
    assert other not in sys.modules, "the other plugin was imported for nothing"
    assert {p.name for p in host.plugins} == {"vaults.builtin", "lzone"}
    # listing the backends (vaults plugins) loads everything
    assert {"lzone", "lztwo"} <= set(host.backends())
    assert other in sys.modules


def test_an_undeclared_scheme_loads_every_plugin(fake_site: FakeSite) -> None:
    declared = install(fake_site, "lzthree", "lzthree", declare=True)
    install(fake_site, "lzfour", "lzfour", declare=False)
    host = make_host(env={}, lazy=True)
    assert host.backend_class("lzfour").scheme == "lzfour"
    assert declared in sys.modules


def test_a_wrong_declaration_falls_back_to_every_plugin(fake_site: FakeSite) -> None:
    liar = fake_site.module("vaults_lazy_liar", backend_plugin("lzreal", FETCH_OK))
    write_dist_info(
        fake_site.root,
        "vaults-liar",
        entry_points={"vaults": {"liar": liar}, SCHEMES_GROUP: {"lzclaimed": liar}},
    )
    install(fake_site, "lzfive", "lzclaimed", declare=False)
    host = make_host(env={}, lazy=True)
    assert host.backend_class("lzclaimed").scheme == "lzclaimed"
    assert {"lzreal", "lzclaimed"} <= set(host.backends())


def test_entry_points_match_importlib_metadata(fake_site: FakeSite) -> None:
    import importlib.metadata

    install(fake_site, "lzsix", "lzsix", declare=True)
    ours = {(ep.group, ep.name, ep.value) for ep in entry_points(["vaults", SCHEMES_GROUP])}
    theirs = {
        (ep.group, ep.name, ep.value)
        for group in ("vaults", SCHEMES_GROUP)
        for ep in importlib.metadata.entry_points(group=group)
    }
    assert ours == theirs
    (found,) = [ep for ep in entry_points(["vaults"]) if ep.name == "lzsix"]
    assert found.dist is not None
    assert (found.dist.name, found.dist.version) == ("vaults-lzsix", "1.0")
