"""pytest fixtures: a running Connect test server and an ``op`` CLI double on PATH.

Use from a conftest: ``from vaults_onepassword.testing.fixtures import *``. Override
``onepassword_seed`` in a test module to serve other data (see :mod:`.seed`).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from vaults_onepassword.testing.connect_server import ConnectServer
from vaults_onepassword.testing.op_double import DELAY_ENV, LOG_ENV, SEED_ENV
from vaults_onepassword.testing.seed import JsonDict, default_seed, token_for, write_seed

__all__ = [
    "ConnectFixture",
    "OpCliFixture",
    "make_op_cli",
    "onepassword_connect",
    "onepassword_seed",
    "op_cli",
    "op_double_bin_dir",
]

BIN_DIR = Path(__file__).with_name("bin")
PYTHON_ENV = "OP_VAULTS_DOUBLE_PYTHON"
_AUTH_ENV_PREFIXES = ("OP_SESSION_",)
_AUTH_ENV = {
    "OP_SERVICE_ACCOUNT_TOKEN",
    "OP_CONNECT_HOST",
    "OP_CONNECT_TOKEN",
    "OP_INCLUDE_ARCHIVE",
    "VAULTS_ONEPASSWORD_OP",
    "VAULTS_ONEPASSWORD_TRANSPORT",
}


@dataclass
class ConnectFixture:
    """A running Connect server: ``env`` configures a client (``OP_CONNECT_HOST``/``TOKEN``)."""

    server: ConnectServer
    url: str
    token: str
    seed: JsonDict

    @property
    def env(self) -> dict[str, str]:
        return {"OP_CONNECT_HOST": self.url, "OP_CONNECT_TOKEN": self.token}


@dataclass
class OpCliFixture:
    """The ``op`` double: ``env`` is a full environment with ``bin_dir`` first on PATH."""

    bin_dir: Path
    seed_path: Path
    log_path: Path
    seed: JsonDict
    token: str
    env: dict[str, str] = field(default_factory=dict)

    @property
    def op(self) -> Path:
        return self.bin_dir / "op"

    def calls(self) -> list[dict[str, Any]]:
        """One entry per ``op`` invocation: ``argv`` and the names of auth env vars present."""
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines() if line]

    def write_seed(self, seed: JsonDict) -> None:
        """Replace the data the double serves (takes effect on the next ``op`` call)."""
        self.seed = seed
        write_seed(seed, self.seed_path)

    def set_delay(self, seconds: float) -> None:
        """Make every later ``op`` call sleep first (timeouts, killing a hung process)."""
        self.env[DELAY_ENV] = str(seconds)

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.op), *args],
            env=self.env if env is None else env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )


def clean_environ() -> dict[str, str]:
    """``os.environ`` without any 1Password credentials or plugin settings of the developer."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in _AUTH_ENV and not k.startswith(_AUTH_ENV_PREFIXES)
    }


@pytest.fixture
def onepassword_seed() -> JsonDict:
    """The data both doubles serve; override to change it."""
    return default_seed()


@pytest.fixture
def onepassword_connect(onepassword_seed: JsonDict) -> Iterator[ConnectFixture]:
    with ConnectServer(onepassword_seed) as server:
        yield ConnectFixture(
            server=server,
            url=server.url,
            token=token_for(onepassword_seed, "connect"),
            seed=onepassword_seed,
        )


def packaged_bin_dir() -> Path | None:
    """``testing/bin`` when its ``op`` is executable (source checkouts, editable installs)."""
    return BIN_DIR if os.access(BIN_DIR / "op", os.X_OK) else None


def write_op_wrapper(directory: Path) -> Path:
    """Write an executable ``op`` wrapper into ``directory`` (wheels drop the executable bit
    of the packaged script); returns ``directory``."""
    target = directory / "op"
    pkg_root = Path(__file__).resolve().parents[2]
    target.write_text(
        "#!/bin/sh\n"
        f'PYTHONPATH="{pkg_root}${{PYTHONPATH:+:$PYTHONPATH}}" exec '
        f'"${{{PYTHON_ENV}:-python3}}" -m vaults_onepassword.testing.op_double "$@"\n'
    )
    target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return directory


def make_op_cli(seed: JsonDict, directory: Path, bin_dir: Path | None = None) -> OpCliFixture:
    """An ``op`` double serving ``seed`` (files under ``directory``), signed in with the seed's
    service-account token. For class- or session-scoped setups; tests use ``op_cli``."""
    if bin_dir is None:
        bin_dir = packaged_bin_dir() or write_op_wrapper(directory)
    seed_path = write_seed(seed, directory / "op-seed.json")
    log_path = directory / "op-calls.jsonl"
    token = token_for(seed, "service_account")
    env = clean_environ()
    env.update(
        {
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            SEED_ENV: str(seed_path),
            LOG_ENV: str(log_path),
            PYTHON_ENV: sys.executable,
            "OP_SERVICE_ACCOUNT_TOKEN": token,
        }
    )
    return OpCliFixture(
        bin_dir=bin_dir, seed_path=seed_path, log_path=log_path, seed=seed, token=token, env=env
    )


@pytest.fixture(scope="session")
def op_double_bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory holding the executable ``op`` double."""
    return packaged_bin_dir() or write_op_wrapper(tmp_path_factory.mktemp("op-bin"))


@pytest.fixture
def op_cli(onepassword_seed: JsonDict, tmp_path: Path, op_double_bin_dir: Path) -> OpCliFixture:
    """The ``op`` double on PATH (``op_cli.env``) serving ``onepassword_seed``."""
    return make_op_cli(onepassword_seed, tmp_path, op_double_bin_dir)
