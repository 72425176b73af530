"""Connect REST transport: requests on the wire, batching, caching, pools and failures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import anyio
import pytest
from vaults_onepassword.backend import OnePasswordBackend
from vaults_onepassword.connect import BACKOFF, ConnectTransport, normalise_host, scim_eq
from vaults_onepassword.op_cli import OpCliTransport
from vaults_onepassword.testing.connect_server import RequestRecord
from vaults_onepassword.testing.fixtures import ConnectFixture
from vaults_onepassword.testing.seed import (
    CANARY,
    CONNECT_TOKEN,
    bulk_seed,
    find_item,
    find_vault,
)

from vaults import Vaults
from vaults.errors import (
    AuthenticationFailed,
    ConfigurationError,
    ItemNotFound,
    VaultsError,
    VaultUnavailable,
)
from vaults.models import Credential
from vaults.refs import parse_reference
from vaults.testing.leaks import assert_no_leak, error_texts


def backend_for(connect: ConnectFixture, **extra: str) -> OnePasswordBackend:
    return OnePasswordBackend.from_env({**connect.env, **extra})


@pytest.fixture
def backend(onepassword_connect: ConnectFixture) -> Iterator[OnePasswordBackend]:
    b = backend_for(onepassword_connect)
    yield b
    b.close()


def queries(records: list[RequestRecord]) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    for r in records:
        filters = parse_qs(r.query).get("filter")
        out.append((r.path, filters[0] if filters else None))
    return out


def fetch(backend: OnePasswordBackend, ref: str) -> Credential:
    return backend.fetch(parse_reference(ref))


def test_scim_filters_escape_quotes_and_backslashes() -> None:
    assert (
        scim_eq("title", 'Mock "Quot\'d" \\ Server') == 'title eq "Mock \\"Quot\'d\\" \\\\ Server"'
    )


def test_host_normalisation() -> None:
    assert normalise_host("http://127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert normalise_host("https://connect.example.test/v1") == "https://connect.example.test"
    with pytest.raises(ConfigurationError):
        normalise_host("localhost:8080")


def test_transport_selection() -> None:
    connect = OnePasswordBackend.from_env(
        {"OP_CONNECT_HOST": "http://127.0.0.1:9", "OP_CONNECT_TOKEN": "t"}
    )
    assert isinstance(connect.transport, ConnectTransport)
    assert isinstance(OnePasswordBackend.from_env({}).transport, OpCliTransport)
    forced = OnePasswordBackend.from_env(
        {
            "OP_CONNECT_HOST": "http://127.0.0.1:9",
            "OP_CONNECT_TOKEN": "t",
            "VAULTS_ONEPASSWORD_TRANSPORT": "cli",
        }
    )
    assert isinstance(forced.transport, OpCliTransport)


@pytest.mark.parametrize(
    "env",
    [
        {"OP_CONNECT_HOST": "http://127.0.0.1:9"},
        {"OP_CONNECT_TOKEN": CONNECT_TOKEN},
        {"VAULTS_ONEPASSWORD_TRANSPORT": "connect"},
        {"VAULTS_ONEPASSWORD_TRANSPORT": "carrier-pigeon"},
        {"OP_CONNECT_HOST": "127.0.0.1:8080", "OP_CONNECT_TOKEN": CONNECT_TOKEN},
        {"VAULTS_ONEPASSWORD_TIMEOUT": "soon"},
        {"VAULTS_ONEPASSWORD_CONCURRENCY": "0"},
    ],
)
def test_incomplete_configuration_is_a_configuration_error(env: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        OnePasswordBackend.from_env(env)
    assert caught.value.exit_code == 2
    assert CONNECT_TOKEN not in str(caught.value)


def test_single_lookup_uses_the_documented_requests(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    server = onepassword_connect.server
    seed = onepassword_connect.seed
    cred = fetch(backend, 'op://Personal/Mock "Quot\'d" Server')
    vault_id = find_vault(seed, "Personal")["id"]
    assert queries(server.api_requests()) == [
        ("/v1/vaults", 'name eq "Personal"'),
        (f"/v1/vaults/{vault_id}/items", 'title eq "Mock \\"Quot\'d\\" Server"'),
        (f"/v1/vaults/{vault_id}/items/{cred.id}", None),
    ]
    assert all(r.authorized for r in server.api_requests())


def test_ids_skip_the_lookups(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    seed = onepassword_connect.seed
    vault_id = find_vault(seed, "Work")["id"]
    item_id = find_item(seed, "Work", "VPN")["id"]
    fetch(backend, f"op://{vault_id}/{item_id}")
    assert queries(onepassword_connect.server.api_requests()) == [
        (f"/v1/vaults/{vault_id}/items/{item_id}", None)
    ]


def test_vault_ids_are_cached_for_the_process(onepassword_connect: ConnectFixture) -> None:
    server = onepassword_connect.server
    for _ in range(2):  # two backends (two Vaults instances) in one process
        b = backend_for(onepassword_connect)
        fetch(b, "op://Work/VPN")
        fetch(b, "op://Work/VPN/username")
        b.close()
    lookups = [r for r in server.api_requests() if r.path == "/v1/vaults"]
    assert len(lookups) == 1
    assert server.request_count == 1 + 2 * 2 * 2  # 1 vault lookup + 4 x (title filter + get)


def test_batch_costs_one_lookup_per_vault_one_listing_and_one_get_per_item(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    server = onepassword_connect.server
    refs = [
        "op://Personal/GitHub",
        "op://Personal/Bank",
        "op://Personal/GitHub/username",  # same item: fetched once
        "op://Personal/Forum",
        "op://Work/VPN",  # a second vault, one title: filtered lookup
        "op://Work/VPN?attribute=otp",
    ]
    results = backend.fetch_many([parse_reference(r) for r in refs])
    assert all(isinstance(r, Credential) for r in results), results
    seen = queries(server.api_requests())
    assert sorted(p for p, f in seen if p == "/v1/vaults") == ["/v1/vaults"] * 2
    listings = [(p, f) for p, f in seen if p.endswith("/items")]
    personal = find_vault(onepassword_connect.seed, "Personal")["id"]
    work = find_vault(onepassword_connect.seed, "Work")["id"]
    assert sorted(listings) == sorted(
        [(f"/v1/vaults/{personal}/items", None), (f"/v1/vaults/{work}/items", 'title eq "VPN"')]
    )
    gets = [p for p, _ in seen if "/items/" in p]
    assert len(gets) == len(set(gets)) == 4
    assert server.request_count == 2 + 2 + 4


def test_batches_run_concurrently_within_the_bound(onepassword_connect: ConnectFixture) -> None:
    server = onepassword_connect.server
    server.replace_seed(bulk_seed(40))
    server.latency = 0.02
    b = backend_for(onepassword_connect, VAULTS_ONEPASSWORD_CONCURRENCY="5")
    refs = [parse_reference(f"op://Bench/Login {n:04d}") for n in range(40)]
    started = time.monotonic()
    results = b.fetch_many(refs)
    elapsed = time.monotonic() - started
    b.close()
    assert all(isinstance(r, Credential) for r in results)
    assert server.request_count == 42
    assert 2 <= server.max_concurrency() <= 5
    assert elapsed < 40 * 0.02  # concurrent: well under one-by-one time
    ports = {r.client_port for r in server.api_requests()}
    assert len(ports) <= 5  # one pool: at most `concurrency` connections, reused


def test_sequential_lookups_reuse_one_connection(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    for ref in ["op://Personal/GitHub", "op://Personal/Bank", "op://Work/VPN"]:
        fetch(backend, ref)
    assert len({r.client_port for r in onepassword_connect.server.api_requests()}) == 1


def test_async_batch_matches_and_reuses_its_pool(onepassword_connect: ConnectFixture) -> None:
    server = onepassword_connect.server
    server.replace_seed(bulk_seed(12))
    server.latency = 0.01

    async def run() -> list[Credential | VaultsError]:
        b = backend_for(onepassword_connect)
        try:
            first = await b.afetch_many(
                [parse_reference(f"op://Bench/Login {n:04d}") for n in range(12)], 4
            )
            second = await b.afetch_many([parse_reference("op://Bench/Login 0000")], 4)
            return first + second
        finally:
            await b.aclose()

    results = anyio.run(run)
    assert all(isinstance(r, Credential) for r in results)
    assert server.request_count == 1 + 1 + 12 + 2  # lookup, listing, gets; then filter + get
    assert server.max_concurrency() <= 4
    assert len({r.client_port for r in server.api_requests()}) <= 4


def test_wrong_token_is_an_authentication_error(onepassword_connect: ConnectFixture) -> None:
    wrong = f"wrong-{CANARY}-token"
    b = OnePasswordBackend.from_env({**onepassword_connect.env, "OP_CONNECT_TOKEN": wrong})
    with pytest.raises(AuthenticationFailed) as caught:
        fetch(b, "op://Personal/GitHub")
    assert caught.value.exit_code == 3
    assert "401" in caught.value.message
    assert_no_leak(error_texts("401", caught.value), [wrong, CANARY])


def test_out_of_scope_vault_by_id_is_403_naming_the_vault(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    restricted = find_vault(onepassword_connect.seed, "Restricted")["id"]
    with pytest.raises(AuthenticationFailed) as caught:
        fetch(backend, f"op://{restricted}/Root Account")
    assert restricted in caught.value.message and "403" in caught.value.message
    assert caught.value.exit_code == 3


def test_unknown_vault_id_is_not_found(backend: OnePasswordBackend) -> None:
    with pytest.raises(ItemNotFound) as caught:
        fetch(backend, f"op://{'v' * 26}/GitHub")
    assert type(caught.value) is ItemNotFound
    assert caught.value.exit_code == 1


def test_archived_item_served_by_id_with_state_is_not_returned(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    onepassword_connect.server.serve_archived_by_id = True
    archived = find_item(onepassword_connect.seed, "Personal", "Old Login")["id"]
    with pytest.raises(ItemNotFound):
        fetch(backend, f"op://Personal/{archived}")


def test_server_errors_are_vault_unavailable(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    # every try fails (a lone 5xx is retried: see the next test)
    onepassword_connect.server.inject_fault(503, message="sync is down", times=BACKOFF.attempts)
    with pytest.raises(VaultUnavailable) as caught:
        fetch(backend, "op://Personal/GitHub")
    assert caught.value.exit_code == 4
    assert "503" in caught.value.message and "sync is down" in caught.value.message


def test_a_passing_server_error_is_retried(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    onepassword_connect.server.inject_fault(503, message="sync is down", times=1)
    assert fetch(backend, "op://Personal/GitHub").username


def test_unreachable_server_is_vault_unavailable(onepassword_connect: ConnectFixture) -> None:
    b = backend_for(onepassword_connect)
    onepassword_connect.server.stop()
    with pytest.raises(VaultUnavailable) as caught:
        fetch(b, "op://Personal/GitHub")
    assert "127.0.0.1" in caught.value.message
    assert_no_leak(error_texts("refused", caught.value), [CONNECT_TOKEN])


def test_slow_server_times_out(onepassword_connect: ConnectFixture) -> None:
    onepassword_connect.server.latency = 2.0
    b = backend_for(onepassword_connect, VAULTS_ONEPASSWORD_TIMEOUT="0.2")
    started = time.monotonic()
    with pytest.raises(VaultUnavailable) as caught:
        fetch(b, "op://Personal/GitHub")
    assert time.monotonic() - started < 1.5
    assert "0.2" in caught.value.message


def test_failures_in_a_batch_stay_in_place(
    backend: OnePasswordBackend, onepassword_connect: ConnectFixture
) -> None:
    restricted = find_vault(onepassword_connect.seed, "Restricted")["id"]
    refs = [
        "op://Personal/GitHub",
        f"op://{restricted}/Root Account",
        "op://Nope/X",
        "op://Work/VPN",
    ]
    results = backend.fetch_many([parse_reference(r) for r in refs])
    assert [type(r).__name__ for r in results] == [
        "Credential",
        "AuthenticationFailed",
        "ItemNotFound",
        "Credential",
    ]


def test_the_official_sdk_and_the_plugin_read_the_same_item(
    onepassword_connect: ConnectFixture,
) -> None:
    from onepasswordconnectsdk.client import Client, new_client

    sdk = new_client(onepassword_connect.url, onepassword_connect.token)
    assert isinstance(sdk, Client)
    item = sdk.get_item("Bank", "Personal")
    sdk.session.close()
    with Vaults(env=onepassword_connect.env) as vaults:
        cred = vaults.resolve("op://Personal/Bank", min_remaining=0)
    by_purpose: dict[str, Any] = {f.purpose: f.value for f in item.fields if f.purpose}
    assert cred.id == item.id
    assert cred.username == by_purpose["USERNAME"]
    assert cred.password is not None
    assert cred.password.get_secret_value() == by_purpose["PASSWORD"]
    server_code = next(f.totp for f in item.fields if f.type == "OTP")
    assert cred.totp is not None and len(cred.totp.code) == len(server_code) == 8
