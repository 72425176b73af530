"""A small HTTP/1.1 client for the calls a new process makes once.

A ``vaults resolve`` in a new process makes one to three requests; importing an HTTP
framework (httpx and its stack) costs more than those calls and the interpreter's start
together (even :mod:`http.client` imports :mod:`ssl` and :mod:`email`; the wire here is
:mod:`vaults.http_wire`). Transports use this client on their synchronous paths (the
Bitwarden plugin's ``bw serve`` and native transports); long-running async hosts keep
httpx, whose start-up cost they pay once. It gives the guarantees
:mod:`vaults.bounded_http` gives over httpx:

- ``http://`` and ``https://`` (certificates verified against the given
  :class:`ssl.SSLContext`); no proxy from the environment, no redirect followed;
- a small pool of keep-alive connections per host, thread-safe; a connection idle for more
  than ``idle_expiry`` seconds is not reused (a server closes idle sockets: Node after 5 s);
- each try is bounded as a whole by ``timeout`` (connect by ``connect_timeout`` too): the
  deadline is checked between reads and each read waits at most the time left, so a server
  trickling its reply cannot hold a call past the deadline plus one read;
- a reply is read up to ``max_bytes`` *after* decoding gzip or deflate, inflated piece by
  piece (a small gzip bomb cannot fill memory); other content encodings are refused;
- idempotent requests (GET, HEAD, OPTIONS, PUT, DELETE) are tried ``attempts`` times in all
  on 429, 500, 502, 503 and 504 and on a connection closed or reset under them, with
  jittered exponential backoff; ``Retry-After`` (seconds or an HTTP date) is honoured on 429
  and 503 up to ``max_retry_after`` seconds, a longer wait ends the retries at once (the
  caller gets that reply). Timeouts are not retried, nor is any other method: before a
  kept-alive connection is reused it is checked for a close the server sent meanwhile, so
  a request is not sent into a socket known to be dead;
- failures raise :class:`HttpError` whose ``kind`` says what went wrong and whose ``cause``
  is fit for a user: it never holds the URL's query, a header or a body. Logs name the
  method, the path (no query) and the status.
"""

from __future__ import annotations

import logging
import select
import socket
import sys
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple
from urllib.parse import quote, urlencode, urlsplit

from vaults.http_wire import Connection, ProtocolError, WireClosed

if TYPE_CHECKING:
    import ssl

__all__ = [
    "IDEMPOTENT",
    "INFLATED",
    "RETRY_STATUSES",
    "CappedDecoder",
    "HttpClient",
    "HttpError",
    "Reply",
    "content_codings",
    "equal_jitter",
    "retry_after_seconds",
    "retry_wait",
]

log = logging.getLogger("vaults.http")

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_CHUNK: Final = 64 * 1024

ErrorKind = Literal[
    "connect", "connect-timeout", "dns", "tls", "timeout", "closed", "too-large", "protocol"
]


class HttpError(Exception):
    """A request failed without a usable HTTP answer.

    ``kind``: ``connect`` (refused or unreachable), ``connect-timeout``, ``dns``, ``tls``
    (certificate not trusted), ``timeout`` (no whole answer in time), ``closed`` (closed or
    reset mid-request), ``too-large``, ``protocol`` (not HTTP, or an encoding it cannot
    decode). ``cause``: the same for a user."""

    def __init__(self, kind: ErrorKind, cause: str) -> None:
        super().__init__(cause)
        self.kind: ErrorKind = kind
        self.cause = cause


def retry_after_seconds(status: int, value: str | None, now: float | None = None) -> float | None:
    """The seconds a 429/503 answer's ``Retry-After`` header asks to wait (``None``: none
    given, or not a 429/503)."""
    if status not in (429, 503) or not value:
        return None
    raw = value.strip()
    if raw.isdigit():
        return float(raw)
    import email.utils
    from datetime import UTC, datetime

    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


def equal_jitter(
    retry: int, base: float, cap: float, rand: Callable[[], float] | None = None
) -> float:
    """The wait before retry ``retry`` (1-based): uniform in ``[c/2, c]`` with
    ``c = min(cap, base * 2 ** (retry - 1))`` ("equal jitter": never zero, never in lock
    step)."""
    if rand is None:
        import random

        rand = random.random
    ceiling = min(cap, base * 2.0 ** max(0, retry - 1))
    return ceiling / 2 + rand() * ceiling / 2


def retry_wait(
    retry: int,
    attempts: int,
    asked: float | None,
    max_retry_after: float,
    delay: Callable[[int], float],
) -> float | None:
    """Seconds to wait before retry ``retry`` (``None``: do not retry): ``delay(retry)``, or
    what the server's ``Retry-After`` asked plus a little jitter; an ask above
    ``max_retry_after`` ends the retries. Shared with :class:`vaults.bounded_http.Backoff`."""
    if retry >= attempts:
        return None
    if asked is None:
        return delay(retry)
    if asked > max_retry_after:
        return None
    return asked + delay(1) / 4  # at least what the server asked, plus jitter


_NO_HEADERS: Final[Mapping[str, str]] = MappingProxyType({})


class Reply(NamedTuple):
    """A whole answer: status, headers (names lower-cased) and the decoded body."""

    status: int
    body: bytes
    headers: Mapping[str, str] = _NO_HEADERS

    def json(self) -> Any:
        """The body parsed as JSON (:class:`ValueError` when it is not)."""
        import json

        return json.loads(self.body)

    def retry_after(self, now: float | None = None) -> float | None:
        return retry_after_seconds(self.status, self.headers.get("retry-after"), now)


def content_codings(header: str) -> list[str]:
    """The codings a ``Content-Encoding`` value names, lower-cased, ``identity`` left out."""
    codings = [c.strip().lower() for c in header.split(",") if c.strip()]
    return [c for c in codings if c != "identity"]


INFLATED: Final = (["gzip"], ["x-gzip"], ["deflate"])
"""The codings :class:`CappedDecoder` inflates itself (a body with none is taken as is)."""


class CappedDecoder:
    """Collects a body up to ``limit`` decoded bytes, inflating gzip/deflate piecewise
    (bounded output per step, so a small gzip bomb cannot fill memory). Also used by
    :mod:`vaults.bounded_http` for httpx answers."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.body = bytearray()
        codings = content_codings(encoding)
        self._zlib: Any = None
        self._raw_deflate = False
        if codings in INFLATED:
            self._zlib = zlib.decompressobj(47)  # gzip or zlib header, detected
            self._raw_deflate = codings == ["deflate"]
        elif codings:
            raise HttpError("protocol", "the reply uses a content encoding this client refuses")

    def _check(self) -> None:
        if len(self.body) > self.limit:
            raise HttpError("too-large", f"the reply is larger than {_size(self.limit)}")

    def feed(self, chunk: bytes) -> None:
        if self._zlib is None:
            self.body += chunk
            self._check()
            return
        data = chunk
        while data:
            try:
                piece = self._zlib.decompress(data, self.limit - len(self.body) + 1)
            except zlib.error:
                if not (self._raw_deflate and not self.body):
                    raise HttpError("protocol", "the reply's compressed body is corrupt") from None
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # a raw deflate stream
                self._raw_deflate = False
                continue
            self.body += piece
            self._check()
            data = self._zlib.unconsumed_tail

    def finish(self) -> bytes:
        if self._zlib is not None:
            self.body += self._zlib.flush()
            self._check()
        return bytes(self.body)


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB" if limit >= 1 << 20 and not limit % (1 << 20) else f"{limit} bytes"


_Target = tuple[str, str, int]  # scheme, host, port


class _Idle(NamedTuple):
    connection: Connection
    since: float


class HttpClient:
    """``HttpClient(timeout=10, headers={...}).request("GET", "https://host/path")``.

    ``base_url``: prefix of request URLs that start with ``/``. ``context``: the TLS
    context for ``https://`` (default: the system's trust store). ``schemes``: the URL
    schemes accepted. ``on_try`` is called before each try (request counters)."""

    def __init__(
        self,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = 1024 * 1024,
        base_url: str = "",
        context: ssl.SSLContext | None = None,
        schemes: frozenset[str] = frozenset({"http", "https"}),
        connect_timeout: float = 5.0,
        attempts: int = 2,
        backoff_base: float = 0.1,
        backoff_cap: float = 2.0,
        max_retry_after: float = 10.0,
        idle_expiry: float = 4.0,
        max_connections: int = 16,
        on_try: Callable[[], None] | None = None,
    ) -> None:
        self.timeout = timeout
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self._max_bytes = max_bytes
        self._context = context
        self._schemes = schemes
        self._connect_timeout = connect_timeout
        self._attempts = max(1, attempts)
        self._backoff = (backoff_base, backoff_cap)
        self._max_retry_after = max_retry_after
        self._idle_expiry = idle_expiry
        self._on_try = on_try
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._idle: dict[_Target, list[_Idle]] = {}
        self._closed = False

    def __repr__(self) -> str:
        return f"HttpClient(base_url={self.base_url!r}, closed={self._closed})"

    @property
    def is_closed(self) -> bool:
        return self._closed

    # -- public ------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
        on_try: Callable[[], None] | None = None,
    ) -> Reply:
        """One request, bounded and retried as the module says; the last reply (a 429/5xx
        one when the tries ran out) or :class:`HttpError`. ``on_try`` is called before each
        try, after the client's own."""
        if self._closed:
            raise RuntimeError("this HttpClient is closed")
        method = method.upper()
        target, path, shown = self._split(url, params)
        all_headers = {**self._headers, **(headers or {})}
        seconds = self.timeout if timeout is None else timeout
        limit = self._max_bytes if max_bytes is None else max_bytes
        tries = 0
        while True:
            tries += 1
            for count in (self._on_try, on_try):
                if count is not None:
                    count()
            started = time.perf_counter()
            try:
                reply = self._try(target, method, path, all_headers, body, seconds, limit)
            except HttpError as exc:
                log.debug("%s %s -> %s", method, shown, exc.cause)
                wait = self._wait(tries, None, method) if exc.kind == "closed" else None
                if wait is None:
                    raise
            else:
                log.debug(
                    "%s %s -> %s in %.1f ms",
                    method,
                    shown,
                    reply.status,
                    (time.perf_counter() - started) * 1e3,
                )
                if reply.status not in RETRY_STATUSES:
                    return reply
                wait = self._wait(tries, reply, method)
                if wait is None:
                    return reply
            time.sleep(wait)

    def preconnect(self, url: str) -> None:
        """Open (TCP, and TLS for ``https``) a connection the next request to ``url``'s host
        will use, without a request: done while something else runs (a KDF), it takes the
        handshake off the first call. A failure is left for that call to meet and report."""
        try:
            target, _, _ = self._split(url, None)
        except HttpError:
            return
        with self._lock:
            if self._closed or self._idle.get(target):
                return
        connection = self._new(target)
        try:
            connection.connect(min(self.timeout, self._connect_timeout))
        except (OSError, ValueError):
            connection.close()
            return
        self._park(target, connection)

    def idle_connections(self) -> int:
        """How many kept-alive connections wait for a request (for tests)."""
        with self._lock:
            return sum(len(idle) for idle in self._idle.values())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for entries in idle.values():
            for entry in entries:
                entry.connection.close()

    # -- plumbing ----------------------------------------------------------------------------
    def _split(self, url: str, params: Mapping[str, str] | None) -> tuple[_Target, str, str]:
        if url.startswith("/"):
            url = self.base_url + url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in self._schemes or not parts.hostname:
            accepted = " or ".join(f"{s}://" for s in sorted(self._schemes))
            raise HttpError("protocol", f"only {accepted} addresses are used")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise HttpError("protocol", "the address has an invalid port") from None
        query = parts.query
        if params:
            query = "&".join(q for q in (query, urlencode(dict(params))) if q)
        path = quote(parts.path or "/", safe=_PATH_SAFE)
        if query:
            path += "?" + quote(query, safe=_QUERY_SAFE)
        return (scheme, parts.hostname, port), path, parts.path or "/"

    def _wait(self, tries: int, reply: Reply | None, method: str) -> float | None:
        """Seconds to wait before the next try; ``None``: no further try."""
        if method not in IDEMPOTENT:
            return None
        base, cap = self._backoff
        asked = reply.retry_after() if reply is not None else None
        return retry_wait(
            tries,
            self._attempts,
            asked,
            self._max_retry_after,
            lambda n: equal_jitter(n, base, cap),
        )

    def _new(self, target: _Target) -> Connection:
        scheme, host, port = target
        if scheme == "https" and self._context is None:
            import ssl

            self._context = ssl.create_default_context()
        return Connection(scheme, host, port, self._context)

    def _take(self, target: _Target) -> Connection | None:
        now = time.monotonic()
        stale: list[Connection] = []
        found = None
        with self._lock:
            idle = self._idle.get(target, [])
            while idle:
                entry = idle.pop()
                sock = entry.connection.sock
                if now - entry.since <= self._idle_expiry and sock is not None and _quiet(sock):
                    found = entry.connection
                    break
                stale.append(entry.connection)
        for connection in stale:
            connection.close()
        return found

    def _park(self, target: _Target, connection: Connection) -> None:
        with self._lock:
            if not self._closed:
                self._idle.setdefault(target, []).append(_Idle(connection, time.monotonic()))
                return
        connection.close()

    def _try(
        self,
        target: _Target,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes | None,
        seconds: float,
        limit: int,
    ) -> Reply:
        with self._slots:
            connection = self._take(target)
            deadline = time.monotonic() + seconds
            if connection is None:
                connection = self._new(target)
                try:
                    connection.connect(min(seconds, self._connect_timeout))
                except BaseException as exc:
                    connection.close()
                    raise _connect_error(exc, target) from None
            try:
                connection.send_request(method, path, headers, body, deadline)
                response = connection.read_head(deadline)
                decoder = CappedDecoder(response.header("content-encoding") or "", limit)

                def sink(chunk: bytes) -> None:
                    decoder.feed(chunk)
                    if time.monotonic() > deadline:
                        raise TimeoutError

                reusable = connection.body(method, response, deadline, sink)
                reply = Reply(response.status, decoder.finish(), _joined(response.headers))
            except BaseException as exc:
                connection.close()
                raise _reply_error(exc, seconds) from None
            if reusable:
                self._park(target, connection)
            else:
                connection.close()
            return reply


_PATH_SAFE: Final = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE: Final = _PATH_SAFE + "?"


def _joined(headers: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def _left(deadline: float) -> float:
    return max(0.01, deadline - time.monotonic())


def _quiet(sock: socket.socket) -> bool:
    """Whether an idle keep-alive socket can carry the next request: nothing to read on it.
    Readable means the server closed it or sent what no request asked for, except on TLS,
    where the server's session tickets (TLS 1.3, sent after the handshake) also make the
    socket readable: the TLS layer reads them and there is no data."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return True
        sock.setblocking(False)  # the next request sets its own timeout
        ssl = sys.modules.get("ssl")
        if ssl is not None and isinstance(sock, ssl.SSLSocket):
            try:
                sock.recv(1)
            except ssl.SSLWantReadError:
                return True  # nothing but TLS records: alive
        else:
            sock.recv(1, socket.MSG_PEEK)
    except BlockingIOError:
        return True
    except (OSError, ValueError):
        return False
    return False  # a close (b"") or stray bytes


def _connect_error(exc: BaseException, target: _Target) -> BaseException:
    ssl = sys.modules.get("ssl")  # imported only for https
    if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
        return HttpError("tls", "its TLS certificate is not trusted")
    if isinstance(exc, socket.gaierror):
        return HttpError("dns", f"cannot resolve the host name {target[1]!r}")
    if isinstance(exc, TimeoutError):
        return HttpError("connect-timeout", "it did not accept a connection in time")
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return HttpError("tls", "the TLS handshake failed")
    if isinstance(exc, OSError):
        return HttpError("connect", "cannot connect")
    return exc


def _reply_error(exc: BaseException, seconds: float) -> BaseException:
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, TimeoutError):
        return HttpError("timeout", f"no answer within {seconds:g} s")
    if isinstance(exc, ProtocolError):
        return HttpError("protocol", f"the reply is not valid HTTP ({exc})")
    if isinstance(exc, (WireClosed, OSError)):
        return HttpError("closed", "the connection was closed or reset")
    return exc
