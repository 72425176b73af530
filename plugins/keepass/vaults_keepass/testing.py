"""Build KeePass databases for tests and the demo (real KDBX 4 files, via pykeepass)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

__all__ = ["REQUIRE_KEEPASSXC_ENV", "EntrySpec", "KeePassXCCli", "create_database"]


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


# -- the real KeePassXC CLI (Debian package keepassxc) -------------------------------------
REQUIRE_KEEPASSXC_ENV = "VAULTS_REQUIRE_KEEPASSXC"


@dataclass(frozen=True)
class KeePassXCCli:
    """Runs ``keepassxc-cli`` on a database (password on stdin, never in argv)."""

    binary: str

    @classmethod
    def find(cls) -> KeePassXCCli | None:
        import shutil

        found = shutil.which("keepassxc-cli")
        return cls(found) if found else None

    def run(
        self,
        *args: str,
        database: str | os.PathLike[str],
        password: str | None,
        keyfile: str | os.PathLike[str] | None = None,
        timeout: float = 60,
    ) -> str:
        """``keepassxc-cli COMMAND [OPTIONS] [-k KEYFILE] [--no-password] DATABASE ARGS…``
        (``args``: the command, then its options and arguments); stdout."""
        import subprocess

        command, *rest = args
        options = ["-q", *(a for a in rest if a.startswith("-"))]
        rest = [a for a in rest if not a.startswith("-")]
        if keyfile is not None:
            options += ["-k", str(keyfile)]
        if password is None:
            options.append("--no-password")
        result = subprocess.run(
            [self.binary, command, *options, str(database), *rest],
            input=None if password is None else password + "\n",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LANG": "C.UTF-8", "QT_QPA_PLATFORM": "offscreen"},
        )
        if result.returncode != 0:
            raise AssertionError(
                f"keepassxc-cli {command} failed (exit {result.returncode}): "
                f"{result.stderr.strip()[:500]}"
            )
        return result.stdout

    def totp(
        self,
        database: str | os.PathLike[str],
        entry: str,
        password: str | None,
        keyfile: str | os.PathLike[str] | None = None,
    ) -> str:
        """The entry's current code as KeePassXC computes it (``show -t``; ``entry`` is
        ``/Group/Title`` or a title)."""
        out = self.run("show", "-t", entry, database=database, password=password, keyfile=keyfile)
        return out.strip().splitlines()[-1].strip()

    def export_xml(
        self,
        database: str | os.PathLike[str],
        password: str | None,
        keyfile: str | os.PathLike[str] | None = None,
    ) -> str:
        """The decrypted database as KeePassXC exports it (``export -f xml``)."""
        return self.run(
            "export", "--format=xml", database=database, password=password, keyfile=keyfile
        )
