"""Installed entry points, read straight from the ``*.dist-info`` / ``*.egg-info`` folders on
``sys.path`` — what :func:`importlib.metadata.entry_points` finds for plain directories, at a
fraction of its start-up cost (importing :mod:`importlib.metadata` and scanning every
distribution through it costs more than a CLI call's whole budget).

The first distribution of a name on ``sys.path`` wins, as with :mod:`importlib.metadata`.
Distributions inside zip files are not looked at (plugins are never installed that way).
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterable
from typing import Any, NamedTuple

__all__ = ["EntryPoint", "entry_points"]

_SUFFIXES = (".dist-info", ".egg-info")
_VALUE = re.compile(r"^(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+))?\s*(\[.*\])?\s*$")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


class Distribution:
    """Name and version of an installed distribution (read from its metadata on demand).
    A plain class, not a dataclass: building one at import costs a CLI call more than all
    the reading it does."""

    __slots__ = ("_header", "fallback_name", "fallback_version", "folder")

    def __init__(self, folder: str, fallback_name: str, fallback_version: str | None) -> None:
        self.folder = folder
        self.fallback_name = fallback_name
        self.fallback_version = fallback_version
        self._header: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Distribution(folder={self.folder!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Distribution) and other.folder == self.folder

    def __hash__(self) -> int:
        return hash(self.folder)

    def _read_header(self) -> dict[str, str]:
        if not self._header:
            found: dict[str, str] = {}
            for filename in ("METADATA", "PKG-INFO"):
                try:
                    with open(os.path.join(self.folder, filename), encoding="utf-8") as fh:
                        for line in fh:
                            if not line.strip():
                                break  # the headers end at the first blank line
                            key, sep, value = line.partition(":")
                            if sep and key in ("Name", "Version"):
                                found.setdefault(key, value.strip())
                except OSError:
                    continue
                break
            self._header.update(found or {"": ""})
        return self._header

    @property
    def name(self) -> str:
        return self._read_header().get("Name") or self.fallback_name

    @property
    def version(self) -> str | None:
        return self._read_header().get("Version") or self.fallback_version


class EntryPoint(NamedTuple):
    """One entry point: ``name = module[:attr]`` in ``group``, of ``dist``."""

    name: str
    value: str
    group: str
    dist: Distribution | None = None

    def load(self) -> Any:
        """Import the module and return the object the entry point names."""
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r}")
        obj: Any = importlib.import_module(match["module"])
        for attr in (match["attr"] or "").split(".") if match["attr"] else ():
            obj = getattr(obj, attr)
        return obj


def _parse(text: str, groups: frozenset[str], dist: Distribution) -> list[EntryPoint]:
    found: list[EntryPoint] = []
    group: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            continue
        if group not in groups:
            continue
        name, sep, value = line.partition("=")
        if sep:
            found.append(EntryPoint(name.strip(), value.strip(), group, dist))
    return found


def entry_points(groups: Iterable[str], path: Iterable[str] | None = None) -> list[EntryPoint]:
    """The entry points of ``groups`` declared by the distributions on ``path`` (default
    ``sys.path``), in path order."""
    wanted = frozenset(groups)
    seen: set[str] = set()
    found: list[EntryPoint] = []
    for base in sys.path if path is None else path:
        try:
            names = sorted(os.listdir(base or "."))
        except OSError:
            continue
        for name in names:
            if not name.endswith(_SUFFIXES):
                continue
            stem = name.rsplit(".", 1)[0]
            dist_name, _, version = stem.partition("-")
            key = _normalize(dist_name)
            if key in seen:
                continue
            seen.add(key)
            folder = os.path.join(base or ".", name)
            try:
                with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as fh:
                    text = fh.read()
            except OSError:
                continue
            if not any(f"[{group}]" in text for group in wanted):
                continue
            dist = Distribution(folder, dist_name, version or None)
            found.extend(_parse(text, wanted, dist))
    return found


if __name__ == "__main__":  # pragma: no cover - a debugging aid
    for ep in entry_points(sys.argv[1:] or ["vaults"]):
        print(ep.group, ep.name, ep.value, ep.dist.name if ep.dist else "-")
