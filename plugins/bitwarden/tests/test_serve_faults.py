"""Faults of the ``bw serve`` transport: dead and silent servers (real sockets), and with
``respx`` what a server cannot easily be made to do (resets, odd replies)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

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


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"success": True, "data": data})


def listing(*items: Any) -> httpx.Response:
    return ok({"object": "list", "data": list(items)})


def fail(message: str, data: Any = None) -> httpx.Response:
    body: dict[str, Any] = {"success": False, "message": message}
    if data is not None:
        body["data"] = data
    return httpx.Response(400, json=body)


def backend_for(url: str = URL, **env: str) -> BitwardenBackend:
    return BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": url, **env})


def serve_transport() -> ServeTransport:
    return ServeTransport(BitwardenSettings.from_env({"VAULTS_BITWARDEN_URL": URL}))


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


def test_a_reset_is_retried_once_for_gets(mock: respx.MockRouter) -> None:
    route = mock.get(LIST).mock(
        side_effect=[httpx.ReadError("connection reset by peer"), listing(ITEM)]
    )
    backend = backend_for()
    assert fetch(backend).username == "octo"
    assert route.call_count == 2 and backend.transport.requests == 2


@pytest.mark.parametrize(
    "fault",
    [httpx.ReadError("connection reset"), httpx.RemoteProtocolError("Server disconnected")],
)
def test_repeated_resets_are_unavailable(mock: respx.MockRouter, fault: Exception) -> None:
    mock.get(LIST).mock(side_effect=fault)
    with pytest.raises(VaultUnavailable, match="closed or reset"):
        fetch(backend_for())


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
        (httpx.Response(500, text="Internal Server Error"), "HTTP 500"),
        (httpx.Response(502), "HTTP 502"),
        (httpx.Response(404, text="Not Found"), "is VAULTS_BITWARDEN_URL the address"),
        (httpx.Response(403), "HTTP 403"),
        (httpx.Response(200, text="<html>proxy login</html>"), "not JSON"),
        (httpx.Response(200, json={"data": ITEM}), "not a bw serve envelope"),
    ],
)
def test_odd_replies_are_unavailable(
    mock: respx.MockRouter, response: httpx.Response, problem: str
) -> None:
    mock.get(LIST).mock(return_value=response)
    with pytest.raises(VaultUnavailable, match=problem):
        fetch(backend_for())


def test_id_missing_from_the_search_falls_back_to_the_direct_get(mock: respx.MockRouter) -> None:
    trashed = {**ITEM, "deletedDate": "2025-01-01T00:00:00.000Z"}
    search = mock.get(LIST).mock(return_value=listing())
    direct = mock.get(f"/object/item/{ITEM_ID}").mock(return_value=ok(trashed))
    backend = backend_for()
    with pytest.raises(ItemNotFound, match="trash"):
        fetch(backend)
    assert search.calls.last.request.url.params["search"] == ITEM_ID
    assert (search.call_count, direct.call_count, backend.transport.requests) == (1, 1, 2)


def test_direct_get_reply_without_item(mock: respx.MockRouter) -> None:
    mock.get(LIST).mock(return_value=listing())
    mock.get(f"/object/item/{ITEM_ID}").mock(return_value=ok({"object": "x"}))
    with pytest.raises(VaultUnavailable, match="without an item"):
        fetch(backend_for())


def test_list_reply_without_list(mock: respx.MockRouter) -> None:
    mock.get("/list/object/items").mock(return_value=ok({"object": "list"}))
    with pytest.raises(VaultUnavailable, match="without a list"):
        fetch(backend_for(), "bitwarden://GitHub")


@pytest.mark.parametrize(
    ("reply", "kind", "problem"),
    [
        (fail("Not found."), ItemNotFound, "item named 'GitHub'"),
        (fail("You are not logged in."), AuthenticationFailed, "bw login"),
        (fail("Vault is locked."), VaultLocked, "BW_SESSION"),
        (fail("Something else broke."), VaultUnavailable, "Something else broke."),
    ],
)
def test_envelope_failures(
    mock: respx.MockRouter, reply: httpx.Response, kind: type[Exception], problem: str
) -> None:
    mock.get(LIST).mock(return_value=reply)
    with pytest.raises(kind, match=problem):
        fetch(backend_for(), "bitwarden://GitHub")


def test_ambiguous_reply_carries_ids_in_data(mock: respx.MockRouter) -> None:
    ids = ["5ebd4d31-104c-49fc-a09c-aedf003d28ad", "90657653-6695-496d-9431-aedf003d3015"]
    mock.get(f"/object/item/{ITEM_ID}").mock(
        return_value=fail("More than one result was found.", data=ids)
    )
    mock.get(LIST).mock(return_value=listing())
    with pytest.raises(AmbiguousItem) as caught:
        fetch(backend_for())
    assert list(caught.value.candidates) == ids


def test_status_is_nested_under_template(mock: respx.MockRouter) -> None:
    mock.get("/status").mock(
        return_value=ok({"object": "template", "template": {"status": "locked"}})
    )
    backend = backend_for()
    try:
        assert backend.status() == "locked"
    finally:
        backend.close()


def test_requests_carry_no_origin_and_a_loopback_host(mock: respx.MockRouter) -> None:
    route = mock.get(LIST).mock(return_value=listing(ITEM))
    fetch(backend_for())
    request = route.calls.last.request
    assert "origin" not in request.headers
    assert request.headers["host"] == "127.0.0.1:9"


def test_unlock_is_not_retried_on_a_reset_and_never_leaks(mock: respx.MockRouter) -> None:
    mock.get(LIST).mock(return_value=fail("Vault is locked."))
    unlock = mock.post("/unlock").mock(side_effect=httpx.ReadError("reset"))
    with pytest.raises(VaultUnavailable) as caught:
        fetch(backend_for(BW_PASSWORD=PASSWORD))
    assert unlock.call_count == 1
    assert PASSWORD not in str(caught.value)


def test_unlock_failure_message_is_redacted(mock: respx.MockRouter) -> None:
    mock.get(LIST).mock(return_value=fail("Vault is locked."))
    mock.post("/unlock").mock(return_value=fail(f"Cannot use {PASSWORD} here."))
    with pytest.raises(AuthenticationFailed) as caught:
        fetch(backend_for(BW_PASSWORD=PASSWORD))
    assert PASSWORD not in str(caught.value) and "***" in str(caught.value)


def test_unlock_reply_session_key_is_dropped(
    mock: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    session = "bmV3LXNlc3Npb24ta2V5LWNhbmFyeQ=="
    mock.get(LIST).mock(side_effect=[fail("Vault is locked."), listing(ITEM)])
    unlock = mock.post("/unlock").mock(
        return_value=ok(
            {"object": "message", "title": "unlocked", "message": session, "raw": session}
        )
    )
    backend = backend_for(BW_PASSWORD=PASSWORD)
    try:
        cred = backend.fetch(parse_reference(f"bitwarden://{ITEM_ID}"))
        assert cred.username == "octo"
        assert unlock.calls.last.request.content == b'{"password":"' + PASSWORD.encode() + b'"}'
        assert session not in repr(backend) and session not in repr(vars(backend.transport))
    finally:
        backend.close()
    assert all(
        session not in r.getMessage() and PASSWORD not in r.getMessage() for r in caplog.records
    )


def test_closing_the_last_backend_closes_the_shared_client(mock: respx.MockRouter) -> None:
    mock.get(LIST).mock(return_value=listing(ITEM))
    one, two = backend_for(), backend_for()
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

    def __init__(self, mock: respx.MockRouter, *, lag: int, stale_search: bool) -> None:
        self.written: dict[str, Any] | None = None
        self.not_found_after_sync = 1
        self.lag = lag
        self.stale_search = stale_search
        self.forced_syncs = 0
        mock.post("/sync").mock(side_effect=self.sync)
        mock.get(f"/object/item/{ITEM_ID}").mock(side_effect=self.get)
        mock.put(f"/object/item/{ITEM_ID}").mock(side_effect=self.put)
        mock.get(LIST).mock(side_effect=self.search)

    def sync(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("force") == "true":
            self.forced_syncs += 1
            self.stale_search = False
        return ok({"object": "message", "title": "Syncing complete."})

    def get(self, request: httpx.Request) -> httpx.Response:
        if self.not_found_after_sync:
            self.not_found_after_sync -= 1
            return fail("Not found.")
        if self.written is None or self.lag > 0:
            self.lag -= self.written is not None
            return ok(_revised(OLD_REVISION, ""))
        return ok(self.written)

    def put(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["revisionDate"] == OLD_REVISION, "the PUT starts from the synced item"
        self.written = {**body, "revisionDate": NEW_REVISION}
        return ok(self.written)

    def search(self, request: httpx.Request) -> httpx.Response:
        if self.written is None or self.stale_search:
            return listing(_revised(OLD_REVISION, ""))
        return listing(self.written)


@pytest.mark.parametrize("stale_search", [False, True], ids=["lagging", "stale-search-cache"])
def test_a_write_returns_once_bw_serve_shows_it(mock: respx.MockRouter, stale_search: bool) -> None:
    serve = LaggingServe(mock, lag=3, stale_search=stale_search)
    transport = serve_transport()
    try:
        transport.write_totp(ITEM_ID, NEW_TOTP, "item x")
        assert serve.forced_syncs == (1 if stale_search else 0)
        # the next reader (the host's read-back) sees the write at once
        assert transport.get_item(ITEM_ID, "item x")["login"]["totp"] == NEW_TOTP
    finally:
        transport.close()


def test_a_write_bw_serve_never_shows_is_an_error_not_a_silent_return(
    mock: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serve_api, "SETTLE_TIMEOUT", 0.3)
    LaggingServe(mock, lag=10**6, stale_search=False)
    transport = serve_transport()
    try:
        with pytest.raises(VaultUnavailable, match="stored on the server, but bw serve"):
            transport.write_totp(ITEM_ID, NEW_TOTP, "item x")
    finally:
        transport.close()


def test_a_put_answering_another_secret_is_unavailable(mock: respx.MockRouter) -> None:
    LaggingServe(mock, lag=0, stale_search=False)
    mock.put(f"/object/item/{ITEM_ID}").mock(
        return_value=ok(_revised(NEW_REVISION, "SOMETHINGELSE234"))
    )
    transport = serve_transport()
    try:
        with pytest.raises(VaultUnavailable, match="answered another item"):
            transport.write_totp(ITEM_ID, NEW_TOTP, "item x")
    finally:
        transport.close()
