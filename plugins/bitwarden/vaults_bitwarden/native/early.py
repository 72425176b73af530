"""The master-key KDF of a new process, started before the native transport is imported.

In a new ``vaults resolve`` process the KDF (Bitwarden's default: 600,000 PBKDF2
iterations) and importing the transport's modules (``cryptography``, ``ssl``, the HTTP
client) take about as long as each other. :func:`start` reads the sync cache (only
:mod:`vaults_bitwarden.native.cache` and :mod:`vaults_bitwarden.native.kdf`, both light)
and derives the master key in a thread (hashlib and argon2 release the GIL) while the main
thread goes on importing; the session then takes the key (:meth:`EarlyUnlock.master_key`)
instead of deriving it again. Nothing is kept but in memory, as on the normal path.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from vaults_bitwarden.native.cache import CachedSync, SyncCache
from vaults_bitwarden.native.kdf import KdfError, kdf_params, make_master_key

if TYPE_CHECKING:
    from vaults_bitwarden.settings import BitwardenSettings

__all__ = ["EarlyUnlock", "start"]

log = logging.getLogger("vaults_bitwarden.api")


class EarlyUnlock:
    """The cache a new process found, and its master key being derived meanwhile."""

    def __init__(self, cache: SyncCache, cached: CachedSync, password: str) -> None:
        self.cache = cache
        self.cached = cached
        self.seconds = 0.0
        self._key: bytes | None = None
        self._thread = threading.Thread(
            target=self._derive, args=(password,), name="bitwarden-kdf", daemon=True
        )
        self._thread.start()

    def __repr__(self) -> str:
        return f"EarlyUnlock(cache={str(self.cache.path)!r})"

    def _derive(self, password: str) -> None:
        started = time.perf_counter()
        try:
            self._key = make_master_key(password, self.cached.salt, kdf_params(self.cached.kdf))
        except Exception as exc:  # the session derives again and reports it
            log.debug("the early KDF failed (%s)", type(exc).__name__)
        self.seconds = time.perf_counter() - started

    def master_key(self) -> bytes | None:
        """The derived master key once the thread is done (None if it failed)."""
        self._thread.join()
        key, self._key = self._key, None  # handed over once, not kept here
        return key


def start(settings: BitwardenSettings) -> EarlyUnlock | None:
    """Begin unlocking from the sync cache, or None (no cache, no password, refused KDF)."""
    from vaults_bitwarden.settings import default_cache_dir

    if settings.password is None or settings.client_id is None or settings.api_url is None:
        return None
    cache = SyncCache(settings.cache_dir or default_cache_dir({}), settings.api_url,
                      settings.client_id)  # fmt: skip
    cached = cache.load()
    if cached is None:
        return None
    try:
        kdf_params(cached.kdf)
    except KdfError:
        return None  # the session refuses it with the full message
    return EarlyUnlock(cache, cached, settings.password.get_secret_value())
