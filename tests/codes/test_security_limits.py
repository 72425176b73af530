"""The limits of vaults.codes.security on a real uvicorn server (127.0.0.1), with short bounds
so they run fast: read timeouts for headers and bodies, the open-connection cap, the
requests-in-flight cap (503 + Retry-After), and the sliding window behind 429s."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from vaults.codes.security import Limits, RequestLimit, SlidingWindow, guarded_h11
from vaults.testing.servers import serve_asgi


async def _ok(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed ``sock`` (None: still open after ``seconds``)."""
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < seconds:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return None


def test_trickled_headers_and_bodies_are_cut_off() -> None:
    limits = Limits(header_timeout=1.0, body_timeout=1.0)
    with serve_asgi(_ok, http=guarded_h11(limits)) as base:
        port = int(base.rsplit(":", 1)[1])
        headers = socket.create_connection(("127.0.0.1", port))
        headers.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nx-a: ")
        body = socket.create_connection(("127.0.0.1", port))
        body.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-length: 100\r\n\r\nab")
        idle = socket.create_connection(("127.0.0.1", port))  # never sends a byte
        for sock in (headers, body, idle):
            took = _closed_within(sock, 5)
            assert took is not None and took < 3, took
            sock.close()
        assert httpx.get(base).text == "ok"  # a normal request is unaffected


def test_a_keep_alive_connection_gets_a_new_header_deadline() -> None:
    limits = Limits(header_timeout=1.0, body_timeout=1.0, keep_alive=5)
    with serve_asgi(_ok, http=guarded_h11(limits)) as base:
        port = int(base.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert b"200 OK" in sock.recv(4096)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 1")  # the next request, trickled
        took = _closed_within(sock, 5)
        assert took is not None and took < 3, took
        sock.close()


def test_connections_past_the_cap_are_closed() -> None:
    limits = Limits(max_connections=5)
    with serve_asgi(_ok, http=guarded_h11(limits)) as base:
        port = int(base.rsplit(":", 1)[1])
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(5)]
        time.sleep(0.2)
        extra = socket.create_connection(("127.0.0.1", port))
        assert _closed_within(extra, 3) is not None
        assert _closed_within(held[0], 0.5) is None  # the first five stay
        for sock in [*held, extra]:
            sock.close()


def test_requests_past_the_in_flight_cap_get_503() -> None:
    async def slow(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(1.0)
        await _ok(scope, receive, send)

    with serve_asgi(RequestLimit(slow, limit=2)) as base, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: httpx.get(base, timeout=10), range(6)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 503, 503, 503, 503]
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 503)


def test_the_sliding_window() -> None:
    now = [1000.0]
    window = SlidingWindow(3, 60, max_keys=2, clock=lambda: now[0])
    assert [window.hit("a") for _ in range(4)] == [None, None, None, 60]
    now[0] += 30
    assert window.retry_after("a") == 30
    now[0] += 30
    assert window.hit("a") is None  # the first events left the window
    window.add("b")
    window.add("c")  # a third key: the least recently used ("a") is forgotten
    assert window.retry_after("a") is None
