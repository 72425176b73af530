"""Unlocking in a thread: the sync cache read and the master-key KDF of a session.

In a new ``vaults resolve`` process the KDF (Bitwarden's default: 600,000 PBKDF2
iterations) and importing the transport's modules (``cryptography``, ``ssl``, the HTTP
client) take about as long as each other. :func:`start` begins, in a thread, reading the
sync cache and deriving the master key from it (hashlib and argon2 release the GIL) while
the main thread goes on importing; the session then takes both (:meth:`EarlyUnlock.result`)
instead of reading and deriving again. A session made in-process starts one itself, and
makes its TLS connection meanwhile. Nothing is kept but in memory.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaults_bitwarden.native.cache import CachedSync
    from vaults_bitwarden.settings import BitwardenSettings

__all__ = ["EarlyUnlock", "cli_hook", "start"]

_PENDING: list[tuple[EarlyUnlock, bytes]] = []
"""Unlocks :func:`cli_hook` began, each with its password, until :func:`start` claims it."""


class EarlyUnlock:
    """The sync cache of one account and its master key, being read and derived meanwhile."""

    def __init__(self, directory: Path, api_url: str, client_id: str, password: str) -> None:
        self.where = (directory, api_url, client_id)
        """The cache's directory, API URL and client id (the session checks they are its)."""
        self.seconds = 0.0
        self._cached: CachedSync | None = None
        self._key: bytes | None = None
        self._thread = threading.Thread(
            target=self._run, args=(password,), name="bitwarden-kdf",
            daemon=True,
        )  # fmt: skip
        self._thread.start()

    def __repr__(self) -> str:
        return f"EarlyUnlock(api={self.where[1]!r})"

    def _run(self, password: str) -> None:
        import logging

        from vaults_bitwarden.native.cache import SyncCache
        from vaults_bitwarden.native.kdf import kdf_params, make_master_key

        try:
            cached = SyncCache(*self.where).load()
            if cached is None:
                return
            self._cached = cached
            started = time.perf_counter()
            params = kdf_params(cached.kdf)
            self._key = make_master_key(password, cached.salt, params)
            self.seconds = time.perf_counter() - started
            logging.getLogger("vaults_bitwarden.api").debug(
                "master key derived (%s) in %.0f ms", params.describe(), self.seconds * 1e3
            )
        except Exception as exc:  # the session reads and derives again, and reports it
            logging.getLogger("vaults_bitwarden.api").debug(
                "the early unlock failed (%s)", type(exc).__name__
            )

    def result(self) -> tuple[CachedSync | None, bytes | None]:
        """The cache (None: none usable) and the master key (None: not derived), once the
        thread is done. Handed over once, not kept here."""
        self._thread.join()
        found = (self._cached, self._key)
        self._cached = self._key = None
        return found


def start(settings: BitwardenSettings) -> EarlyUnlock | None:
    """Begin unlocking from the account's sync cache, or None without a password. An unlock
    :func:`cli_hook` began for the same cache and password is handed over instead."""
    from vaults_bitwarden.settings import default_cache_dir

    if settings.password is None or settings.client_id is None or settings.api_url is None:
        return None
    directory = settings.cache_dir or default_cache_dir({})
    password = settings.password.get_secret_value()
    where = (directory, settings.api_url, settings.client_id)
    for index, (pending, secret) in enumerate(_PENDING):
        if pending.where == where and hmac.compare_digest(secret, password.encode()):
            del _PENDING[index]
            return pending
    return EarlyUnlock(directory, settings.api_url, settings.client_id, password)


def cli_hook(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """The plugin's ``vaults.early`` entry point: when the ``vaults`` command line resolves a
    ``bitwarden://`` reference over the native transport, begin the unlock (cache read and
    KDF) before the CLI framework and the host load; the backend's :meth:`from_env` then
    takes it over (:func:`start`). Anything else, or settings that do not parse, does
    nothing: the command reports its own errors."""
    if "resolve" not in argv or not any(arg.startswith("bitwarden:") for arg in argv):
        return
    from vaults_bitwarden.settings import BitwardenSettings

    try:
        settings = BitwardenSettings.from_env(env)
    except Exception:
        return
    if settings.transport != "api" or settings.password is None:
        return
    pending = start(settings)
    if pending is not None:
        _PENDING.append((pending, settings.password.get_secret_value().encode()))
