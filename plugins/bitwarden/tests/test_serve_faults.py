"""Faults of the ``bw serve`` transport. The synchronous path (the CLI's) meets real
misbehaving servers on 127.0.0.1 (:mod:`vaults.testing.misbehaving`: resets, odd replies,
silence, trickles); the async path (httpx) also meets ``respx`` for faults it shares."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import anyio
import httpx
import pytest
import respx
from vaults_bitwarden import serve_api
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.serve_api import ServeTransport
from vaults_bitwarden.settings import BitwardenSettings

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ItemNotFound,
    VaultLocked,
    VaultUnavailable,
)
from vaults.refs import parse_reference
from vaults.testing.misbehaving import MisbehavingServer, Reply, Seen, json_reply

URL = "http://127.0.0.1:9"  # never contacted: respx answers
LIST = "/list/object/items"
ITEM_ID = "0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01"
ITEM: dict[str, Any] = {
    "object": "item",
    "id": ITEM_ID,
    "type": 1,
    "name": "GitHub",
    "login": {"username": "octo", "password": "pw-canary-XYZ", "totp": "", "uris": []},
    "fields": [],
}
PASSWORD = "master-canary-0451"


def ok(data: Any) -> Reply:
    return json_reply(200, {"success": True, "data": data})


def listing(*items: Any) -> Reply:
    return ok({"object": "list", "data": list(items)})


def fail(message: str, data: Any = None) -> Reply:
    body: dict[str, Any] = {"success": False, "message": message}
    if data is not None:
        body["data"] = data
    return json_reply(400, body)


Handler = Reply | Callable[[Seen], Reply]


class Serve:
    """A misbehaving ``bw serve``: answers by method and path from scripts of replies (the
    last one repeats) or functions of the request; 404 for anything else."""

    def __init__(self, server: MisbehavingServer) -> None:
        self.server = server
        self.url = server.url
        self.routes: dict[tuple[str, str], list[Handler]] = {}
        server.route = self._answer

    def on(self, method: str, path: str, *handlers: Handler) -> None:
        self.routes[(method, path)] = list(handlers)

    def calls(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.server.requests(path) if s.method == method and s.path == path]

    def _answer(self, seen: Seen) -> Reply:
        script = self.routes.get((seen.method, seen.path))
        if not script:
            return Reply(404, b"Not Found", headers=(("Content-Type", "text/plain"),))
        handler = script.pop(0) if len(script) > 1 else script[0]
        return handler(seen) if callable(handler) else handler


@pytest.fixture
def serve() -> Iterator[Serve]:
    with MisbehavingServer() as server:
        yield Serve(server)


def backend_for(url: str = URL, **env: str) -> BitwardenBackend:
    return BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": url, **env})


def serve_transport(url: str) -> ServeTransport:
    return ServeTransport(BitwardenSettings.from_env({"VAULTS_BITWARDEN_URL": url}))


def fetch(backend: BitwardenBackend, ref: str = f"bitwarden://{ITEM_ID}") -> Any:
    try:
        return backend.fetch(parse_reference(ref))
    finally:
        backend.close()


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=URL, assert_all_called=False) as router:
        yield router


# -- real sockets ----------------------------------------------------------------------------


def test_nothing_listening_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(VaultUnavailable, match="cannot connect") as caught:
        fetch(backend_for(f"http://127.0.0.1:{port}"))
    assert f"127.0.0.1:{port}" in str(caught.value)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections, reads, never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_silent_server_times_out(silent_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(VaultUnavailable, match=r"no answer within 0\.3 s"):
        fetch(backend_for(silent_server, VAULTS_BITWARDEN_TIMEOUT="0.3"))
    # one GET, retried once on nothing but a reset: at most two timeouts
    assert time.monotonic() - started < 3


def test_silent_server_times_out_async(silent_server: str) -> None:
    backend = backend_for(silent_server, VAULTS_BITWARDEN_TIMEOUT="0.3")

    async def run() -> None:
        try:
            await backend.afetch(parse_reference("bitwarden://GitHub"))
        finally:
            await backend.aclose()

    with pytest.raises(VaultUnavailable, match="no answer"):
        anyio.run(run)


# -- respx: resets, odd replies ------------------------------------------------------------


def test_a_reset_is_retried_once_for_gets(serve: Serve) -> None:
    serve.on("GET", LIST, Reply(reset=True), listing(ITEM))
    backend = backend_for(serve.url)
    assert fetch(backend).username == "octo"
    assert len(serve.calls("GET", LIST)) == 2 and backend.transport.requests == 2


@pytest.mark.parametrize(
    "fault",
    [Reply(reset=True), Reply(close=True), Reply(reset_mid=True, body=b'{"success": true}')],
    ids=["reset", "closed", "reset-mid-reply"],
)
def test_repeated_resets_are_unavailable(serve: Serve, fault: Reply) -> None:
    serve.on("GET", LIST, fault)
    with pytest.raises(VaultUnavailable, match="closed or reset"):
        fetch(backend_for(serve.url))
    assert len(serve.calls("GET", LIST)) == 2  # one retry, then the error


def test_a_reply_cut_short_is_unavailable(serve: Serve) -> None:
    serve.on("GET", LIST, Reply(body=json.dumps(ITEM).encode(), truncate=20))
    with pytest.raises(VaultUnavailable, match="closed or reset"):
        fetch(backend_for(serve.url))


def test_a_trickling_reply_is_cut_at_the_deadline(serve: Serve) -> None:
    serve.on("GET", LIST, Reply(body=json.dumps({"success": True}).encode(), trickle=0.1))
    started = time.monotonic()
    with pytest.raises(VaultUnavailable, match=r"no answer within 0\.5 s"):
        fetch(backend_for(serve.url, VAULTS_BITWARDEN_TIMEOUT="0.5"))
    assert time.monotonic() - started < 2.5  # timeouts are not retried


def test_429_waits_as_retry_after_asks_then_succeeds(serve: Serve) -> None:
    serve.on("GET", LIST, json_reply(429, {}, headers=(("Retry-After", "1"),)), listing(ITEM))
    started = time.monotonic()
    assert fetch(backend_for(serve.url)).username == "octo"
    first, second = serve.calls("GET", LIST)
    assert second.at - first.at >= 1.0 and time.monotonic() - started < 5


def test_429_asking_too_long_is_reported_at_once(serve: Serve) -> None:
    serve.on("GET", LIST, json_reply(429, {}, headers=(("Retry-After", "3600"),)))
    with pytest.raises(VaultUnavailable, match=r"rate limiting \(HTTP 429\).*Retry-After 3600"):
        fetch(backend_for(serve.url))
    assert len(serve.calls("GET", LIST)) == 1


def test_a_gzip_reply_is_decoded_and_a_bomb_refused(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = gzip.compress(json.dumps({"success": True, "data": {"data": [ITEM]}}).encode())
    zipped = Reply(
        body=body, headers=(("Content-Type", "application/json"), ("Content-Encoding", "gzip"))
    )
    serve.on("GET", LIST, zipped)
    assert fetch(backend_for(serve.url)).username == "octo"
    monkeypatch.setattr(serve_api, "LIST_MAX_BYTES", 1000)
    bomb = gzip.compress(b'{"success": true, "data": "' + b"0" * 10_000_000 + b'"}')
    assert len(bomb) < 20_000
    serve.on("GET", LIST, Reply(body=bomb, headers=(("Content-Encoding", "gzip"),)))
    with pytest.raises(VaultUnavailable, match="too large"):
        fetch(backend_for(serve.url))


def test_async_reset_and_timeout(mock: respx.MockRouter) -> None:
    mock.get(LIST).mock(side_effect=[httpx.ReadError("reset")] * 2 + [httpx.ReadTimeout("slow")])
    backend = backend_for()

    async def run() -> list[str]:
        messages = []
        for ref in (f"bitwarden://{ITEM_ID}", "bitwarden://GitHub"):
            try:
                await backend.afetch(parse_reference(ref))
            except VaultUnavailable as exc:
                messages.append(str(exc))
        await backend.aclose()
        return messages

    reset, timeout = anyio.run(run)
    assert "closed or reset" in reset and "no answer within" in timeout


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (Reply(500, b"Internal Server Error"), "HTTP 500"),
        (Reply(502), "HTTP 502"),
        (Reply(404, b"Not Found"), "is VAULTS_BITWARDEN_URL the address"),
        (Reply(403), "HTTP 403"),
        (Reply(200, b"<html>proxy login</html>"), "not JSON"),
        (json_reply(200, {"data": ITEM}), "not a bw serve envelope"),
    ],
    ids=["500", "502", "404", "403", "html", "no-envelope"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_odd_replies_are_unavailable(
    serve: Serve, response: Reply, problem: str, mode: str
) -> None:
    serve.on("GET", LIST, response)
    backend = backend_for(serve.url)
    if mode == "sync":
        with pytest.raises(VaultUnavailable, match=problem):
            fetch(backend)
        return

    async def run() -> None:
        try:
            await backend.afetch(parse_reference(f"bitwarden://{ITEM_ID}"))
        finally:
            await backend.aclose()

    with pytest.raises(VaultUnavailable, match=problem):
        anyio.run(run)


def test_id_missing_from_the_search_falls_back_to_the_direct_get(serve: Serve) -> None:
    trashed = {**ITEM, "deletedDate": "2025-01-01T00:00:00.000Z"}
    serve.on("GET", LIST, listing())
    serve.on("GET", f"/object/item/{ITEM_ID}", ok(trashed))
    backend = backend_for(serve.url)
    with pytest.raises(ItemNotFound, match="trash"):
        fetch(backend)
    (search,) = serve.calls("GET", LIST)
    assert parse_qs(search.query)["search"] == [ITEM_ID]
    assert len(serve.calls("GET", f"/object/item/{ITEM_ID}")) == 1
    assert backend.transport.requests == 2


def test_direct_get_reply_without_item(serve: Serve) -> None:
    serve.on("GET", LIST, listing())
    serve.on("GET", f"/object/item/{ITEM_ID}", ok({"object": "x"}))
    with pytest.raises(VaultUnavailable, match="without an item"):
        fetch(backend_for(serve.url))


def test_list_reply_without_list(serve: Serve) -> None:
    serve.on("GET", LIST, ok({"object": "list"}))
    with pytest.raises(VaultUnavailable, match="without a list"):
        fetch(backend_for(serve.url), "bitwarden://GitHub")


@pytest.mark.parametrize(
    ("reply", "kind", "problem"),
    [
        (fail("Not found."), ItemNotFound, "item named 'GitHub'"),
        (fail("You are not logged in."), AuthenticationFailed, "bw login"),
        (fail("Vault is locked."), VaultLocked, "BW_SESSION"),
        (fail("Something else broke."), VaultUnavailable, "Something else broke."),
    ],
)
def test_envelope_failures(serve: Serve, reply: Reply, kind: type[Exception], problem: str) -> None:
    serve.on("GET", LIST, reply)
    with pytest.raises(kind, match=problem):
        fetch(backend_for(serve.url), "bitwarden://GitHub")


def test_ambiguous_reply_carries_ids_in_data(serve: Serve) -> None:
    ids = ["5ebd4d31-104c-49fc-a09c-aedf003d28ad", "90657653-6695-496d-9431-aedf003d3015"]
    serve.on("GET", f"/object/item/{ITEM_ID}", fail("More than one result was found.", data=ids))
    serve.on("GET", LIST, listing())
    with pytest.raises(AmbiguousItem) as caught:
        fetch(backend_for(serve.url))
    assert list(caught.value.candidates) == ids


def test_status_is_nested_under_template(serve: Serve) -> None:
    serve.on("GET", "/status", ok({"object": "template", "template": {"status": "locked"}}))
    backend = backend_for(serve.url)
    try:
        assert backend.status() == "locked"
    finally:
        backend.close()


def test_requests_carry_no_origin_and_a_loopback_host(serve: Serve) -> None:
    serve.on("GET", LIST, listing(ITEM))
    fetch(backend_for(serve.url))
    (request,) = serve.calls("GET", LIST)
    assert "origin" not in request.headers
    assert request.headers["host"] == serve.url.removeprefix("http://")


def test_one_connection_serves_a_process_s_calls(serve: Serve) -> None:
    serve.on("GET", LIST, listing(ITEM))
    backend = backend_for(serve.url)
    try:
        for _ in range(3):
            backend.fetch(parse_reference(f"bitwarden://{ITEM_ID}"))
    finally:
        backend.close()
    assert serve.server.connections == 1


def test_unlock_is_not_retried_on_a_reset_and_never_leaks(serve: Serve) -> None:
    serve.on("GET", LIST, fail("Vault is locked."))
    serve.on("POST", "/unlock", Reply(reset=True))
    with pytest.raises(VaultUnavailable) as caught:
        fetch(backend_for(serve.url, BW_PASSWORD=PASSWORD))
    assert len(serve.calls("POST", "/unlock")) == 1
    assert PASSWORD not in str(caught.value)


def test_unlock_failure_message_is_redacted(serve: Serve) -> None:
    serve.on("GET", LIST, fail("Vault is locked."))
    serve.on("POST", "/unlock", fail(f"Cannot use {PASSWORD} here."))
    with pytest.raises(AuthenticationFailed) as caught:
        fetch(backend_for(serve.url, BW_PASSWORD=PASSWORD))
    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)


def test_unlock_reply_session_key_is_dropped(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    session = "bmV3LXNlc3Npb24ta2V5LWNhbmFyeQ=="
    serve.on("GET", LIST, fail("Vault is locked."), listing(ITEM))
    serve.on(
        "POST",
        "/unlock",
        ok({"object": "message", "title": "unlocked", "message": session, "raw": session}),
    )
    backend = backend_for(serve.url, BW_PASSWORD=PASSWORD)
    try:
        cred = backend.fetch(parse_reference(f"bitwarden://{ITEM_ID}"))
        assert cred.username == "octo"
        (unlock,) = serve.calls("POST", "/unlock")
        assert unlock.body == b'{"password":"' + PASSWORD.encode() + b'"}'
        assert unlock.headers["content-type"] == "application/json"
        assert session not in repr(backend) and session not in repr(vars(backend.transport))
    finally:
        backend.close()
    assert all(
        session not in r.getMessage() and PASSWORD not in r.getMessage() for r in caplog.records
    )


def test_closing_the_last_backend_closes_the_shared_client(serve: Serve) -> None:
    serve.on("GET", LIST, listing(ITEM))
    one, two = backend_for(serve.url), backend_for(serve.url)
    assert isinstance(one.transport, ServeTransport) and isinstance(two.transport, ServeTransport)
    client = one.transport.client
    assert two.transport.client is client
    one.close()
    assert not client.is_closed
    two.close()
    assert client.is_closed


# -- writes: bw serve's view lags behind the server's answer --------------------------------

OLD_REVISION = "2026-01-01T00:00:00.000Z"
NEW_REVISION = "2026-01-01T00:00:05.000Z"
NEW_TOTP = "JBSWY3DPEHPK3PXP"


def _revised(revision: str, totp: str) -> dict[str, Any]:
    return {**ITEM, "revisionDate": revision, "login": {**ITEM["login"], "totp": totp}}


class LaggingServe:
    """``bw serve`` as it behaves on a loaded machine (issue 18): "Not found." right after
    its sync; after the ``PUT`` the previous revision by id for ``lag`` more reads (its
    re-read of its data file waits for the file lock); a search cache built from that
    previous revision, kept until a forced sync (``stale_search``)."""

    def __init__(self, serve: Serve, *, lag: int, stale_search: bool) -> None:
        self.written: dict[str, Any] | None = None
        self.not_found_after_sync = 1
        self.lag = lag
        self.stale_search = stale_search
        self.forced_syncs = 0
        self._lock = threading.Lock()
        serve.on("POST", "/sync", self.sync)
        serve.on("GET", f"/object/item/{ITEM_ID}", self.get)
        serve.on("PUT", f"/object/item/{ITEM_ID}", self.put)
        serve.on("GET", LIST, self.search)

    def sync(self, request: Seen) -> Reply:
        with self._lock:
            if parse_qs(request.query).get("force") == ["true"]:
                self.forced_syncs += 1
                self.stale_search = False
        return ok({"object": "message", "title": "Syncing complete."})

    def get(self, request: Seen) -> Reply:
        with self._lock:
            if self.not_found_after_sync:
                self.not_found_after_sync -= 1
                return fail("Not found.")
            if self.written is None or self.lag > 0:
                self.lag -= self.written is not None
                return ok(_revised(OLD_REVISION, ""))
            return ok(self.written)

    def put(self, request: Seen) -> Reply:
        body = json.loads(request.body)
        if body["revisionDate"] != OLD_REVISION:
            return fail("The PUT does not start from the synced item.")
        with self._lock:
            self.written = {**body, "revisionDate": NEW_REVISION}
            return ok(self.written)

    def search(self, request: Seen) -> Reply:
        with self._lock:
            if self.written is None or self.stale_search:
                return listing(_revised(OLD_REVISION, ""))
            return listing(self.written)


@pytest.mark.parametrize("stale_search", [False, True], ids=["lagging", "stale-search-cache"])
def test_a_write_returns_once_bw_serve_shows_it(serve: Serve, stale_search: bool) -> None:
    lagging = LaggingServe(serve, lag=3, stale_search=stale_search)
    transport = serve_transport(serve.url)
    try:
        transport.write_totp(ITEM_ID, NEW_TOTP, "item x")
        assert lagging.forced_syncs == (1 if stale_search else 0)
        # the next reader (the host's read-back) sees the write at once
        assert transport.get_item(ITEM_ID, "item x")["login"]["totp"] == NEW_TOTP
    finally:
        transport.close()


def test_a_write_bw_serve_never_shows_is_an_error_not_a_silent_return(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_api, "SETTLE_TIMEOUT", 0.3)
    LaggingServe(serve, lag=10**6, stale_search=False)
    transport = serve_transport(serve.url)
    try:
        with pytest.raises(VaultUnavailable, match="stored on the server, but bw serve"):
            transport.write_totp(ITEM_ID, NEW_TOTP, "item x")
    finally:
        transport.close()


def test_a_put_answering_another_secret_is_unavailable(serve: Serve) -> None:
    LaggingServe(serve, lag=0, stale_search=False)
    serve.on("PUT", f"/object/item/{ITEM_ID}", ok(_revised(NEW_REVISION, "SOMETHINGELSE234")))
    transport = serve_transport(serve.url)
    try:
        with pytest.raises(VaultUnavailable, match="answered another item"):
            transport.write_totp(ITEM_ID, NEW_TOTP, "item x")
    finally:
        transport.close()
