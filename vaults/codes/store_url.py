"""Choosing a code store by URL (``VAULTS_STORE``).

* unset: SQLite at ``<user data dir>/vaults/codes.db``
  (``$XDG_DATA_HOME`` or ``~/.local/share`` on Linux, ``~/Library/Application Support`` on
  macOS, ``%LOCALAPPDATA%`` on Windows; ``VAULTS_DATA_DIR`` overrides the directory);
* ``sqlite:///relative.db`` (relative to the working directory), ``sqlite:////abs/path.db``;
* ``postgresql://user:pass@host:port/db`` (or ``postgres://``): PostgreSQL, needs
  ``vaults[postgres]``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote

from vaults.codes.store import CodeStore
from vaults.errors import ConfigurationError

__all__ = [
    "STORE_ENV",
    "check_store_directory",
    "default_sqlite_path",
    "open_store",
    "resolve_store_url",
    "user_data_dir",
]

STORE_ENV = "VAULTS_STORE"
DATA_DIR_ENV = "VAULTS_DATA_DIR"


def user_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The per-user directory vaults keeps its data in."""
    env = os.environ if env is None else env
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    if sys.platform == "win32":
        base = env.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "vaults"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "vaults"
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "vaults"


def default_sqlite_path(env: Mapping[str, str] | None = None) -> Path:
    return user_data_dir(env) / "codes.db"


def resolve_store_url(url: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """The URL to use: ``url``, else ``VAULTS_STORE``, else the default SQLite file."""
    env = os.environ if env is None else env
    chosen = (url or "").strip() or env.get(STORE_ENV, "").strip()
    if chosen:
        return chosen
    return f"sqlite:///{default_sqlite_path(env)}"


def _sqlite_path(url: str) -> Path:
    rest = url[len("sqlite://") :]
    if not rest.startswith("/") or len(rest) < 2:
        raise ConfigurationError(
            "a SQLite store URL is sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    path = unquote(rest[1:].split("?", 1)[0])
    if path in (":memory:", "") or path.endswith("/"):
        raise ConfigurationError(
            "the SQLite code store needs a file (several processes share it), not "
            f"{path or 'an empty path'!r}"
        )
    return Path(path).expanduser()


def check_store_directory(url: str | None = None, env: Mapping[str, str] | None = None) -> None:
    """For the CLI: refuse a SQLite store whose directory does not exist (a typo in ``--store``
    or ``VAULTS_STORE`` would otherwise start a second, empty inbox) — except the default data
    directory, which is created on first use."""
    resolved = resolve_store_url(url, env)
    if resolved.split(":", 1)[0].lower() != "sqlite":
        return
    path = _sqlite_path(resolved)
    if not path.parent.exists() and path != default_sqlite_path(env):
        raise ConfigurationError(
            f"the code store's directory {str(path.parent)[:200]!r} does not exist: "
            "create it, or fix --store / VAULTS_STORE"
        )


def open_store(url: str | None = None, env: Mapping[str, str] | None = None) -> CodeStore:
    """Open the store ``url`` names (see the module doc for the forms and the default)."""
    resolved = resolve_store_url(url, env)
    scheme = resolved.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from vaults.codes.sqlite_store import SqliteStore

        return SqliteStore(_sqlite_path(resolved))
    if scheme in ("postgresql", "postgres"):
        from vaults.codes.postgres_store import PostgresStore

        return PostgresStore(resolved)
    accepted = (
        "sqlite:///relative/path.db, sqlite:////absolute/path.db or postgresql://user@host/db"
    )
    if "://" not in resolved:
        raise ConfigurationError(f"{resolved[:80]!r} is not a code store URL: use {accepted}")
    shown = resolved.split("://", 1)[0]
    raise ConfigurationError(f"unsupported code store URL scheme {shown[:32]!r}: use {accepted}")
