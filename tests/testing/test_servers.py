"""Local test servers: loopback only, free port, stopped on exit."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from vaults.testing.servers import LOOPBACK, ServerStartError, bind_loopback, free_port, serve_asgi


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": scope["path"].encode()})


def test_serve_asgi_serves_on_loopback_and_stops() -> None:
    with serve_asgi(hello) as base_url:
        assert base_url.startswith(f"http://{LOOPBACK}:")
        assert httpx.get(f"{base_url}/ping", timeout=5).text == "/ping"
    port = int(base_url.rsplit(":", 1)[1])
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/ping", timeout=2)
    with socket.socket() as sock:  # the port is free again
        sock.bind((LOOPBACK, port))


def test_serve_asgi_reports_a_server_that_cannot_start() -> None:
    with pytest.raises(ServerStartError), serve_asgi(hello, timeout=5, ssl_certfile="/nonexistent"):
        pass


def test_free_port_and_bind_loopback() -> None:
    port = free_port()
    assert 0 < port < 65536
    with bind_loopback() as sock:
        host, bound = sock.getsockname()
        assert host == LOOPBACK and bound > 0
