"""Builds the plugin manager: entry-point discovery (group ``vaults``), each load isolated.

A broken plugin is recorded in :attr:`PluginHost.plugins` (and shown by ``vaults plugins``);
it never stops the others. No manager exists at import time: call :func:`make_host`.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from vaults import hookspecs
from vaults.backend import VaultBackend
from vaults.errors import UnknownScheme
from vaults.markers import hookimpl

if TYPE_CHECKING:
    from vaults.codes.extract import ExtractedCode

__all__ = [
    "ENTRY_POINT_GROUP",
    "BackendEntry",
    "PluginHost",
    "PluginInfo",
    "hookimpl",
    "make_host",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME


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


@dataclass(frozen=True)
class BackendEntry:
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


class PluginHost:
    """A pluggy manager plus the typed calls the host makes (tox-4 style wrapper)."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.plugins: list[PluginInfo] = []
        self._backends: dict[str, BackendEntry] | None = None

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

    def load_entrypoints(self, env: Mapping[str, str]) -> None:
        wanted = _env_list(env, "VAULTS_LOAD_PLUGINS")
        disabled = _env_list(env, "VAULTS_DISABLED_PLUGINS") or set()
        for ep in sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
        ):
            dist = ep.dist.name if ep.dist is not None else None
            names = {ep.name} | ({dist} if dist else set())
            if wanted is not None and not names & wanted:
                continue
            if names & disabled:
                continue
            if self.pm.has_plugin(ep.name):
                continue
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
                continue
            self.add_plugin(loaded, ep.name, distribution=dist, version=version)

    # -- typed hook calls -----------------------------------------------------------
    def backends(self) -> dict[str, BackendEntry]:
        """scheme -> backend class, from every plugin's ``vaults_register_backends``; each
        plugin's registration is isolated (an exception is recorded on its PluginInfo)."""
        if self._backends is not None:
            return self._backends
        found: dict[str, BackendEntry] = {}
        infos = {info.name: info for info in self.plugins}
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
        entry = self.backends().get(scheme.lower())
        if entry is None:
            known = ", ".join(sorted(self.backends())) or "none installed"
            raise UnknownScheme(
                f"no vault plugin handles '{scheme}://' references (installed schemes: {known}); "
                f"see 'vaults plugins'"
            )
        return entry.backend

    def extract_code(self, content: str, source: str | None = None) -> ExtractedCode | None:
        """The first plugin answer to ``vaults_extract_code``, else the built-in extractor's."""
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
) -> PluginHost:
    """Build a fresh plugin host.

    ``env`` defaults to ``os.environ`` (``VAULTS_LOAD_PLUGINS``: comma list of plugin or
    distribution names to load, empty loads none; ``VAULTS_DISABLED_PLUGINS``: names to skip).
    ``plugins`` adds ``(name, module_or_object)`` pairs directly (used by tests).
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
        host.load_entrypoints(os.environ if env is None else env)
    return host
