"""The Connect test server is faithful: the official Python Connect SDK reads it like a real one."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from onepasswordconnectsdk.client import Client, new_client
from onepasswordconnectsdk.errors import (
    FailedToRetrieveItemException,
    FailedToRetrieveVaultException,
)
from vaults_onepassword.testing.connect_server import ConnectServer
from vaults_onepassword.testing.fixtures import ConnectFixture
from vaults_onepassword.testing.otp_oracle import current_code
from vaults_onepassword.testing.seed import (
    BANK_OTP_URI,
    GITHUB_OTP_URI,
    SERVER_ONLY_SECRET,
    SPEC_SECRET,
    bulk_seed,
    find_item,
    find_items,
    find_vault,
    token_for,
)

# Property names of the spec's Vault, Item and FullItem schemas (connect docs/openapi/spec.yaml).
VAULT_KEYS = {
    "id",
    "name",
    "description",
    "attributeVersion",
    "contentVersion",
    "items",
    "type",
    "createdAt",
    "updatedAt",
}
ITEM_KEYS = {
    "id",
    "title",
    "vault",
    "category",
    "urls",
    "favorite",
    "tags",
    "version",
    "state",
    "createdAt",
    "updatedAt",
    "lastEditedBy",
}
FULL_ITEM_KEYS = ITEM_KEYS | {"sections", "fields", "files"}
FIELD_KEYS = {
    "id",
    "section",
    "type",
    "purpose",
    "label",
    "value",
    "generate",
    "recipe",
    "entropy",
    "totp",
}


@pytest.fixture
def sdk(onepassword_connect: ConnectFixture) -> Iterator[Client]:
    client = new_client(onepassword_connect.url, onepassword_connect.token)
    assert isinstance(client, Client)
    yield client
    client.session.close()


@pytest.fixture
def http(onepassword_connect: ConnectFixture) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=onepassword_connect.url,
        headers={"Authorization": f"Bearer {onepassword_connect.token}"},
    ) as client:
        yield client


def both_windows(raw: str) -> set[str | None]:
    """Codes for now and a moment ago: a window may roll over between server and test."""
    now = time.time()
    return {current_code(raw, now), current_code(raw, now - 2)}


def test_sdk_lists_only_the_vaults_in_the_tokens_scope(
    sdk: Client, onepassword_connect: ConnectFixture
) -> None:
    names = sorted(v.name for v in sdk.get_vaults())
    assert names == ["Personal", "Work"]
    personal = sdk.get_vault_by_title("Personal")
    assert personal.id == find_vault(onepassword_connect.seed, "Personal")["id"]
    assert sdk.get_vault(personal.id).name == "Personal"


def test_sdk_get_item_by_title_and_by_id(sdk: Client, onepassword_connect: ConnectFixture) -> None:
    seeded = find_item(onepassword_connect.seed, "Personal", "GitHub")
    item = sdk.get_item("GitHub", "Personal")
    assert item.id == seeded["id"]
    assert item.title == "GitHub"
    by_id = sdk.get_item(seeded["id"], find_vault(onepassword_connect.seed, "Personal")["id"])
    assert by_id.id == item.id
    by_purpose = {f.purpose: f.value for f in item.fields if f.purpose}
    assert by_purpose["USERNAME"] == "octocat@example.com"
    assert by_purpose["PASSWORD"].startswith("gh-")
    otp = next(f for f in item.fields if f.type == "OTP")
    assert otp.id.startswith("TOTP_")
    assert otp.value == GITHUB_OTP_URI
    assert otp.section.id == "add more"
    assert otp.totp in both_windows(GITHUB_OTP_URI)
    notes = next(f for f in item.fields if f.id == "notesPlain")
    assert notes.value is None


def test_sdk_get_item_by_title_sends_the_scim_filter(
    sdk: Client, onepassword_connect: ConnectFixture
) -> None:
    vault_id = find_vault(onepassword_connect.seed, "Personal")["id"]
    onepassword_connect.server.reset_requests()
    item = sdk.get_item_by_title("Bank", vault_id)
    assert item.title == "Bank"
    first, second = onepassword_connect.server.api_requests()
    assert first.path == f"/v1/vaults/{vault_id}/items"
    assert "filter=title" in first.query
    assert second.path == f"/v1/vaults/{vault_id}/items/{item.id}"
    otp = next(f for f in item.fields if f.type == "OTP")
    assert otp.totp is not None and len(otp.totp) == 8
    assert otp.totp in both_windows(BANK_OTP_URI)


def test_sdk_get_items_returns_summaries_without_archived(
    sdk: Client, onepassword_connect: ConnectFixture
) -> None:
    vault_id = find_vault(onepassword_connect.seed, "Personal")["id"]
    summaries = sdk.get_items(vault_id)
    titles = [s.title for s in summaries]
    assert "Old Login" not in titles
    assert titles.count("Shared Login") == 2
    assert "GitHub" in titles
    assert sdk.get_items(vault_id, 'title eq "Forum"')[0].title == "Forum"


def test_sdk_refuses_an_ambiguous_title(sdk: Client) -> None:
    with pytest.raises(FailedToRetrieveItemException, match="Found 2 items"):
        sdk.get_item("Shared Login", "Personal")


def test_sdk_cannot_see_archived_or_out_of_scope_items(
    sdk: Client, onepassword_connect: ConnectFixture
) -> None:
    with pytest.raises(FailedToRetrieveItemException):
        sdk.get_item("Old Login", "Personal")
    restricted = find_vault(onepassword_connect.seed, "Restricted")["id"]
    with pytest.raises(FailedToRetrieveItemException, match="403"):
        sdk.get_items(restricted)
    with pytest.raises(FailedToRetrieveVaultException, match="403"):
        sdk.get_vault(restricted)


def test_sdk_with_a_wrong_token_gets_401(onepassword_connect: ConnectFixture) -> None:
    client = new_client(onepassword_connect.url, "not-the-token")
    assert isinstance(client, Client)
    with pytest.raises(FailedToRetrieveVaultException, match="401"):
        client.get_vaults()
    client.session.close()


def test_wire_shapes_follow_the_spec(
    http: httpx.Client, onepassword_connect: ConnectFixture
) -> None:
    vaults = http.get("/v1/vaults").json()
    assert vaults and all(set(v) <= VAULT_KEYS for v in vaults)
    vault_id = find_vault(onepassword_connect.seed, "Personal")["id"]
    summaries = http.get(f"/v1/vaults/{vault_id}/items").json()
    assert all(set(s) <= ITEM_KEYS for s in summaries)
    assert all("fields" not in s and "sections" not in s for s in summaries)
    assert all(s["vault"] == {"id": vault_id} for s in summaries)
    for summary in summaries:
        item = http.get(f"/v1/vaults/{vault_id}/items/{summary['id']}").json()
        assert set(item) <= FULL_ITEM_KEYS
        for fld in item["fields"]:
            assert set(fld) <= FIELD_KEYS
            assert "serverSecret" not in fld
            if "section" in fld:
                assert set(fld["section"]) == {"id"}


def test_otp_type_is_OTP_by_default_and_TOTP_when_the_seed_asks(
    http: httpx.Client, onepassword_connect: ConnectFixture
) -> None:
    seed = onepassword_connect.seed
    vault_id = find_vault(seed, "Personal")["id"]
    spec_item = find_item(seed, "Personal", "Spec TOTP")
    fields = http.get(f"/v1/vaults/{vault_id}/items/{spec_item['id']}").json()["fields"]
    otp = next(f for f in fields if f["id"].startswith("TOTP_"))
    assert otp["type"] == "TOTP"
    assert otp["totp"] in both_windows(SPEC_SECRET)
    github = find_item(seed, "Personal", "GitHub")
    fields = http.get(f"/v1/vaults/{vault_id}/items/{github['id']}").json()["fields"]
    assert next(f for f in fields if f["id"].startswith("TOTP_"))["type"] == "OTP"


def test_an_otp_field_without_value_still_carries_the_server_code(
    http: httpx.Client, onepassword_connect: ConnectFixture
) -> None:
    seed = onepassword_connect.seed
    vault_id = find_vault(seed, "Personal")["id"]
    item = find_item(seed, "Personal", "Server Code Only")
    fields = http.get(f"/v1/vaults/{vault_id}/items/{item['id']}").json()["fields"]
    otp = next(f for f in fields if f["type"] == "OTP")
    assert "value" not in otp
    assert otp["totp"] in both_windows(SERVER_ONLY_SECRET)


def test_filters_are_url_decoded_and_unescaped(
    http: httpx.Client, onepassword_connect: ConnectFixture
) -> None:
    seed = onepassword_connect.seed
    vault_id = find_vault(seed, "Personal")["id"]
    title = 'Mock "Quot\'d" Server'
    escaped = title.replace("\\", "\\\\").replace('"', '\\"')
    expression = 'title eq "' + escaped + '"'
    response = http.get(f"/v1/vaults/{vault_id}/items?filter={quote(expression)}")
    assert [s["title"] for s in response.json()] == [title]
    by_name = http.get("/v1/vaults", params={"filter": 'name eq "Work"'}).json()
    assert [v["name"] for v in by_name] == ["Work"]
    assert http.get("/v1/vaults", params={"filter": 'name eq "Restricted"'}).json() == []
    bad = http.get("/v1/vaults", params={"filter": "name co Work"})
    assert bad.status_code == 400


def test_error_bodies_match_the_spec(
    http: httpx.Client, onepassword_connect: ConnectFixture
) -> None:
    seed = onepassword_connect.seed
    restricted = find_vault(seed, "Restricted")["id"]
    personal = find_vault(seed, "Personal")["id"]
    unknown = "a" * 26
    archived = find_item(seed, "Personal", "Old Login")["id"]
    cases = {
        f"/v1/vaults/{unknown}": (404, f"vault {unknown} not found"),
        f"/v1/vaults/{unknown}/items": (404, f"vault {unknown} not found"),
        f"/v1/vaults/{restricted}/items": (403, f"vault {restricted} is not in scope"),
        f"/v1/vaults/{personal}/items/{unknown}": (404, f"item {unknown} not found"),
        f"/v1/vaults/{personal}/items/{archived}": (404, f"item {archived} not found"),
    }
    for path, (status, message) in cases.items():
        response = http.get(path)
        assert response.status_code == status, path
        assert response.json() == {"status": status, "message": message}
        assert response.headers["content-type"] == "application/json"
    anonymous = httpx.get(f"{onepassword_connect.url}/v1/vaults")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"status": 401, "message": "Invalid bearer token"}


def test_archived_items_can_be_served_by_id_with_their_state(
    onepassword_connect: ConnectFixture, http: httpx.Client
) -> None:
    onepassword_connect.server.serve_archived_by_id = True
    seed = onepassword_connect.seed
    personal = find_vault(seed, "Personal")["id"]
    archived = find_item(seed, "Personal", "Old Login")["id"]
    assert http.get(f"/v1/vaults/{personal}/items/{archived}").json()["state"] == "ARCHIVED"
    listed = http.get(f"/v1/vaults/{personal}/items").json()
    assert archived not in {s["id"] for s in listed}


def test_heartbeat_and_health_need_no_token(onepassword_connect: ConnectFixture) -> None:
    heartbeat = httpx.get(f"{onepassword_connect.url}/heartbeat")
    assert heartbeat.status_code == 200
    assert heartbeat.text == "."
    assert heartbeat.headers["content-type"].startswith("text/plain")
    health = httpx.get(f"{onepassword_connect.url}/health").json()
    assert health["name"] == "1Password Connect API"
    assert {"name", "version", "dependencies"} <= set(health)
    assert heartbeat.headers["1password-connect-version"]
    assert onepassword_connect.server.request_count == 0  # health checks are not API requests


def test_requests_are_counted_and_resettable(
    http: httpx.Client, onepassword_connect: ConnectFixture
) -> None:
    server = onepassword_connect.server
    for _ in range(3):
        http.get("/v1/vaults")
    http.get("/v1/vaults/" + "b" * 26)
    assert server.request_count == 4
    assert [r.status for r in server.api_requests()] == [200, 200, 200, 404]
    server.reset_requests()
    assert server.request_count == 0
    assert server.errors == []


def test_injected_latency_delays_every_request_and_requests_overlap(
    onepassword_connect: ConnectFixture,
) -> None:
    server = onepassword_connect.server
    server.latency = 0.2
    headers = {"Authorization": f"Bearer {onepassword_connect.token}"}

    def call() -> None:
        httpx.get(f"{server.url}/v1/vaults", headers=headers).raise_for_status()

    started = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 0.9  # five 0.2 s requests served concurrently, not one by one
    assert server.max_concurrency() >= 2


def test_injected_faults_hit_the_next_requests_only(
    http: httpx.Client, onepassword_connect: ConnectFixture
) -> None:
    onepassword_connect.server.inject_fault(503, times=2)
    assert http.get("/v1/vaults").status_code == 503
    assert http.get("/v1/vaults").json() == {"status": 503, "message": "injected failure 503"}
    assert http.get("/v1/vaults").status_code == 200


def test_keep_alive_connections_are_closed_on_stop() -> None:
    server = ConnectServer(bulk_seed(3)).start()
    token = "eyJ"  # wrong on purpose: 401 still keeps the connection alive
    with httpx.Client(base_url=server.url) as client:
        assert (
            client.get("/v1/vaults", headers={"Authorization": f"Bearer {token}"}).status_code
            == 401
        )
        server.stop()
        with pytest.raises(httpx.TransportError):
            client.get("/v1/vaults")


def test_replace_seed_changes_what_is_served(onepassword_connect: ConnectFixture) -> None:
    server = onepassword_connect.server
    seed = server.seed
    find_items(seed, "Personal", "Forum")[0]["title"] = "Forum Renamed"
    server.replace_seed(seed)
    headers = {"Authorization": f"Bearer {onepassword_connect.token}"}
    vault_id = find_vault(seed, "Personal")["id"]
    titles = {
        s["title"]
        for s in httpx.get(f"{server.url}/v1/vaults/{vault_id}/items", headers=headers).json()
    }
    assert "Forum Renamed" in titles and "Forum" not in titles
    assert json.dumps(onepassword_connect.seed).count("Forum Renamed") == 0  # fixture seed intact


def test_the_server_runs_in_its_own_process_with_the_same_api() -> None:
    from vaults_onepassword.testing.connect_server_process import ConnectServerProcess

    seed = bulk_seed(3)
    with ConnectServerProcess(seed, latency=0.001) as server:
        assert server.url.startswith("http://127.0.0.1:")
        sdk = new_client(server.url, token_for(seed, "connect"))
        assert isinstance(sdk, Client)
        assert sdk.get_item("Login 0001", "Bench").title == "Login 0001"
        sdk.session.close()
        assert server.request_count == 3  # vault by name, title filter, item
        server.reset_requests()
        assert server.request_count == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(server.url + "/heartbeat")
