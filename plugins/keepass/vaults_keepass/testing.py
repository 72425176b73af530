"""Build KeePass databases for tests and the demo (real KDBX 4 files, via pykeepass)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

__all__ = ["EntrySpec", "create_database"]


@dataclass(frozen=True)
class EntrySpec:
    """One entry to write. ``attributes`` are extra string fields (``otp``, ``TOTP Seed``,
    ``TimeOtp-*``, custom fields); names in ``protected`` are stored protected. ``uuid``
    (32 hex digits) fixes the entry's UUID, e.g. so the demo's ids are the same every run."""

    title: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    url: str | None = None
    group: Sequence[str] = ()
    attributes: Mapping[str, str] = field(default_factory=dict, repr=False)
    protected: frozenset[str] = frozenset()
    recycled: bool = False
    uuid: str | None = None


def _group(kp: Any, path: Sequence[str]) -> Any:
    group = kp.root_group
    for name in path:
        child = next((g for g in group.subgroups if g.name == name), None)
        group = child if child is not None else kp.add_group(group, name)
    return group


def create_database(
    path: str | os.PathLike[str],
    password: str | None,
    entries: Iterable[EntrySpec],
    *,
    keyfile: str | os.PathLike[str] | None = None,
    fast_kdf: bool = True,
) -> dict[int, str]:
    """Write a KDBX 4 database; returns entry index -> UUID hex.

    ``fast_kdf`` lowers the Argon2 cost (1 MiB, 1 pass) so tests open it quickly; the demo
    keeps it low too. Real databases use KeePass defaults.
    """
    from pykeepass import create_database as _create

    kp = _create(str(path), password=password, keyfile=str(keyfile) if keyfile else None)
    if fast_kdf:
        params = kp.kdbx.header.value.dynamic_header.kdf_parameters.data.dict
        params.I.value = 1
        params.M.value = 1024 * 1024
    ids: dict[int, str] = {}
    for index, spec in enumerate(entries):
        group = _group(kp, spec.group)
        # pykeepass searches titles with XPath before adding (quotes break it): add under a
        # placeholder title, then set the real one
        entry = kp.add_entry(
            group,
            f"entry-{index}",
            spec.username or "",
            spec.password or "",
            url=spec.url,
            force_creation=True,
        )
        entry.title = spec.title
        if spec.uuid is not None:
            entry.uuid = UUID(hex=spec.uuid)
        for key, value in spec.attributes.items():
            if key == "otp":
                entry.otp = value
            else:
                entry.set_custom_property(key, value, protect=key in spec.protected)
        if spec.recycled:
            kp.trash_entry(entry)
        ids[index] = entry.uuid.hex
    kp.save()
    return ids
