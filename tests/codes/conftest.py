"""Fixtures for the codes inbox: real SQLite files and a real, throwaway PostgreSQL server.

The PostgreSQL server (initdb + pg_ctl on a free 127.0.0.1 port) starts once per session
and is removed at the end. Without the server binaries the PostgreSQL cases are skipped,
unless VAULTS_REQUIRE_POSTGRES=1 (CI), which turns the skip into a failure.

tests/delivery/conftest.py reuses the store fixtures and the HTTP helpers from here.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from vaults.codes.inbox import Inbox
from vaults.host import PluginHost
from vaults.testing.hosts import make_test_host

STORES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from vaults.testing.pg_cluster import PostgresMissing, ThrowawayPostgres, wait_ready

    try:
        server = ThrowawayPostgres().start()
    except PostgresMissing as exc:
        if os.environ.get("VAULTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"VAULTS_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        wait_ready(server.url)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_url(pg_server: object) -> str:
    from vaults.testing.pg_cluster import ThrowawayPostgres

    assert isinstance(pg_server, ThrowawayPostgres)
    return pg_server.url


def reset_postgres(url: str) -> None:
    """Drop the codes table: the next store on ``url`` starts empty."""
    import psycopg

    from vaults.codes.postgres_store import TABLE

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'codes.db'}"
    url: str = request.getfixturevalue("pg_url")
    reset_postgres(url)
    return url


def listener_count(store_url: str) -> int:
    """How many waiters are registered on the store right now."""
    if store_url.startswith("sqlite:///"):
        wake_dir = Path(store_url[len("sqlite:///") :] + ".wake")
        return len(list(wake_dir.glob("*.fifo"))) if wake_dir.is_dir() else 0
    import psycopg

    from vaults.codes.postgres_store import LISTENER_APPLICATION_NAME

    with psycopg.connect(store_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND query ILIKE 'LISTEN %%'",
            (LISTENER_APPLICATION_NAME,),
        ).fetchone()
    return int(row[0]) if row else 0


@pytest.fixture
def count_listeners(store_url: str) -> Callable[[], int]:
    """``count_listeners()``: waiters registered on the test's store, once the count has
    settled at zero or 5 s passed (a closed PostgreSQL connection leaves pg_stat_activity
    a moment after the client closed it)."""

    def count() -> int:
        deadline = time.monotonic() + 5
        while (found := listener_count(store_url)) and time.monotonic() < deadline:
            time.sleep(0.01)
        return found

    return count


@pytest.fixture
def wait_for_listener(store_url: str) -> Callable[..., None]:
    """``wait_for_listener(n=1)``: block until ``n`` waiters are registered on the store, so
    that a push made next has to wake them (rather than be found by their first look)."""

    def wait(count: int = 1) -> None:
        deadline = time.monotonic() + 20
        while listener_count(store_url) < count:
            assert time.monotonic() < deadline, "the waiter never registered"
            time.sleep(0.01)

    return wait


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'codes.db'}"


@pytest.fixture(scope="session")
def codes_host() -> PluginHost:
    """The built-in extractor only (no installed plugin can change what tests see)."""
    return make_test_host()


@pytest.fixture
def make_inbox(store_url: str, codes_host: PluginHost) -> Iterator[Callable[..., Inbox]]:
    """``make_inbox(**kwargs)``: inboxes on the test's store, closed at teardown."""
    opened: list[Inbox] = []

    def factory(**kwargs: object) -> Inbox:
        kwargs.setdefault("host", codes_host)
        inbox = Inbox(store_url, **kwargs)  # type: ignore[arg-type]
        opened.append(inbox)
        return inbox

    yield factory
    for inbox in opened:
        inbox.close()


@pytest.fixture
def inbox(make_inbox: Callable[..., Inbox]) -> Inbox:
    return make_inbox()


def loopback_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    return loopback_port()


class FakeClock:
    """A settable wall clock for expiry tests."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class PullRequestSeen:
    body: bytes
    headers: dict[str, str]
    at: float
    signature_ok: bool


@dataclass
class PullEndpoint:
    """A user's code endpoint on 127.0.0.1, written the way the docs tell endpoint authors:
    it checks x-vaults-signature with ``verify_signature`` and answers 401 when it fails.

    ``answers`` is consumed one per request (the last one repeats): ``(status, json_body)``,
    or ``"drop"`` to close the connection without an answer.
    """

    url: str
    api_key: str
    answers: list[tuple[int, object] | str] = field(default_factory=list)
    seen: list[PullRequestSeen] = field(default_factory=list)

    def next_answer(self) -> tuple[int, object] | str:
        if len(self.answers) > 1:
            return self.answers.pop(0)
        return self.answers[0] if self.answers else (200, {})


@pytest.fixture
def pull_endpoint() -> Iterator[PullEndpoint]:
    from vaults.codes import verify_signature

    endpoint = PullEndpoint(url="", api_key="pull-key-canary-93ad")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            ok = verify_signature(
                body,
                self.headers.get("x-vaults-signature"),
                endpoint.api_key,
                url=own_url(self),
            )
            endpoint.seen.append(
                PullRequestSeen(body, dict(self.headers.items()), time.monotonic(), ok)
            )
            answer = endpoint.next_answer() if ok else (401, {"detail": "bad signature"})
            if answer == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            assert isinstance(answer, tuple)
            status, data = answer
            send_json(self, status, data if isinstance(data, bytes) else json.dumps(data).encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        endpoint.url = f"{base_url}/totp"
        yield endpoint


# -- HTTP helpers, also used by tests/delivery ----------------------------------------------
def own_url(handler: BaseHTTPRequestHandler) -> str:
    """The full URL a loopback test server's handler was called at (what a pull endpoint
    passes to ``verify_signature(url=…)``)."""
    return f"http://127.0.0.1:{handler.server.server_address[1]}{handler.path}"


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: bytes) -> None:
    """Answer the handler's request with ``status`` and the JSON bytes ``payload``."""
    handler.send_response(status)
    handler.send_header("content-type", "application/json")
    handler.send_header("content-length", str(len(payload)))
    handler.end_headers()
    handler.wfile.write(payload)


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """Serve ``handler`` on 127.0.0.1 (a free port) in a thread; yields
    ``http://127.0.0.1:PORT``; shut down, closed and joined on exit."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- a real `vaults serve` process ----------------------------------------------------------
SERVE_KEY = "serve-full-key-canary-5be1d0"
"""The full key (VAULTS_API_KEY) :func:`vaults_serve` starts servers with."""
SERVE_PUSH_KEY = "serve-push-key-canary-91c7aa"
"""The push-only key (VAULTS_PUSH_KEY) :func:`vaults_serve` starts servers with."""


@dataclass
class Served:
    """A running ``vaults serve``: its base URL, process and combined output file."""

    base: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def vaults_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "vaults.cli.main", *args]


@contextlib.contextmanager
def vaults_serve(
    store_url: str,
    tmp_path: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    start_timeout: float = 30.0,
) -> Iterator[Served]:
    """Start ``vaults serve --store store_url ARGS`` on a free 127.0.0.1 port with both keys
    set (``env`` adds or overrides variables; a value of ``""`` removes one); wait for
    ``/healthz``; terminate it on exit."""
    import httpx

    port = loopback_port()
    merged = {
        **os.environ,
        "VAULTS_API_KEY": SERVE_KEY,
        "VAULTS_PUSH_KEY": SERVE_PUSH_KEY,
        "VAULTS_LOAD_PLUGINS": "",
        **(env or {}),
    }
    merged = {k: v for k, v in merged.items() if v != ""}
    log = tmp_path / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            vaults_command("serve", "--port", str(port), "--store", store_url, *args),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=merged,
        )
    served = Served(f"http://127.0.0.1:{port}", port, process, log)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                if httpx.get(f"{served.base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, served.output()
            assert time.monotonic() < deadline, "vaults serve did not start"
            time.sleep(0.05)
        yield served
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
