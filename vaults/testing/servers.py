"""Local servers for tests: always 127.0.0.1, always a free port, always stopped.

``serve_asgi(app)`` runs any ASGI app (FastAPI, Starlette…) under uvicorn in a thread::

    with serve_asgi(app) as base_url:
        httpx.get(f"{base_url}/health")

uvicorn is imported lazily (``pip install 'vaults[server]'``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["LOOPBACK", "ServerStartError", "bind_loopback", "free_port", "serve_asgi"]

LOOPBACK = "127.0.0.1"


class ServerStartError(RuntimeError):
    """The test server did not come up in time."""


def bind_loopback() -> socket.socket:
    """A TCP socket bound to 127.0.0.1 on a free port (listen on it, or hand it to a server:
    no race between choosing the port and binding it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    return sock


def free_port() -> int:
    """A port that was free on 127.0.0.1 a moment ago (prefer :func:`bind_loopback`)."""
    with contextlib.closing(bind_loopback()) as sock:
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve_asgi(
    app: Any, *, timeout: float = 10.0, scheme: str = "http", **config: Any
) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:<free port> in a thread; yields ``"http://127.0.0.1:PORT"``.

    Extra keyword arguments go to :class:`uvicorn.Config` (``ssl_certfile``, ``ssl_keyfile``…;
    pass ``scheme="https"`` with them). The server is stopped and joined on exit.
    """
    import uvicorn

    sock = bind_loopback()
    port = sock.getsockname()[1]
    config.setdefault("log_level", "warning")
    config.setdefault("lifespan", "off")
    server = uvicorn.Server(uvicorn.Config(app, host=LOOPBACK, port=port, **config))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"vaults-test-server-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout
        while not server.started:
            if failure or not thread.is_alive():
                raise ServerStartError(f"test server on {LOOPBACK}:{port} failed to start") from (
                    failure[0] if failure else None
                )
            if time.monotonic() > deadline:
                raise ServerStartError(f"test server on {LOOPBACK}:{port} not up in {timeout}s")
            time.sleep(0.01)
        yield f"{scheme}://{LOOPBACK}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
