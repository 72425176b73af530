"""One ``httpx`` connection pool per process and ``bw serve`` address.

Every backend talking to the same ``bw serve`` shares one :class:`httpx.Client` (reference
counted: the last :meth:`SharedClients.release` closes it). Async clients are bound to an
event loop, so each backend keeps its own :class:`httpx.AsyncClient` per loop
(:func:`make_async_client`).
"""

from __future__ import annotations

import os
import ssl
import threading
from typing import Final

import httpx

__all__ = ["SHARED_CLIENTS", "SharedClients", "make_async_client", "make_client"]

KEEPALIVE_EXPIRY: Final = 4.0
"""Below Node's 5 s ``keepAliveTimeout``: never reuse a socket ``bw serve`` is about to close."""
USER_AGENT: Final = "vaults-bitwarden"


def _timeout(seconds: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, 5.0))


_HEADERS: Final = {"Accept": "application/json", "User-Agent": USER_AGENT}


def _limits() -> httpx.Limits:
    return httpx.Limits(
        max_connections=16, max_keepalive_connections=8, keepalive_expiry=KEEPALIVE_EXPIRY
    )


def _verify(base_url: str) -> ssl.SSLContext | bool:
    """``bw serve`` speaks plain HTTP on loopback: no CA bundle is loaded for an ``http://``
    address (httpx loads certifi's by default, which costs more CPU than the whole lookup).
    The context given instead has no trusted CAs, so it could never accept a certificate."""
    if base_url.lower().startswith("http://"):
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


def make_client(base_url: str, timeout: float) -> httpx.Client:
    """A sync client for ``bw serve``. ``trust_env=False``: no proxy from the environment
    may sit between us and a loopback ``bw serve``; no ``Origin`` header is ever sent
    (``bw serve`` answers 403 to one)."""
    return httpx.Client(
        base_url=base_url,
        timeout=_timeout(timeout),
        trust_env=False,
        follow_redirects=False,
        headers=_HEADERS,
        limits=_limits(),
        verify=_verify(base_url),
    )


def make_async_client(base_url: str, timeout: float) -> httpx.AsyncClient:
    """The async twin of :func:`make_client`."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=_timeout(timeout),
        trust_env=False,
        follow_redirects=False,
        headers=_HEADERS,
        limits=_limits(),
        verify=_verify(base_url),
    )


class SharedClients:
    """Reference-counted sync clients keyed by process, base URL and timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[int, str, float], tuple[httpx.Client, int]] = {}

    def acquire(self, base_url: str, timeout: float) -> httpx.Client:
        key = (os.getpid(), base_url, timeout)
        with self._lock:
            entry = self._clients.get(key)
            if entry is None or entry[0].is_closed:
                client = make_client(base_url, timeout)
                self._clients[key] = (client, 1)
                return client
            self._clients[key] = (entry[0], entry[1] + 1)
            return entry[0]

    def release(self, client: httpx.Client) -> None:
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
