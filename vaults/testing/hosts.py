"""Plugin hosts for tests: only the plugins a test names, and no unknown hooks."""

from __future__ import annotations

from collections.abc import Iterable

from vaults.host import PluginHost, make_host

__all__ = ["make_test_host"]


def make_test_host(
    names: Iterable[str] = (),
    *,
    plugins: Iterable[tuple[str, object]] = (),
    builtins: bool = True,
) -> PluginHost:
    """A fresh host loading only the entry points (or distributions) called ``names`` plus
    the ``(name, module)`` pairs in ``plugins``; fails when a named plugin is missing or broken,
    or implements a hook vaults does not specify (``pm.check_pending()``)."""
    wanted = [name for name in names if name]
    host = make_host(
        env={"VAULTS_LOAD_PLUGINS": ",".join(wanted)}, plugins=plugins, builtins=builtins
    )
    host.pm.check_pending()
    host.backends()
    loaded = {info.name for info in host.plugins} | {
        info.distribution for info in host.plugins if info.distribution
    }
    missing = [name for name in wanted if name not in loaded]
    assert not missing, f"vault plugins not installed: {missing}"
    broken = [f"{info.name}: {info.error}" for info in host.plugins if info.error]
    assert not broken, "vault plugins failed to load: " + "; ".join(broken)
    return host
