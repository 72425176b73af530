"""Builds the plugin manager: entry-point discovery (group ``vaults``), each load isolated.

A broken plugin is recorded in :attr:`PluginHost.plugins` (and shown by ``vaults plugins``);
it never stops the others. No manager exists at import time: call :func:`make_host`.

Plugins may also declare the reference schemes they handle in the ``vaults.schemes``
entry-point group (name: the scheme, value: the same module as their ``vaults`` entry point).
A lazy host (``make_host(lazy=True)``, what :class:`~vaults.resolver.Vaults` uses) then imports
only the plugin that declares a scheme when it is first asked for it; a scheme nobody declares
loads every plugin, as does listing the backends or calling any other hook.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import pluggy

from vaults import hookspecs
from vaults.backend import VaultBackend
from vaults.entry_points import EntryPoint, entry_points
from vaults.errors import UnknownScheme
from vaults.markers import hookimpl

if TYPE_CHECKING:
    from vaults.codes.extract import ExtractedCode

__all__ = [
    "ENTRY_POINT_GROUP",
    "SCHEMES_GROUP",
    "BackendEntry",
    "PluginHost",
    "PluginInfo",
    "hookimpl",
    "make_host",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
SCHEMES_GROUP = f"{ENTRY_POINT_GROUP}.schemes"


@dataclass
class PluginInfo:
    """One installed (or attempted) plugin, as ``vaults plugins`` lists it."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    schemes: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "schemes": list(self.schemes),
            "hooks": list(self.hooks),
            "error": self.error,
        }


class BackendEntry(NamedTuple):
    scheme: str
    backend: type[VaultBackend]
    plugin: str


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _env_list(env: Mapping[str, str], name: str) -> set[str] | None:
    if name not in env:
        return None
    return {part.strip() for part in env[name].split(",") if part.strip()}


def _wanted_entry_points(
    env: Mapping[str, str],
) -> tuple[list[EntryPoint], dict[str, set[str]]]:
    """The ``vaults`` entry points that ``env`` lets load (sorted by name), and
    scheme -> values of the entry points declaring it in ``vaults.schemes``."""
    wanted = _env_list(env, "VAULTS_LOAD_PLUGINS")
    disabled = _env_list(env, "VAULTS_DISABLED_PLUGINS") or set()
    everything = entry_points([ENTRY_POINT_GROUP, SCHEMES_GROUP])  # one scan of the metadata
    chosen = []
    plugins = [ep for ep in everything if ep.group == ENTRY_POINT_GROUP]
    for ep in sorted(plugins, key=lambda e: e.name):
        dist = ep.dist.name if ep.dist is not None else None
        names = {ep.name} | ({dist} if dist else set())
        if wanted is not None and not names & wanted:
            continue
        if names & disabled:
            continue
        chosen.append(ep)
    declared: dict[str, set[str]] = {}
    for ep in (ep for ep in everything if ep.group == SCHEMES_GROUP):
        declared.setdefault(ep.name.lower(), set()).add(ep.value)
    return chosen, declared


class PluginHost:
    """A pluggy manager plus the typed calls the host makes (tox-4 style wrapper)."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.plugins: list[PluginInfo] = []
        self._backends: dict[str, BackendEntry] | None = None
        self._pending: list[EntryPoint] = []  # discovered, not loaded yet
        self._declared: dict[str, set[str]] = {}

    # -- registration -------------------------------------------------------------
    def add_plugin(
        self,
        plugin: object,
        name: str,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> PluginInfo:
        module = getattr(plugin, "__name__", type(plugin).__name__)
        info = PluginInfo(name=name, module=module, distribution=distribution, version=version)
        try:
            self.pm.register(plugin, name=name)
            info.hooks = sorted(
                caller.name
                for caller in self.pm.get_hookcallers(plugin) or []
                if caller.name.startswith("vaults_")
            )
        except Exception as exc:
            info.error = _describe(exc)
        self.plugins.append(info)
        self._backends = None
        return info

    def discover(self, env: Mapping[str, str]) -> None:
        """Find the installed plugins ``env`` allows, without importing any (see
        :meth:`load_pending` and :meth:`load_for_scheme`)."""
        self._pending, self._declared = _wanted_entry_points(env)

    def load_entrypoints(self, env: Mapping[str, str]) -> None:
        """Discover and import every allowed plugin."""
        self.discover(env)
        self.load_pending()

    def load_pending(self) -> None:
        """Import every discovered plugin not imported yet."""
        pending, self._pending = self._pending, []
        for ep in pending:
            self._load(ep)

    def load_for_scheme(self, scheme: str) -> None:
        """Import the plugins that declare ``scheme`` (``vaults.schemes``); when none does, or
        they do not register it after all, every remaining plugin."""
        values = self._declared.get(scheme.lower(), set())
        chosen = [ep for ep in self._pending if ep.value in values]
        if chosen:
            self._pending = [ep for ep in self._pending if ep not in chosen]
            for ep in chosen:
                self._load(ep)
            if scheme.lower() in self._compute_backends():
                return
        self.load_pending()

    def _load(self, ep: EntryPoint) -> None:
        if self.pm.has_plugin(ep.name):
            return
        dist = ep.dist.name if ep.dist is not None else None
        version = ep.dist.version if ep.dist is not None else None
        try:
            loaded = ep.load()
        except Exception as exc:
            self.plugins.append(
                PluginInfo(
                    name=ep.name,
                    module=ep.value,
                    distribution=dist,
                    version=version,
                    error=_describe(exc),
                )
            )
            self._backends = None
            return
        self.add_plugin(loaded, ep.name, distribution=dist, version=version)

    # -- typed hook calls -----------------------------------------------------------
    def backends(self) -> dict[str, BackendEntry]:
        """scheme -> backend class, from every plugin's ``vaults_register_backends``; each
        plugin's registration is isolated (an exception is recorded on its PluginInfo)."""
        self.load_pending()
        return self._compute_backends()

    def _compute_backends(self) -> dict[str, BackendEntry]:
        """:meth:`backends` of the plugins imported so far."""
        if self._backends is not None:
            return self._backends
        found: dict[str, BackendEntry] = {}
        infos = {info.name: info for info in self.plugins}
        for known in infos.values():
            known.schemes = []
        for impl in reversed(self.pm.hook.vaults_register_backends.get_hookimpls()):
            info = infos.get(impl.plugin_name)
            if info is None:
                info = PluginInfo(name=impl.plugin_name, module=impl.plugin_name)
                self.plugins.append(info)
                infos[info.name] = info

            def register(backend: type[VaultBackend], _info: PluginInfo = info) -> None:
                if not (isinstance(backend, type) and issubclass(backend, VaultBackend)):
                    raise TypeError(f"{backend!r} is not a VaultBackend subclass")
                scheme = getattr(backend, "scheme", "")
                if not isinstance(scheme, str) or not scheme:
                    raise TypeError(f"{backend.__name__} has no scheme")
                scheme = scheme.lower()
                if scheme in found:
                    raise ValueError(
                        f"scheme {scheme!r} is already registered by plugin "
                        f"{found[scheme].plugin!r}"
                    )
                found[scheme] = BackendEntry(scheme, backend, _info.name)
                _info.schemes.append(scheme)

            try:
                impl.function(register=register)
            except Exception as exc:
                info.error = _describe(exc)
        self._backends = found
        return found

    def backend_class(self, scheme: str) -> type[VaultBackend]:
        entry = self._compute_backends().get(scheme.lower())
        if entry is None and self._pending:
            self.load_for_scheme(scheme)
            entry = self._compute_backends().get(scheme.lower())
        if entry is None:
            known = ", ".join(sorted(self.backends())) or "none installed"
            raise UnknownScheme(
                f"no vault plugin handles '{scheme}://' references (installed schemes: {known}); "
                f"see 'vaults plugins'"
            )
        return entry.backend

    def extract_code(self, content: str, source: str | None = None) -> ExtractedCode | None:
        """The first plugin answer to ``vaults_extract_code``, else the built-in extractor's."""
        self.load_pending()
        result: ExtractedCode | None = self.pm.hook.vaults_extract_code(
            content=content, source=source
        )
        return result


def make_host(
    *,
    env: Mapping[str, str] | None = None,
    load_entrypoints: bool = True,
    plugins: Iterable[tuple[str, object]] = (),
    builtins: bool = True,
    lazy: bool = False,
) -> PluginHost:
    """Build a fresh plugin host.

    ``env`` defaults to ``os.environ`` (``VAULTS_LOAD_PLUGINS``: comma list of plugin or
    distribution names to load, empty loads none; ``VAULTS_DISABLED_PLUGINS``: names to skip).
    ``plugins`` adds ``(name, module_or_object)`` pairs directly (used by tests).
    ``lazy=True`` discovers the entry points but imports a plugin only when a scheme it
    declares is asked for (:meth:`PluginHost.backend_class`) or every plugin is needed.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm)
    if builtins:
        from vaults import builtin_hooks

        host.add_plugin(builtin_hooks, "vaults.builtin")
    for name, plugin in plugins:
        host.add_plugin(plugin, name)
    if load_entrypoints:
        host.discover(os.environ if env is None else env)
        if not lazy:
            host.load_pending()
    return host
