"""One connection pool per process and ``bw serve`` address.

Every backend talking to the same ``bw serve`` shares one synchronous
:class:`~vaults.small_http.HttpClient` (reference counted: the last
:meth:`SharedClients.release` closes it). Async clients are httpx clients bound to an event
loop, so each backend keeps its own per loop (:func:`make_async_client`; httpx is imported
then, not before).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Final

from vaults.small_http import HttpClient

if TYPE_CHECKING:
    import ssl

    import httpx

__all__ = ["SHARED_CLIENTS", "SharedClients", "make_async_client", "make_client"]

KEEPALIVE_EXPIRY: Final = 4.0
"""Below Node's 5 s ``keepAliveTimeout``: never reuse a socket ``bw serve`` is about to close."""
USER_AGENT: Final = "vaults-bitwarden"
MAX_CONNECTIONS: Final = 16
ATTEMPTS: Final = 2
"""Each idempotent call is tried twice at most (see :mod:`vaults.small_http`)."""
BACKOFF_BASE: Final = 0.1

_HEADERS: Final = {"Accept": "application/json", "User-Agent": USER_AGENT}


def _verify(base_url: str) -> ssl.SSLContext | bool:
    """``bw serve`` speaks plain HTTP on loopback: no CA bundle is loaded for an ``http://``
    address (httpx loads certifi's by default, which costs more CPU than the whole lookup).
    The context given instead has no trusted CAs, so it could never accept a certificate."""
    import ssl

    if base_url.lower().startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def make_client(base_url: str, timeout: float) -> HttpClient:
    """A sync client for ``bw serve``: no proxy from the environment may sit between us and
    a loopback ``bw serve``; no redirect is followed and no ``Origin`` header is ever sent
    (``bw serve`` answers 403 to one)."""
    return HttpClient(
        base_url=base_url,
        timeout=timeout,
        headers=_HEADERS,
        attempts=ATTEMPTS,
        backoff_base=BACKOFF_BASE,
        idle_expiry=KEEPALIVE_EXPIRY,
        max_connections=MAX_CONNECTIONS,
    )


def make_async_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    """The async twin of :func:`make_client`, on httpx."""
    import httpx

    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        trust_env=False,
        follow_redirects=False,
        headers=_HEADERS,
        limits=httpx.Limits(
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=8,
            keepalive_expiry=KEEPALIVE_EXPIRY,
        ),
        verify=_verify(base_url),
    )


class SharedClients:
    """Reference-counted sync clients keyed by process, base URL and timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[int, str, float], tuple[HttpClient, int]] = {}

    def acquire(self, base_url: str, timeout: float) -> HttpClient:
        key = (os.getpid(), base_url, timeout)
        with self._lock:
            entry = self._clients.get(key)
            if entry is None or entry[0].is_closed:
                client = make_client(base_url, timeout)
                self._clients[key] = (client, 1)
                return client
            self._clients[key] = (entry[0], entry[1] + 1)
            return entry[0]

    def release(self, client: HttpClient) -> None:
        with self._lock:
            for key, (shared, count) in list(self._clients.items()):
                if shared is client:
                    if count > 1:
                        self._clients[key] = (shared, count - 1)
                        return
                    del self._clients[key]
                    break
        client.close()

    def open_count(self) -> int:
        """How many shared clients are open (for tests)."""
        with self._lock:
            return len(self._clients)


SHARED_CLIENTS = SharedClients()
