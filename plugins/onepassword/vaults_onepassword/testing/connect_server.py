"""A 1Password Connect REST server for tests (stdlib ``ThreadingHTTPServer`` on 127.0.0.1).

Speaks the read side of the documented Connect API (docs/openapi/spec.yaml, v1.7), and one
write (``PUT /v1/vaults/{vaultUuid}/items/{itemUuid}``: the body replaces the item):

- ``GET /v1/vaults`` (``filter=name eq "..."``), ``GET /v1/vaults/{vaultUuid}``
- ``GET /v1/vaults/{vaultUuid}/items`` -- item summaries without fields (``filter=title eq "..."``)
- ``GET /v1/vaults/{vaultUuid}/items/{itemUuid}`` -- the full item; OTP fields carry ``totp``
- ``GET /heartbeat`` (text ``.``) and ``GET /health`` -- no auth
- bearer auth: 401 ``{"status":401,"message":"Invalid bearer token"}``; tokens are scoped to
  vaults (403 ``vault {id} is not in scope``); 404 ``vault {id} not found`` /
  ``item {id} not found``; archived items are hidden.

Every request is recorded (benchmarks and tests assert request counts); ``latency`` delays each
response; ``inject_fault`` makes the next matching requests fail with a chosen status.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from vaults_onepassword.testing.seed import JsonDict, copy_seed
from vaults_onepassword.testing.wire_formats import (
    active_items,
    connect_item,
    connect_summary,
    connect_vault,
    is_archived,
)

CONNECT_VERSION = "1.7.1"
#: Not part of Connect: request counters of a server running in another process.
ADMIN_PATH = "/__vaults_test__/requests"
_UUID = re.compile(r"^[\da-z]{26}$")
_FILTER = re.compile(r'^\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$')
_UNESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    query: str
    status: int
    authorized: bool
    started: float
    finished: float
    client_port: int = 0
    """The client's TCP port: one port per connection (tests of connection reuse)."""

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/v1/")


@dataclass
class _Fault:
    status: int
    message: str
    remaining: int
    path_prefix: str


class _HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def parse_scim_eq(expression: str, attribute: str) -> str:
    """Value of a SCIM ``<attribute> eq "<value>"`` filter (``\\"`` and ``\\\\`` escapes)."""
    match = _FILTER.match(expression)
    if not match or match.group(1) != attribute:
        raise _HttpError(400, f"Invalid filter: only '{attribute} eq \"...\"' is supported")
    return _UNESCAPE.sub(r"\1", match.group(2))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops bursts of concurrent connects (1 s SYN retry).
    request_queue_size = 128
    owner: ConnectServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up (timeouts, shutdown) is not a server bug worth a traceback.
        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "1Password-Connect-Test"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def _dispatch(self) -> None:
        owner = self.server.owner
        started = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        payload_in = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        authorized = False
        try:
            if owner.latency > 0:
                time.sleep(owner.latency)
            status, body, content_type, authorized = owner._respond(
                self.command,
                parts.path,
                parts.query,
                self.headers.get("Authorization"),
                payload_in,
            )
        except _HttpError as exc:
            status, content_type = exc.status, "application/json"
            body = json.dumps({"status": exc.status, "message": exc.message}).encode()
        except Exception as exc:  # a bug in this test server: answer 500, keep it for the test
            owner.errors.append(exc)
            status, content_type = 500, "application/json"
            body = json.dumps({"status": 500, "message": "test server error"}).encode()
        # Recorded before answering: once a client holds the response, the count includes it.
        owner._record(
            RequestRecord(
                self.command,
                parts.path,
                parts.query,
                status,
                authorized,
                started,
                time.monotonic(),
                int(self.client_address[1]),
            )
        )
        payload = body if self.command != "HEAD" else b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("1Password-Connect-Version", CONNECT_VERSION)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = _dispatch
    do_HEAD = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_PATCH = _dispatch
    do_DELETE = _dispatch


class ConnectServer:
    """A running Connect test server; use as a context manager or ``start()`` / ``stop()``."""

    def __init__(
        self,
        seed: JsonDict,
        *,
        latency: float = 0.0,
        serve_archived_by_id: bool = False,
    ) -> None:
        self._lock = threading.Lock()
        self._seed = copy_seed(seed)
        self._records: list[RequestRecord] = []
        self._faults: list[_Fault] = []
        self._connections: set[socket.socket] = set()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        #: unexpected exceptions raised while serving (should stay empty)
        self.errors: list[Exception] = []
        #: seconds slept before answering each request (simulates a remote server)
        self.latency = latency
        #: False (default): an archived item is 404 by id too; True: returned with state ARCHIVED
        self.serve_archived_by_id = serve_archived_by_id

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> ConnectServer:
        if self._httpd is not None:
            return self
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ConnectServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL for clients (``OP_CONNECT_HOST``), without the ``/v1`` prefix."""
        return f"http://127.0.0.1:{self.port}"

    # -- test controls ---------------------------------------------------------------------
    @property
    def seed(self) -> JsonDict:
        with self._lock:
            return copy_seed(self._seed)

    def replace_seed(self, seed: JsonDict) -> None:
        with self._lock:
            self._seed = copy_seed(seed)

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    @property
    def request_count(self) -> int:
        """Requests to the ``/v1`` API (health checks excluded)."""
        return sum(1 for r in self.requests if r.is_api)

    def api_requests(self) -> list[RequestRecord]:
        return [r for r in self.requests if r.is_api]

    def reset_requests(self) -> None:
        with self._lock:
            self._records.clear()

    def max_concurrency(self) -> int:
        """Largest number of API requests that were being served at the same time."""
        events = sorted(
            [(r.started, 1) for r in self.api_requests()]
            + [(r.finished, -1) for r in self.api_requests()]
        )
        best = current = 0
        for _, delta in events:
            current += delta
            best = max(best, current)
        return best

    def inject_fault(
        self, status: int, *, message: str | None = None, times: int = 1, path_prefix: str = "/v1/"
    ) -> None:
        """Answer the next ``times`` requests under ``path_prefix`` with ``status``."""
        with self._lock:
            self._faults.append(
                _Fault(status, message or f"injected failure {status}", times, path_prefix)
            )

    # -- internals -------------------------------------------------------------------------
    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if path.startswith(fault.path_prefix) and fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
        return None

    def _scope(self, authorization: str | None) -> set[str] | None:
        """Vault ids the bearer token may read (None: all); raises 401."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() == "bearer" and token:
            for grant in self._seed["access"]:
                if grant["kind"] == "connect" and grant["token"] == token.strip():
                    vaults = grant.get("vaults")
                    return None if vaults is None else set(vaults)
        raise _HttpError(401, "Invalid bearer token")

    def _respond(
        self,
        method: str,
        path: str,
        query: str,
        authorization: str | None,
        payload: bytes = b"",
    ) -> tuple[int, bytes, str, bool]:
        if path == ADMIN_PATH:
            return self._admin(method)
        fault = self._take_fault(path)
        if fault is not None:
            raise _HttpError(fault.status, fault.message)
        if path == "/heartbeat":
            return 200, b".", "text/plain", False
        if path == "/health":
            health = {
                "name": "1Password Connect API",
                "version": CONNECT_VERSION,
                "dependencies": [
                    {"service": "sync", "status": "ACTIVE"},
                    {"service": "sqlite", "status": "ACTIVE", "message": "Connected"},
                ],
            }
            return 200, json.dumps(health).encode(), "application/json", False
        segments = [unquote(s) for s in path.split("/")[1:]]
        if len(segments) < 2 or segments[0] != "v1" or segments[1] != "vaults":
            raise _HttpError(404, "Not Found")
        with self._lock:
            scope = self._scope(authorization)
            if method == "PUT" and len(segments) == 5 and segments[3] == "items":
                body = self._put_item(segments[2], segments[4], payload, scope)
                return 200, json.dumps(body).encode(), "application/json", True
            if method not in ("GET", "HEAD"):
                raise _HttpError(405, f"{method} is not supported by this test server")
            params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
            body = self._route(segments[2:], params, scope)
        return 200, json.dumps(body).encode(), "application/json", True

    def _admin(self, method: str) -> tuple[int, bytes, str, bool]:
        """Test control for a server in another process: GET counts, DELETE resets."""
        if method == "DELETE":
            self.reset_requests()
        with self._lock:
            count = sum(1 for r in self._records if r.is_api)
        body = json.dumps({"api_requests": count, "errors": len(self.errors)}).encode()
        return 200, body, "application/json", False

    def _put_item(
        self, vault_id: str, item_id: str, payload: bytes, scope: set[str] | None
    ) -> JsonDict:
        """``PUT /v1/vaults/{v}/items/{i}`` (UpdateVaultItem): the body (a ``FullItem``)
        replaces the item; ``version`` goes up; the server computes OTP codes again."""
        vault = self._vault(vault_id, scope)
        try:
            body = json.loads(payload)
        except ValueError:
            raise _HttpError(400, "Unable to parse the request body as JSON") from None
        if not isinstance(body, dict) or body.get("id") not in (None, item_id):
            raise _HttpError(400, "The item id in the body does not match the path")
        if not isinstance(body.get("fields", []), list):
            raise _HttpError(400, "fields must be a list")
        for stored_vault in self._seed["vaults"]:
            if stored_vault["id"] != vault["id"]:
                continue
            for index, item in enumerate(stored_vault["items"]):
                if item["id"] != item_id:
                    continue
                updated = {k: v for k, v in body.items() if k not in ("vault", "version")}
                updated["id"] = item_id
                updated["fields"] = [
                    {k: v for k, v in f.items() if k != "totp"} for f in body.get("fields", [])
                ]
                for keep in ("state", "otpWireType"):
                    if keep in item and keep not in updated:
                        updated[keep] = item[keep]
                updated["version"] = int(item.get("version", 1)) + 1
                stored_vault["items"][index] = updated
                return connect_item(stored_vault, updated)
        raise _HttpError(404, f"item {item_id} not found")

    def _vault(self, vault_id: str, scope: set[str] | None) -> JsonDict:
        for v in self._seed["vaults"]:
            if v["id"] == vault_id and _UUID.match(vault_id):
                if scope is not None and vault_id not in scope:
                    raise _HttpError(403, f"vault {vault_id} is not in scope")
                return dict(v)
        raise _HttpError(404, f"vault {vault_id} not found")

    def _route(self, rest: list[str], params: dict[str, str], scope: set[str] | None) -> Any:
        visible = [v for v in self._seed["vaults"] if scope is None or v["id"] in scope]
        if not rest:
            if "filter" in params:
                name = parse_scim_eq(params["filter"], "name")
                visible = [v for v in visible if v["name"] == name]
            return [connect_vault(v) for v in visible]
        vault = self._vault(rest[0], scope)
        if len(rest) == 1:
            return connect_vault(vault)
        if rest[1] != "items" or len(rest) > 3:
            raise _HttpError(404, "Not Found")
        if len(rest) == 2:
            items = active_items(vault)
            if "filter" in params:
                title = parse_scim_eq(params["filter"], "title")
                items = [i for i in items if i["title"] == title]
            return [connect_summary(vault, i) for i in items]
        item_id = rest[2]
        for item in vault["items"]:
            if item["id"] == item_id and (self.serve_archived_by_id or not is_archived(item)):
                return connect_item(vault, item)
        raise _HttpError(404, f"item {item_id} not found")


def main(argv: list[str] | None = None) -> None:
    """``python -m vaults_onepassword.testing.connect_server SEED.json [--latency S]``: serve
    until stdin closes, after printing the base URL (benchmarks: no GIL shared with clients)."""
    import argparse
    from pathlib import Path

    from vaults_onepassword.testing.seed import read_seed

    parser = argparse.ArgumentParser(description="1Password Connect test server")
    parser.add_argument("seed", type=Path)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args(argv)
    with ConnectServer(read_seed(args.seed), latency=args.latency) as server:
        print(server.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
