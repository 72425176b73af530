"""A tiny threaded HTTP/1.1 server on 127.0.0.1 that misbehaves on purpose.

Each request is answered by the next :class:`Reply` of the script (the last one repeats), or
by a ``route`` function of the request. Besides ordinary answers, a reply can:

- ``reset``: read the request, then close with ``SO_LINGER 0`` (the client sees a TCP RST);
- ``reset_mid``: send the status line, headers and half the body, then RST;
- ``close``: close without a byte (the client sees a protocol error);
- ``delay``: wait that long before answering (a slow server; cut short when the server stops);
- ``trickle``: send the body one byte every ``trickle`` seconds (headers promptly);
- ``truncate``: declare the full ``Content-Length`` but send only that many bytes, then close.

Every request is logged (method, path, headers, body, arrival time) for checking retries and
backoff. No third-party code: plain sockets, so what the client meets is a real wire.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

__all__ = ["MisbehavingServer", "Reply", "Seen", "json_reply"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True)
class Reply:
    """How to answer one request."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    delay: float = 0.0
    reset: bool = False
    reset_mid: bool = False
    close: bool = False
    trickle: float = 0.0
    truncate: int | None = None


def json_reply(status: int, data: Any, **kwargs: Any) -> Reply:
    return Reply(status=status, body=json.dumps(data).encode(), **kwargs)


@dataclass(frozen=True)
class Seen:
    """A request the server read."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class MisbehavingServer:
    """``with MisbehavingServer(script=[...]) as server: server.url``."""

    script: list[Reply] = field(default_factory=lambda: [Reply()])
    route: Callable[[Seen], Reply] | None = None
    seen: list[Seen] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> MisbehavingServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.settimeout(0.1)
        self._sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        thread = threading.Thread(target=self._accept, name="misbehaving-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=5)
        if self._sock is not None:
            self._sock.close()

    def requests(self, path_prefix: str = "") -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path.startswith(path_prefix)]

    def set_script(self, *replies: Reply) -> None:
        with self._lock:
            self.script = list(replies)
            self.seen.clear()

    # -- serving -----------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._clients.append(client)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._threads.append(thread)
            thread.start()

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            if self.route is not None:
                route = self.route
            else:
                return self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return route(seen)

    def _serve(self, client: socket.socket) -> None:
        client.settimeout(0.2)
        buffer = b""
        try:
            while not self._stop.is_set():
                seen, buffer = self._read_request(client, buffer)
                if seen is None:
                    return
                reply = self._next(seen)
                if not self._answer(client, reply):
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                client.close()

    def _read_request(self, client: socket.socket, buffer: bytes) -> tuple[Seen | None, bytes]:
        while b"\r\n\r\n" not in buffer:
            chunk = self._recv(client)
            if not chunk:
                return None, b""
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(buffer) < length:
            chunk = self._recv(client)
            if not chunk:
                return None, b""
            buffer += chunk
        body, buffer = buffer[:length], buffer[length:]
        parts = urlsplit(target)
        seen = Seen(method, parts.path, parts.query, headers, body, time.monotonic())
        return seen, buffer

    def _recv(self, client: socket.socket) -> bytes:
        while not self._stop.is_set():
            try:
                return client.recv(65536)
            except TimeoutError:
                continue
        return b""

    @staticmethod
    def _rst(client: socket.socket) -> None:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()

    def _answer(self, client: socket.socket, reply: Reply) -> bool:
        """Send ``reply``; False when the connection is done with."""
        if reply.delay and self._stop.wait(reply.delay):
            return False
        if reply.reset:
            self._rst(client)
            return False
        if reply.close:
            client.close()
            return False
        head = [f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        head.append(f"Content-Length: {len(reply.body)}")
        data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if reply.reset_mid:
            client.sendall(data + reply.body[: len(reply.body) // 2])
            time.sleep(0.02)
            self._rst(client)
            return False
        if reply.truncate is not None:
            client.sendall(data + reply.body[: reply.truncate])
            client.shutdown(socket.SHUT_WR)
            return False
        client.sendall(data)
        if reply.trickle:
            for byte in reply.body:
                if self._stop.wait(reply.trickle):
                    return False
                client.sendall(bytes([byte]))
            return True
        client.sendall(reply.body)
        return True
