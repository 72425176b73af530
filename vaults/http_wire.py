"""HTTP/1.1 on one socket: write a request, read a whole response (RFC 9112), nothing more.

:mod:`vaults.small_http` builds its pooled, bounded client on this. It exists because
:mod:`http.client` imports :mod:`ssl` and the :mod:`email` package, which together cost a
new process more than a loopback call to ``bw serve`` takes; :mod:`ssl` is imported here
only for an ``https`` connection.

Limits (an attacker's server gets no more): a status line or header line of at most 64 KiB,
at most 100 header fields, chunk-size lines of at most 1 KiB. Every read waits at most the
time left before the caller's deadline. Request targets and header values are checked for
the bytes that would split a request (control characters, spaces, CR and LF).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import ssl

__all__ = ["Connection", "ProtocolError", "Response", "WireClosed"]

MAX_LINE: Final = 64 * 1024
MAX_HEADERS: Final = 100
_RECV: Final = 64 * 1024
_FORBIDDEN_IN_TARGET: Final = frozenset(range(0x21)) | {0x7F}
_FORBIDDEN_IN_VALUE: Final = frozenset(range(0x20)) - {0x09} | {0x7F}


class ProtocolError(Exception):
    """The peer sent what is not HTTP/1.1 (or past a limit), or a request would be unsafe."""


class WireClosed(Exception):
    """The peer closed the connection before a whole response came."""


class Response:
    """Status line and headers of a response; :meth:`Connection.body` reads its body."""

    def __init__(self, version: str, status: int, headers: list[tuple[str, str]]) -> None:
        self.version = version
        self.status = status
        self.headers = headers

    def header(self, name: str) -> str | None:
        """The field's value (several lines of one field joined by ``", "``), or None."""
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None

    def _tokens(self, name: str) -> set[str]:
        return {t.strip().lower() for t in (self.header(name) or "").split(",") if t.strip()}

    @property
    def chunked(self) -> bool:
        return "chunked" in self._tokens("transfer-encoding")

    def keeps_alive(self) -> bool:
        tokens = self._tokens("connection")
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


class Connection:
    """One client connection; not thread-safe (the pool hands it to one request at a time)."""

    def __init__(
        self, scheme: str, host: str, port: int, context: ssl.SSLContext | None = None
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.context = context
        self.sock: socket.socket | None = None
        self._buffer = bytearray()
        default = 443 if scheme == "https" else 80
        name = f"[{host}]" if ":" in host else host
        self.host_header = name if port == default else f"{name}:{port}"

    def connect(self, timeout: float) -> None:
        """TCP (and TLS for ``https``) within ``timeout`` seconds."""
        try:
            address: str | bytes = self.host.encode("ascii")  # skips the idna codec's import
        except UnicodeEncodeError:
            address = self.host
        sock = socket.create_connection((address, self.port), timeout=timeout)  # type: ignore[arg-type]
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.scheme == "https":
                if self.context is None:
                    import ssl

                    self.context = ssl.create_default_context()
                # bytes for an ASCII name: ssl then skips importing the idna codec
                sock = self.context.wrap_socket(sock, server_hostname=address)
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def close(self) -> None:
        sock, self.sock = self.sock, None
        self._buffer.clear()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    # -- writing ---------------------------------------------------------------------------
    def send_request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        deadline: float,
    ) -> None:
        if not method.isalpha() or not target.startswith("/"):
            raise ProtocolError("the request line is not valid")
        if _FORBIDDEN_IN_TARGET & set(target.encode("utf-8")):
            raise ProtocolError("the address holds characters a request line cannot carry")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host_header}"]
        names = {name.lower() for name in headers}
        if "accept-encoding" not in names:
            lines.append("Accept-Encoding: identity")
        for name, value in headers.items():
            if not name or not name.replace("-", "").isalnum():
                raise ProtocolError("a header name is not valid")
            if _FORBIDDEN_IN_VALUE & set(value.encode("utf-8")):
                raise ProtocolError("a header value holds control characters")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        sock = self._sock(deadline)
        sock.sendall(head + body if body else head)

    # -- reading ---------------------------------------------------------------------------
    def _sock(self, deadline: float) -> socket.socket:
        if self.sock is None:
            raise WireClosed
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        return self.sock

    def _fill(self, deadline: float) -> None:
        data = self._sock(deadline).recv(_RECV)
        if not data:
            raise WireClosed
        self._buffer += data

    def _line(self, deadline: float, limit: int = MAX_LINE) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                if end > limit:
                    raise ProtocolError("a line of the response is too long")
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line.rstrip(b"\r\n")
            if len(self._buffer) > limit:
                raise ProtocolError("a line of the response is too long")
            self._fill(deadline)

    def read_head(self, deadline: float) -> Response:
        """The status line and headers of the next final response (1xx ones are skipped)."""
        while True:
            status_line = self._line(deadline).decode("latin-1")
            version, _, rest = status_line.partition(" ")
            code = rest[:3]
            if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit():
                raise ProtocolError("the response does not start with an HTTP status line")
            headers: list[tuple[str, str]] = []
            while True:
                line = self._line(deadline)
                if not line:
                    break
                if len(headers) >= MAX_HEADERS:
                    raise ProtocolError("the response has too many header fields")
                name, sep, value = line.decode("latin-1").partition(":")
                if not sep or not name or name != name.strip():
                    raise ProtocolError("a response header field is malformed")
                headers.append((name.lower(), value.strip()))
            status = int(code)
            if 100 <= status < 200 and status != 101:
                continue  # an interim response: the final one follows
            return Response(version, status, headers)

    def body(
        self, method: str, response: Response, deadline: float, sink: Callable[[bytes], None]
    ) -> bool:
        """Feed the body to ``sink`` piece by piece; True when the connection can be reused."""
        if method == "HEAD" or response.status in (204, 304) or response.status < 200:
            return response.keeps_alive()
        if response.chunked:
            self._chunks(deadline, sink)
            return response.keeps_alive()
        length = response.header("content-length")
        if length is not None:
            if not length.isdigit():
                raise ProtocolError("the response's Content-Length is not a number")
            self._exactly(int(length), deadline, sink)
            return response.keeps_alive()
        while True:  # delimited by the close
            if self._buffer:
                sink(bytes(self._buffer))
                self._buffer.clear()
            try:
                self._fill(deadline)
            except WireClosed:
                return False

    def _exactly(self, size: int, deadline: float, sink: Callable[[bytes], None]) -> None:
        left = size
        while left:
            if not self._buffer:
                self._fill(deadline)
            piece = bytes(self._buffer[:left])
            del self._buffer[: len(piece)]
            left -= len(piece)
            sink(piece)

    def _chunks(self, deadline: float, sink: Callable[[bytes], None]) -> None:
        while True:
            size_line = self._line(deadline, limit=1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ProtocolError("a chunk size of the response is malformed") from None
            if size < 0:
                raise ProtocolError("a chunk size of the response is malformed")
            if size == 0:
                for _ in range(MAX_HEADERS + 1):  # trailer fields, up to the blank line
                    if not self._line(deadline):
                        return
                raise ProtocolError("the response has too many trailer fields")
            self._exactly(size, deadline, sink)
            if self._line(deadline, limit=2):
                raise ProtocolError("a chunk of the response is not followed by CRLF")
