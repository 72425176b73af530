"""A small HTTPS client on :mod:`http.client` for the native transport.

The native transport makes one to three requests per process, so it does not pay for
importing an HTTP framework: this keeps a ``vaults resolve`` in a new process close to the
KDF time. What it guarantees:

- certificates verified against the given :class:`ssl.SSLContext`; no proxies, no redirects;
- one keep-alive connection per host; a GET that meets a connection closed or reset under
  it, a 429 or a 5xx is tried once more after a short jittered wait; other methods once;
- each try is bounded as a whole by ``timeout`` (connect, send, headers and body), so a
  server trickling its reply cannot hold a call; replies above ``max_bytes`` are refused;
- failures raise :class:`HttpError` with a cause fit for a user (never a URL query or body).
"""

from __future__ import annotations

import http.client
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

__all__ = ["HttpError", "HttpsClient", "Reply"]

log = logging.getLogger("vaults_bitwarden.api")

_RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
_CHUNK: Final = 64 * 1024


class HttpError(Exception):
    """A request failed without an HTTP answer; ``cause`` says why, for a user."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


class HttpsClient:
    """Thread-safe (one request at a time per client)."""

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        timeout: float,
        headers: Mapping[str, str],
        max_bytes: int,
        on_try: Callable[[], None] | None = None,
    ) -> None:
        self._context = context
        self._timeout = timeout
        self._headers = dict(headers)
        self._max_bytes = max_bytes
        self._on_try = on_try
        self._lock = threading.Lock()
        self._connections: dict[tuple[str, int], http.client.HTTPSConnection] = {}

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise HttpError("only https:// addresses are used")
        target = (parts.hostname, parts.port or 443)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        all_headers = {**self._headers, **(headers or {})}
        retries_left = 1  # one more try: for a GET, or for any request on a stale connection
        with self._lock:
            while True:
                reused = target in self._connections
                started = time.perf_counter()
                if self._on_try is not None:
                    self._on_try()
                try:
                    reply = self._once(target, method, path, all_headers, body)
                except HttpError as exc:
                    log.debug("%s %s -> %s", method, parts.path, exc.cause)
                    closed = exc.cause.startswith("the connection")
                    if not retries_left or not closed or not (method == "GET" or reused):
                        raise
                else:
                    log.debug(
                        "%s %s -> %s in %.1f ms",
                        method,
                        parts.path,
                        reply.status,
                        (time.perf_counter() - started) * 1e3,
                    )
                    if reply.status not in _RETRY_STATUSES or method != "GET" or not retries_left:
                        return reply
                retries_left -= 1
                time.sleep(0.1 + random.random() * 0.1)  # noqa: S311 - jitter, not crypto

    def preconnect(self, url: str) -> None:
        """Open (TCP and TLS) the connection ``url``'s requests will use, without a request:
        done while something else runs (the KDF), it takes the handshake off the first call.
        A failure is left for that call to meet and report."""
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            return
        target = (parts.hostname, parts.port or 443)
        with self._lock:
            if target in self._connections:
                return
            connection = self._connection(target)
            try:
                connection.connect()
            except (OSError, http.client.HTTPException):
                self._drop(target)

    def _connection(self, target: tuple[str, int]) -> http.client.HTTPSConnection:
        connection = self._connections.get(target)
        if connection is None:
            connection = http.client.HTTPSConnection(
                target[0], target[1], timeout=self._timeout, context=self._context
            )
            self._connections[target] = connection
        return connection

    def _drop(self, target: tuple[str, int]) -> None:
        connection = self._connections.pop(target, None)
        if connection is not None:
            connection.close()

    def _once(
        self,
        target: tuple[str, int],
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Reply:
        deadline = time.monotonic() + self._timeout
        connection = self._connection(target)
        try:
            connection.request(method, path, body=body, headers=dict(headers))
            response = connection.getresponse()
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError
                if connection.sock is not None:
                    connection.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = (
                    response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
                )
                if not chunk:
                    break
                size += len(chunk)
                if size > self._max_bytes:
                    self._drop(target)
                    raise HttpError(f"the reply is larger than {self._max_bytes >> 20} MiB")
                chunks.append(chunk)
            if response.length not in (None, 0):
                raise http.client.IncompleteRead(b"".join(chunks), response.length)
            response.close()  # frees the connection for the next request (keep-alive)
            if response.will_close:
                self._drop(target)
            return Reply(response.status, b"".join(chunks))
        except HttpError:
            raise
        except ssl.SSLCertVerificationError:
            self._drop(target)
            raise HttpError("its TLS certificate is not trusted") from None
        except TimeoutError:
            self._drop(target)
            raise HttpError(f"no answer within {self._timeout:g} s") from None
        except ConnectionRefusedError:
            self._drop(target)
            raise HttpError("cannot connect (is the server up and the address right?)") from None
        except (http.client.HTTPException, ConnectionError, ssl.SSLError, OSError) as exc:
            self._drop(target)
            if isinstance(exc, socket.gaierror):
                raise HttpError("cannot resolve the server's host name") from None
            if (
                isinstance(exc, OSError)
                and not isinstance(exc, (ConnectionError, ssl.SSLError))
                and connection.sock is None
            ):
                raise HttpError(
                    "cannot connect (is the server up and the address right?)"
                ) from None
            raise HttpError("the connection was closed or reset mid-reply") from None

    def close(self) -> None:
        with self._lock:
            for target in list(self._connections):
                self._drop(target)
