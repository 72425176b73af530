"""The plugin against the REAL official ``bw serve`` (logged in to the local test server).

Every seeded item shape is resolved by id, by name and by URL; counts of HTTP round trips
are checked on the transport; lock/unlock and logged-out cases run on private copies of
the CLI's app data so the shared session is never disturbed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import anyio
import httpx
import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.decode import TOTP_RULES
from vaults_bitwarden.serve_api import ServeTransport, parse_envelope, reply_of
from vaults_bitwarden.testing.items import VaultItem
from vaults_bitwarden.testing.seed import (
    CANARY,
    CANARY_PASSWORD,
    CANARY_TOTP_SECRET,
    CIPHER_KEY,
    DEFAULT_SEED,
    GITHUB,
    JUNK_TOTP,
    ORG_WITH_KEY,
    OTPAUTH_SHA256,
    PLAIN,
    SECURE_NOTE,
    SHARED_NAME,
    SHARED_NAME_ORG,
    SHARED_NAME_PERSONAL,
    STEAM,
    UNICODE,
)
from vaults_bitwarden.testing.server import BitwardenTestServer

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    InvalidReference,
    ItemNotFound,
    VaultLocked,
    VaultsError,
    VaultUnavailable,
)
from vaults.host import make_host
from vaults.models import Credential
from vaults.refs import parse_reference as _ref
from vaults.resolver import Vaults
from vaults.totp import code_for_entry, parse_secret

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)

NOW = 1_750_000_002.0
LOGINS = [item for item in DEFAULT_SEED if item.kind == "login"]
UNIQUE = [item for item in DEFAULT_SEED if item.name != SHARED_NAME]


@pytest.fixture
def backend(bw_serve: str) -> Iterator[BitwardenBackend]:
    made = BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": bw_serve})
    yield made
    made.close()


@pytest.fixture
def vaults(backend: BitwardenBackend) -> Vaults:
    return Vaults(host=make_host(load_entrypoints=False), env={}, backends=[backend])


def requests_of(backend: BitwardenBackend) -> int:
    return backend.transport.requests


def assert_matches_seed(cred: Credential, item: VaultItem) -> None:
    assert (cred.vault, cred.id, cred.name) == ("bitwarden", item.id, item.name)
    assert cred.username == item.username
    got = cred.password.get_secret_value() if cred.password else None
    assert got == item.password
    assert cred.uris == list(item.uris)
    if item.totp:
        assert cred.totp_secret == parse_secret(item.totp, TOTP_RULES)
        assert cred.totp is not None
        assert cred.totp.code == code_for_entry(parse_secret(item.totp, TOTP_RULES), NOW).code
        assert cred.totp_source == "vault"
    else:
        assert cred.totp is None and cred.totp_secret is None


@pytest.mark.parametrize("item", DEFAULT_SEED, ids=lambda i: i.name)
def test_every_item_by_id_in_one_request(
    item: VaultItem, vaults: Vaults, backend: BitwardenBackend
) -> None:
    before = requests_of(backend)
    cred = vaults.resolve(f"bitwarden://{item.id}", now=NOW)
    assert requests_of(backend) - before == 1
    assert_matches_seed(cred, item)


@pytest.mark.parametrize("item", UNIQUE, ids=lambda i: i.name)
def test_every_unique_name_in_one_request(
    item: VaultItem, vaults: Vaults, backend: BitwardenBackend
) -> None:
    before = requests_of(backend)
    assert_matches_seed(vaults.resolve(f"bitwarden://{item.name}", now=NOW), item)
    assert requests_of(backend) - before == 1


def test_totp_shapes_computed_locally(vaults: Vaults) -> None:
    sha = vaults.resolve(f"bitwarden://{OTPAUTH_SHA256.id}", now=NOW)
    assert sha.totp_secret is not None
    assert (sha.totp_secret.algorithm, sha.totp_secret.digits, sha.totp_secret.period) == (
        "SHA256", 8, 60,
    )  # fmt: skip
    assert sha.totp is not None and len(sha.totp.code) == 8
    steam = vaults.resolve(f"bitwarden://{STEAM.id}", now=NOW)
    assert steam.totp is not None and len(steam.totp.code) == 5 and not steam.totp.code.isdigit()


def test_junk_in_the_secret_gives_the_code_bitwarden_shows(vaults: Vaults, bw_serve: str) -> None:
    """The official CLI (``bw serve``'s /object/totp) is the oracle: same secret, same code."""
    import time

    with httpx.Client(base_url=bw_serve) as client:
        for _ in range(3):  # a window boundary between the two answers: ask again
            before = time.time()
            theirs = client.get(f"/object/totp/{JUNK_TOTP.id}").json()["data"]["data"]
            ours = vaults.resolve(f"bitwarden://{JUNK_TOTP.id}", min_remaining=0)
            if int(before // 30) == int(time.time() // 30):
                break
    assert ours.totp is not None and ours.totp_error is None
    assert (ours.username, ours.totp.code) == (JUNK_TOTP.username, theirs)
    at_sdk_vector = vaults.resolve(f"bitwarden://{JUNK_TOTP.name}", now=1672531200)
    assert at_sdk_vector.totp is not None and at_sdk_vector.totp.code == "093430"


def test_organisation_item_and_item_keys(vaults: Vaults) -> None:
    for item in (ORG_WITH_KEY, CIPHER_KEY, SHARED_NAME_ORG):
        assert_matches_seed(vaults.resolve(f"bitwarden://{item.id}", now=NOW), item)
    fields = {f.name: f for f in vaults.resolve(f"bitwarden://{CIPHER_KEY.id}").fields}
    pin = fields["pin"]
    assert pin.type == "hidden" and pin.value is not None and pin.value.get_secret_value() == "4321"


def test_custom_fields(vaults: Vaults) -> None:
    cred = vaults.resolve(f"bitwarden://{GITHUB.name}")
    shown = {f.name: f.public_dict() for f in cred.fields}
    assert shown["region"]["value"] == "eu"
    assert shown["api_key"] == {
        "name": "api_key",
        "value": "********",
        "type": "hidden",
        "section": None,
    }
    assert shown["is_admin"]["type"] == "boolean" and shown["is_admin"]["value"] == "true"
    assert shown["Linked password"]["type"] == "linked"
    assert shown["Linked password"]["value"] == "password"


def test_secure_note_resolves_without_login_parts(vaults: Vaults) -> None:
    cred = vaults.resolve(f"bitwarden://{SECURE_NOTE.name}")
    assert (cred.username, cred.password, cred.totp) == (None, None, None)


def test_duplicate_names_are_ambiguous(vaults: Vaults) -> None:
    with pytest.raises(AmbiguousItem) as caught:
        vaults.resolve(f"bitwarden://{SHARED_NAME}")
    assert set(caught.value.candidates) == {SHARED_NAME_PERSONAL.id, SHARED_NAME_ORG.id}


def test_organization_and_collection_filters(
    vaults: Vaults, backend: BitwardenBackend, bitwarden_server: BitwardenTestServer
) -> None:
    account = bitwarden_server.account
    by_org_name = f"bitwarden://{SHARED_NAME}?organization={account.organization_name.upper()}"
    before = requests_of(backend)
    assert vaults.resolve(by_org_name).id == SHARED_NAME_ORG.id
    assert requests_of(backend) - before == 2  # organisations + the search
    by_ids = f"bitwarden://{SHARED_NAME}?organization={account.organization_id}"
    assert vaults.resolve(by_ids).id == SHARED_NAME_ORG.id
    by_collection = f"bitwarden://{SHARED_NAME}?collection={account.collection_name}"
    assert vaults.resolve(by_collection).id == SHARED_NAME_ORG.id
    with pytest.raises(ItemNotFound, match="no organization named"):
        vaults.resolve(f"bitwarden://{SHARED_NAME}?organization=Nobody")
    with pytest.raises(ItemNotFound):  # a personal item is in no organisation
        vaults.resolve(f"bitwarden://{GITHUB.id}?organization={account.organization_id}")


@pytest.mark.parametrize(
    ("url", "item"),
    [
        ("https://github.com/settings/profile", GITHUB),
        ("https://login.plain.example.com/sso", PLAIN),  # same page
        ("https://plain.example.com/other", PLAIN),  # same host
        ("https://example.com/login", OTPAUTH_SHA256),  # same page beats same domain
        ("https://org.example.com/x", ORG_WITH_KEY),
        ("https://keyed.example.org/", CIPHER_KEY),  # second URI of the item
        ("https://store.steampowered.com/login/?x=1", STEAM),
        ("https://bücher.example/", UNICODE),
        ("https://xn--bcher-kva.example/path", UNICODE),
    ],
)
def test_lookup_by_url(
    url: str, item: VaultItem, vaults: Vaults, backend: BitwardenBackend
) -> None:
    before = requests_of(backend)
    assert vaults.resolve(f"bitwarden://?url={url}").id == item.id
    assert requests_of(backend) - before == 1


def test_url_tie_is_deterministic(vaults: Vaults) -> None:
    # several logins sit on example.com sub-domains: same rank, no favourite; the most
    # recently revised wins (the canary was seeded after the others)
    first = vaults.resolve("bitwarden://?url=https://www.example.com/").id
    assert first == CANARY.id
    assert vaults.resolve("bitwarden://?url=https://www.example.com/").id == first


def test_url_with_org_filter(vaults: Vaults, bitwarden_server: BitwardenTestServer) -> None:
    org = bitwarden_server.account.organization_name
    assert vaults.resolve(f"bitwarden://?url=https://www.example.com/&organization={org}").id == (
        ORG_WITH_KEY.id
    )


def test_missing_name_id_and_url(vaults: Vaults) -> None:
    with pytest.raises(ItemNotFound, match="No Such Item"):
        vaults.resolve("bitwarden://No Such Item")
    with pytest.raises(ItemNotFound):
        vaults.resolve("bitwarden://5f0c1b4e-0000-4000-8000-00000000dead")
    with pytest.raises(ItemNotFound, match="login for URL"):
        vaults.resolve("bitwarden://?url=https://nowhere.test/")
    # "GitHub" is a fuzzy hit for this search, never an exact one
    with pytest.raises(ItemNotFound):
        vaults.resolve("bitwarden://GitHu")


def test_resolve_many_is_one_request(vaults: Vaults, backend: BitwardenBackend) -> None:
    refs = [f"bitwarden://{item.id}" for item in DEFAULT_SEED]
    refs += [f"bitwarden://{item.name}" for item in UNIQUE]
    refs += [
        "bitwarden://?url=https://github.com/",
        f"bitwarden://{SHARED_NAME}",
        "bitwarden://No Such Item",
        "bitwarden://5f0c1b4e-0000-4000-8000-00000000dead",
        "not a reference",
    ]
    before = requests_of(backend)
    results = vaults.resolve_many(refs, now=NOW)
    # one listing, plus one GET for the id that is not in it
    assert requests_of(backend) - before == 2
    for item, result in zip(list(DEFAULT_SEED) + UNIQUE, results, strict=False):
        assert isinstance(result, Credential), result
        assert_matches_seed(result, item)
    tail = results[-5:]
    assert isinstance(tail[0], Credential) and tail[0].id == GITHUB.id
    assert [type(r) for r in tail[1:]] == [
        AmbiguousItem,
        ItemNotFound,
        ItemNotFound,
        InvalidReference,
    ]


def test_async_matches_sync(vaults: Vaults, backend: BitwardenBackend) -> None:
    refs = [f"bitwarden://{item.id}" for item in LOGINS] + [
        f"bitwarden://{UNICODE.name}",
        f"bitwarden://{SHARED_NAME}",
        "bitwarden://?url=https://plain.example.com/",
    ]

    def shape(result: Credential | VaultsError) -> object:
        if isinstance(result, VaultsError):
            return type(result).__name__
        return result.public_dict(reveal=True)

    async def both() -> tuple[list[Credential | VaultsError], list[Credential | VaultsError]]:
        one_by_one: list[Credential | VaultsError] = []
        for ref in refs:
            try:
                one_by_one.append(await vaults.aresolve(ref, now=NOW))
            except VaultsError as exc:
                one_by_one.append(exc)
        before = requests_of(backend)
        many = await vaults.aresolve_many(refs, now=NOW)
        assert requests_of(backend) - before == 1
        await backend.aclose()  # the async client belongs to this event loop
        return one_by_one, many

    one_by_one, many = anyio.run(both)
    sync = vaults.resolve_many(refs, now=NOW)
    assert [shape(r) for r in one_by_one] == [shape(r) for r in many] == [shape(r) for r in sync]


def test_status(backend: BitwardenBackend) -> None:
    assert backend.status() == "unlocked"

    async def run() -> str:
        status = await backend.astatus()
        await backend.aclose()
        return status

    assert anyio.run(run) == "unlocked"


def test_canary_never_leaks(
    vaults: Vaults, backend: BitwardenBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    cred = vaults.resolve(f"bitwarden://{CANARY.name}")
    assert cred.password is not None and cred.password.get_secret_value() == CANARY_PASSWORD
    texts = [repr(cred), str(cred), cred.model_dump_json(), str(cred.public_dict()), repr(backend)]
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records, "the transport logs its requests at DEBUG"
    for text in texts:
        assert CANARY_PASSWORD not in text and CANARY_TOTP_SECRET not in text


def test_shared_pool_per_process(bw_serve: str) -> None:
    first = BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": bw_serve})
    second = BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": bw_serve})
    try:
        assert isinstance(first.transport, ServeTransport)
        assert isinstance(second.transport, ServeTransport)
        assert first.transport.client is second.transport.client
    finally:
        first.close()
        assert not second.transport.client.is_closed
        second.close()


def test_origin_header_gets_403_and_a_clear_error(bw_serve: str) -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.get(f"{bw_serve}/status", headers={"Origin": "https://evil.test"})
    assert response.status_code == 403
    with pytest.raises(VaultUnavailable, match=r"HTTP 403.*Origin"):
        parse_envelope(reply_of(response), "bw serve", "GET", "/status")


# -- lock and unlock: private bw serve processes (bw_serve_copy) --------------------------------


def _lock(url: str) -> None:
    with httpx.Client(trust_env=False) as client:
        assert client.post(f"{url}/lock").json()["success"] is True


def test_locked_without_password_raises_vault_locked(bw_serve_copy: str) -> None:
    _lock(bw_serve_copy)
    backend = BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": bw_serve_copy})
    try:
        assert backend.status() == "locked"
        with pytest.raises(VaultLocked, match="BW_PASSWORD"):
            backend.fetch(_ref(f"bitwarden://{GITHUB.id}"))
    finally:
        backend.close()


def test_locked_with_password_unlocks_once(
    bw_serve_copy: str, bitwarden_server: BitwardenTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _lock(bw_serve_copy)
    password = bitwarden_server.master_password
    backend = BitwardenBackend.from_env(
        {"VAULTS_BITWARDEN_URL": bw_serve_copy, "BW_PASSWORD": password}
    )
    try:
        cred = backend.fetch(_ref(f"bitwarden://{GITHUB.id}"))
        assert cred.username == GITHUB.username
        assert backend.transport.requests == 3  # locked reply, POST /unlock, retry
        backend.fetch(_ref(f"bitwarden://{STEAM.id}"))
        assert backend.transport.requests == 4
        assert backend.status() == "unlocked"
    finally:
        backend.close()
    assert all(password not in r.getMessage() for r in caplog.records)


def test_async_unlock(bw_serve_copy: str, bitwarden_server: BitwardenTestServer) -> None:
    _lock(bw_serve_copy)
    backend = BitwardenBackend.from_env(
        {"VAULTS_BITWARDEN_URL": bw_serve_copy, "BW_PASSWORD": bitwarden_server.master_password}
    )

    async def run() -> list[Credential | VaultsError]:
        try:
            refs = [_ref(f"bitwarden://{item.id}") for item in (GITHUB, STEAM, PLAIN)]
            return await backend.afetch_many(refs)
        finally:
            await backend.aclose()

    results = anyio.run(run)
    assert [r.id for r in results if isinstance(r, Credential)] == [GITHUB.id, STEAM.id, PLAIN.id]
    assert backend.transport.requests == 3


def test_wrong_password_is_authentication_failed_and_not_retried(bw_serve_copy: str) -> None:
    _lock(bw_serve_copy)
    wrong = "wrong-master-password-canary"
    backend = BitwardenBackend.from_env(
        {"VAULTS_BITWARDEN_URL": bw_serve_copy, "BW_PASSWORD": wrong}
    )
    try:
        with pytest.raises(AuthenticationFailed) as caught:
            backend.fetch(_ref(f"bitwarden://{GITHUB.id}"))
        assert wrong not in str(caught.value)
        assert backend.transport.requests == 2
        with pytest.raises(AuthenticationFailed):
            backend.fetch(_ref(f"bitwarden://{GITHUB.id}"))
        assert backend.transport.requests == 3  # no second unlock attempt
    finally:
        backend.close()
