"""Shared helpers for the host-core tests: a canary, a dict-backed backend, throwaway
installed plugins (``*.dist-info`` folders on ``sys.path``) and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import SecretStr

from vaults.backend import VaultBackend
from vaults.errors import ItemNotFound, VaultsError
from vaults.models import Credential
from vaults.refs import Reference
from vaults.totp import parse_secret

CANARY = "VAULTSCANARY"
"""Every secret in these tests contains it; it must never show where secrets must not."""

# a base32 secret that contains the canary (all of V A U L T S C N R Y are base32 letters)
CANARY_SECRET = "VAULTSCANARYSECRETQ234567ABCDEFG"
CANARY_PASSWORD = f"pw-{CANARY}-pässwörd $;&|\\\"'"

VAULTS_BIN = str(Path(sys.executable).with_name("vaults"))


@dataclass
class Item:
    id: str
    name: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    totp: str | None = field(default=None, repr=False)


class DictBackend(VaultBackend):
    """A dict-backed backend for resolver tests: ``dict://ID-or-name``. It counts calls."""

    scheme: ClassVar[str] = "dict"

    def __init__(self, items: Sequence[Item] = (), *, scheme: str | None = None) -> None:
        if scheme is not None:
            self.scheme = scheme  # type: ignore[misc]
        self.items = {item.id: item for item in items}
        self.fetch_calls: list[str] = []
        self.fetch_many_calls: list[list[str]] = []

    def find(self, ref: Reference) -> Item:
        wanted = ref.path
        if wanted in self.items:
            return self.items[wanted]
        for item in self.items.values():
            if item.name == wanted:
                return item
        raise ItemNotFound(f"no item {wanted!r} in the {self.scheme} vault")

    def fetch(self, ref: Reference) -> Credential:
        self.fetch_calls.append(ref.raw)
        item = self.find(ref)
        return Credential(
            vault=self.scheme,
            id=item.id,
            name=item.name,
            username=item.username,
            password=SecretStr(item.password) if item.password is not None else None,
            totp_secret=parse_secret(item.totp) if item.totp else None,
        )

    def fetch_many(self, refs: Sequence[Reference]) -> list[Credential | VaultsError]:
        self.fetch_many_calls.append([r.raw for r in refs])
        return super().fetch_many(refs)

    def __repr__(self) -> str:
        return f"DictBackend(scheme={self.scheme!r}, items={len(self.items)})"


@pytest.fixture
def dict_backend() -> DictBackend:
    return DictBackend(
        [
            Item("1", "GitHub", "octocat", CANARY_PASSWORD, CANARY_SECRET),
            Item("2", "Mail", "alice", f"mail-{CANARY}"),
            Item("3", "Steam", "gaben", f"steam-{CANARY}", f"steam://{CANARY_SECRET}"),
        ]
    )


# -- throwaway installed plugins ----------------------------------------------------------


@dataclass
class FakeSite:
    """A directory on ``sys.path`` holding throwaway plugin modules and their dist-info."""

    root: Path
    modules: list[str] = field(default_factory=list)

    def module(self, stem: str, source: str) -> str:
        """Write a module with a unique name (``stem`` + random suffix); returns the name."""
        name = f"{stem}_{uuid.uuid4().hex[:8]}"
        (self.root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        self.modules.append(name)
        return name

    def dist(self, name: str, entry_points: Mapping[str, str], version: str = "0.0.1") -> Path:
        """``NAME-VERSION.dist-info`` with ``[vaults]`` entry points ``{ep_name: value}``."""
        folder = self.root / f"{name.replace('-', '_')}-{version}.dist-info"
        folder.mkdir()
        (folder / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
        lines = ["[vaults]", *(f"{k} = {v}" for k, v in entry_points.items()), ""]
        (folder / "entry_points.txt").write_text("\n".join(lines), encoding="utf-8")
        return folder

    def env(self, **extra: str) -> dict[str, str]:
        """``os.environ`` plus this site on PYTHONPATH (for subprocesses)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
        env["PYTHONPATH"] = os.pathsep.join(
            [str(self.root), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        env.update(extra)
        return env


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSite]:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    site = FakeSite(root)
    yield site
    for name in site.modules:
        sys.modules.pop(name, None)


BACKEND_PLUGIN = """
from vaults.backend import VaultBackend
from vaults.errors import {error}
from vaults.markers import hookimpl
from vaults.models import Credential


class Backend(VaultBackend):
    scheme = {scheme!r}

    def fetch(self, ref):
        {body}


@hookimpl
def vaults_register_backends(register):
    register(Backend)
"""


def backend_plugin(scheme: str, body: str, error: str = "VaultsError") -> str:
    """Source of a plugin module registering one backend whose ``fetch`` runs ``body``."""
    return BACKEND_PLUGIN.format(scheme=scheme, body=body, error=error)


# -- CLI ----------------------------------------------------------------------------------


def run_vaults(
    *args: str,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``vaults`` console script."""
    if env is None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
    return subprocess.run(
        [VAULTS_BIN, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def vaults_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_vaults


def one_error_line(stderr: str) -> str:
    """The single ``error: ...`` line a user error prints (and no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def no_leak(texts: Sequence[Any], secrets: Sequence[str]) -> None:
    """Assert no secret (case-insensitively) is in any of ``texts``."""
    for text in texts:
        lowered = str(text).lower()
        for secret in secrets:
            assert secret.lower() not in lowered, f"secret leaked into {str(text)[:200]!r}"


def no_fragment(texts: Sequence[Any], secret: str, size: int = 8) -> None:
    """Assert no ``size``-character piece of ``secret`` (case-insensitively) is in ``texts``:
    catches a message that echoes a truncated secret."""
    pieces = {secret[i : i + size].lower() for i in range(len(secret) - size + 1)}
    for text in texts:
        lowered = str(text).lower()
        for piece in pieces:
            assert piece not in lowered, f"part of a secret leaked into {str(text)[:200]!r}"
