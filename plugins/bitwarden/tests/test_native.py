"""The native ``api`` transport against the HTTPS test server and the real official CLI.

The proof: items the real ``bw`` created (``bw create item``, ``bw serve``; personal and
organisation items, with and without their own cipher key, on an Argon2id account) are
returned by the native transport field by field as ``bw`` itself returns them.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.decode import decode_item
from vaults_bitwarden.native.transport import ApiTransport
from vaults_bitwarden.native.vault import UndecryptableItem
from vaults_bitwarden.serve_api import NotSettled, poll_until
from vaults_bitwarden.settings import BitwardenSettings
from vaults_bitwarden.testing.cli import serve_call
from vaults_bitwarden.testing.fixtures import WritableVault
from vaults_bitwarden.testing.items import VaultItem
from vaults_bitwarden.testing.seed import (
    CANARY,
    CANARY_PASSWORD,
    CANARY_TOTP_SECRET,
    CIPHER_KEY,
    GITHUB,
    ORG_WITH_KEY,
    SECURE_NOTE,
    SHARED_NAME_ORG,
)
from vaults_bitwarden.testing.server import BitwardenTestServer

from vaults.errors import (
    AuthenticationFailed,
    ConfigurationError,
    ItemNotFound,
    VaultsError,
    VaultUnavailable,
    WriteConflict,
)
from vaults.refs import parse_reference
from vaults.testing import STANDARD_SEED, SeededVault, SeedItem, VaultContract

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)

ServerFactory = Callable[[Iterable[VaultItem | Mapping[str, Any]]], BitwardenTestServer]


def native_env(server: BitwardenTestServer, cache: Path, **extra: str) -> dict[str, str]:
    return {
        "VAULTS_BITWARDEN_SERVER": server.url,
        "VAULTS_BITWARDEN_CA": str(server.ca_cert),
        "VAULTS_BITWARDEN_CACHE_DIR": str(cache),
        "BW_CLIENTID": server.client_id,
        "BW_CLIENTSECRET": server.client_secret,
        "BW_PASSWORD": server.master_password,
        **extra,
    }


def backend(server: BitwardenTestServer, cache: Path, **extra: str) -> BitwardenBackend:
    made = BitwardenBackend.from_env(native_env(server, cache, **extra))
    assert isinstance(made.transport, ApiTransport)
    return made


def fetch(made: BitwardenBackend, ref: str) -> Any:
    return made.fetch(parse_reference(ref))


def _paths(server: BitwardenTestServer) -> list[str]:
    return [r.path for r in server.requests]


# -- the proof: what the real CLI wrote, read back natively ------------------------------


def _encoded(item: Mapping[str, Any]) -> str:
    return base64.b64encode(json.dumps(item).encode()).decode()


def _login(name: str, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": 1,
        "name": name,
        "notes": f"notes of {name}",
        "favorite": False,
        "reprompt": 0,
        "fields": [
            {"name": "text field", "value": "plain text", "type": 0},
            {"name": "hidden field", "value": f"hidden of {name}", "type": 1},
            {"name": "flag", "value": "true", "type": 2},
            {"name": "shows username", "value": None, "type": 3, "linkedId": 100},
        ],
        "login": {
            "username": f"{name.lower().replace(' ', '.')}@example.com",
            "password": f"password of {name} ✓",
            "totp": "JBSWY3DPEHPK3PXP",
            "uris": [
                {
                    "uri": f"https://{name.lower().replace(' ', '-')}.example.com/login",
                    "match": None,
                },
                {"uri": "https://app.example.net/", "match": 1},
                {"uri": "^https://regex\\.example\\.org/.*$", "match": 4},
                {"uri": "androidapp://com.example.app", "match": 5},
            ],
        },
    }
    item.update(extra)
    return item


def _comparable(item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a lookup uses, as ``bw get item`` prints them."""
    login = item.get("login") or {}
    return {
        "id": item["id"],
        "type": item["type"],
        "name": item["name"],
        "notes": item.get("notes"),
        "organizationId": item.get("organizationId"),
        "folderId": item.get("folderId"),
        "collectionIds": sorted(item.get("collectionIds") or []),
        "favorite": item.get("favorite"),
        "reprompt": item.get("reprompt"),
        "revisionDate": item.get("revisionDate"),
        "creationDate": item.get("creationDate"),
        "deletedDate": item.get("deletedDate"),
        "key": bool(item.get("key")),
        "username": login.get("username"),
        "password": login.get("password"),
        "totp": login.get("totp"),
        "uris": [(u.get("uri"), u.get("match")) for u in login.get("uris") or []],
        "fields": [
            (f.get("name"), f.get("value"), f.get("type"), f.get("linkedId"))
            for f in item.get("fields") or []
        ],
    }


@pytest.mark.slow  # 3 `bw create item` runs, one `bw get item`, a bw serve sync (~15 s)
def test_items_the_real_cli_created_read_back_field_by_field(
    bitwarden_writable: WritableVault, bw_serve_writable: str, tmp_path: Path
) -> None:
    server, account = bitwarden_writable.server, bitwarden_writable.server.account
    org = {"organizationId": account.organization_id, "collectionIds": [account.collection_id]}
    cli, keyed = bitwarden_writable.cli, bitwarden_writable.cli_keyed

    created = [
        json.loads(cli.run("create", "item", _encoded(_login("Cli Plain", reprompt=1))).stdout),
        json.loads(keyed.run("create", "item", _encoded(_login("Cli Keyed"))).stdout),
        json.loads(keyed.run("create", "item", _encoded(_login("Cli Keyed Org", **org))).stdout),
    ]
    assert [bool(c.get("key")) for c in created] == [False, True, True]
    serve_items = [
        _login("Serve Org", **org),
        _login("Serve Folder", folderId=account.folder_id, favorite=True),
        _login(
            "Serve Otpauth",
            login={
                "username": "o@example.com",
                "password": "o-pass",
                "totp": "otpauth://totp/Ex:o?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&algorithm=SHA256",
                "uris": [],
            },
        ),
        _login(
            "Serve Steam Ünïcødé 秘密", login={"totp": "steam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ"}
        ),
        {"type": 2, "name": "Serve Note", "notes": "a secure note", "secureNote": {"type": 0}},
        _login("Serve Trashed"),
    ]
    with httpx.Client(base_url=bw_serve_writable, timeout=60) as serve:
        ids = [serve.post("/object/item", json=i).json()["data"]["id"] for i in serve_items]
        deleted = serve_call(serve, "DELETE", f"/object/item/{ids[-1]}")
        assert deleted["success"] is True, deleted
        wanted = {c["id"] for c in created} | set(ids[:-1])

        def listing() -> dict[str, Any]:
            # bw serve's listing can lag its writes (a stale search cache): a forced sync
            # rebuilds it, asked again until every item written above is in it
            assert serve.post("/sync", params={"force": "true"}).json()["success"] is True
            found = {i["id"]: i for i in serve.get("/list/object/items").json()["data"]["data"]}
            if not wanted <= set(found):
                raise NotSettled("bw serve does not list every item yet")
            return found

        by_bw = poll_until(listing, retry_on=(NotSettled,))
        trashed = serve_call(serve, "GET", f"/object/item/{ids[-1]}")["data"]
    # and once with the plain subprocess, for the keyed organisation item
    by_bw_get = json.loads(keyed.run("get", "item", created[2]["id"]).stdout)
    assert _comparable(by_bw_get) == _comparable(by_bw[created[2]["id"]])

    made = backend(server, tmp_path / "cache")
    transport = made.transport
    assert isinstance(transport, ApiTransport)
    listed = {i["id"] for i in transport.list_items(None, "all")}
    assert listed == set(by_bw)  # trash excluded on both sides
    assert {c["id"] for c in created} | set(ids[:-1]) <= listed
    for item_id, bw_item in by_bw.items():
        native = transport.get_item(item_id, "item")
        assert _comparable(native) == _comparable(bw_item), bw_item["name"]
        assert decode_item(native) == decode_item(bw_item)
    assert transport.session.vault is not None
    assert transport.session.vault.org_keys  # the RSA-wrapped organisation key was used
    # the trashed item: the same answer as the other transports
    assert _comparable(transport.get_item(ids[-1], "item")) == _comparable(trashed)
    with pytest.raises(ItemNotFound, match="trash"):
        fetch(made, f"bitwarden://{ids[-1]}")
    with pytest.raises(ItemNotFound):
        fetch(made, "bitwarden://Serve Trashed")
    cred = fetch(made, "bitwarden://Cli Keyed Org")
    assert cred.password is not None
    assert cred.password.get_secret_value() == "password of Cli Keyed Org ✓"
    assert fetch(made, "bitwarden://?url=https://serve-folder.example.com/x").name == "Serve Folder"
    made.close()


# -- PBKDF2 account, cache ------------------------------------------------------------------


def test_lookups_and_the_cache(bitwarden_server: BitwardenTestServer, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    bitwarden_server.clear_requests()
    first = backend(bitwarden_server, cache)
    cred = fetch(first, "bitwarden://GitHub")
    assert (cred.username, cred.password.get_secret_value()) == (GITHUB.username, GITHUB.password)
    assert cred.totp_secret is not None
    assert [f.name for f in cred.fields] == [f.name for f in GITHUB.fields]
    assert fetch(first, f"bitwarden://{ORG_WITH_KEY.id}").username == ORG_WITH_KEY.username
    assert fetch(first, "bitwarden://?url=https://keyed.example.org/a").id == CIPHER_KEY.id
    note = fetch(first, f"bitwarden://{SECURE_NOTE.id}")
    assert note.username is None and note.password is None
    account = bitwarden_server.account
    for scope in (
        f"organization={account.organization_name}",
        f"collection={account.collection_name}",
        f"organization={account.organization_id}&collection={account.collection_id}",
    ):
        assert fetch(first, f"bitwarden://Shared Name?{scope}").id == SHARED_NAME_ORG.id
    with pytest.raises(ItemNotFound, match="organization named"):
        fetch(first, "bitwarden://Shared Name?organization=Nobody")
    assert _paths(bitwarden_server) == [
        "/identity/connect/token",
        "/api/accounts/revision-date",
        "/api/sync",
    ]
    first.close()

    (cache_file,) = cache.iterdir()
    assert stat.S_IMODE(cache_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    text = cache_file.read_text()
    for secret in (
        account.master_password,
        account.client_secret,
        GITHUB.password or "",
        CANARY_PASSWORD,
        CANARY_TOTP_SECRET,
        base64.b64encode(account.user_key.to_bytes()).decode(),
    ):
        assert secret not in text
    assert '"access_token"' not in text  # the cached token is encrypted under the user key

    bitwarden_server.clear_requests()
    second = backend(bitwarden_server, cache)
    assert fetch(second, "bitwarden://Steam").username == "gamer"
    many = second.fetch_many([parse_reference(f"bitwarden://{i.id}") for i in (GITHUB, CANARY)])
    assert [c.name for c in many if not isinstance(c, VaultsError)] == ["GitHub", "Canary Login"]
    assert _paths(bitwarden_server) == ["/api/accounts/revision-date"]  # warm: one request
    second.close()

    added = VaultItem(name="Added Later", username="later@example.com", password="later-pass")
    with bitwarden_server.temporary_item(added):
        bitwarden_server.clear_requests()
        third = backend(bitwarden_server, cache)
        assert fetch(third, "bitwarden://Added Later").username == "later@example.com"
        assert _paths(bitwarden_server) == ["/api/accounts/revision-date", "/api/sync"]
        third.close()


def test_a_wrong_master_password(bitwarden_server: BitwardenTestServer, tmp_path: Path) -> None:
    for cache in (tmp_path / "cold", tmp_path / "cold"):  # cold, then with a warm cache
        if cache.exists():
            backend(bitwarden_server, cache).close()
        wrong = backend(bitwarden_server, cache, BW_PASSWORD="not the master password")
        with pytest.raises(AuthenticationFailed, match="wrong master password") as caught:
            fetch(wrong, "bitwarden://GitHub")
        assert caught.value.exit_code == 3
        assert "not the master password" not in str(caught.value)
        with pytest.raises(AuthenticationFailed):  # remembered: no second KDF, no request
            fetch(wrong, "bitwarden://GitHub")
        wrong.close()
    good = backend(bitwarden_server, tmp_path / "cold")
    assert fetch(good, "bitwarden://GitHub").name == "GitHub"
    good.close()


def _tampered(
    server: BitwardenTestServer, item_id: str, change: Callable[[dict[str, Any]], None]
) -> None:
    cipher = server.cipher(item_id)
    change(cipher)
    server.vault.replace_cipher(item_id, cipher)


def _flip_mac(enc: str) -> str:
    head, ciphertext, mac = enc.split("|")
    raw = bytearray(base64.b64decode(ciphertext))
    raw[-1] ^= 0x01
    return "|".join((head, base64.b64encode(bytes(raw)).decode(), mac))


def test_tampered_and_unknown_ciphertext(
    bitwarden_server_factory: ServerFactory, tmp_path: Path
) -> None:
    items = [GITHUB, CIPHER_KEY, CANARY, SECURE_NOTE]
    server = bitwarden_server_factory(items)
    _tampered(
        server, GITHUB.id, lambda c: c["login"].update(password=_flip_mac(c["login"]["password"]))
    )
    _tampered(server, SECURE_NOTE.id, lambda c: c.update(name=_flip_mac(c["name"])))
    _tampered(server, CANARY.id, lambda c: c["login"].update(password="9.bm9ub25l|bm9ub25l"))
    _tampered(
        server,
        CIPHER_KEY.id,
        lambda c: c["login"]["uris"][1].update(uri=c["login"]["uris"][0]["uri"]),
    )
    made = backend(server, tmp_path / "cache")
    with pytest.raises(UndecryptableItem, match="MAC does not match") as caught:
        fetch(made, "bitwarden://GitHub")
    assert isinstance(caught.value, VaultUnavailable) and caught.value.exit_code == 4
    with pytest.raises(UndecryptableItem, match="unknown type 9"):
        fetch(made, f"bitwarden://{CANARY.id}")
    with pytest.raises(UndecryptableItem, match="MAC"):
        fetch(made, f"bitwarden://{SECURE_NOTE.id}")  # its name is broken: not listed at all
    with pytest.raises(ItemNotFound):
        fetch(made, "bitwarden://Secure Note")
    # a URI swapped by the server fails its checksum: dropped, as bw drops it
    keyed = fetch(made, f"bitwarden://{CIPHER_KEY.id}")
    assert keyed.uris == [CIPHER_KEY.uris[0]]
    made.close()


def test_kdf_below_bitwardens_minimum_is_refused(
    bitwarden_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = bitwarden_server_factory([GITHUB])
    server.account = dataclasses.replace(server.account, kdf_iterations=1000)
    made = backend(server, tmp_path / "cache")
    with pytest.raises(AuthenticationFailed, match="PBKDF2 iterations must be between 5000"):
        fetch(made, "bitwarden://GitHub")
    made.close()


def test_token_refresh_and_revoked_api_key(
    bitwarden_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = bitwarden_server_factory([GITHUB])
    made = backend(server, tmp_path / "cache")
    assert fetch(made, "bitwarden://GitHub").name == "GitHub"
    server.revoke_tokens()  # the access token dies, the key stays good: refreshed silently
    server.clear_requests()
    made.transport.session._checked_at = float("-inf")  # type: ignore[attr-defined]
    assert fetch(made, "bitwarden://GitHub").name == "GitHub"
    assert [(r.path, r.status, r.grant_type) for r in server.requests] == [
        ("/api/accounts/revision-date", 401, None),
        ("/identity/connect/token", 400, "refresh_token"),  # revoked too: log in again
        ("/identity/connect/token", 200, "client_credentials"),
        ("/api/accounts/revision-date", 200, None),
    ]
    made.close()

    server.revoke_api_key()
    for cache in (tmp_path / "cache", tmp_path / "empty"):  # warm cache (dead token), and cold
        again = backend(server, cache)
        with pytest.raises(AuthenticationFailed, match="refused the API key") as caught:
            fetch(again, "bitwarden://GitHub")
        assert caught.value.exit_code == 3
        assert server.client_secret not in str(caught.value)
        again.close()


def test_server_drops_mid_sync_and_server_down(
    bitwarden_server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = bitwarden_server_factory([GITHUB])
    cache = tmp_path / "cache"
    server.drop_next("/api/sync")  # once: the GET is retried and succeeds
    made = backend(server, cache)
    assert fetch(made, "bitwarden://GitHub").name == "GitHub"
    made.close()
    assert [r.path for r in server.requests].count("/api/sync") == 2

    server.add_item(VaultItem(name="Newer", username="n", password="n-pass"))
    server.drop_next("/api/sync", times=2)
    before = next(cache.iterdir()).read_bytes()
    made = backend(server, cache)
    with pytest.raises(VaultUnavailable, match="closed or reset mid-reply") as caught:
        fetch(made, "bitwarden://Newer")
    assert caught.value.exit_code == 4
    assert next(cache.iterdir()).read_bytes() == before  # the old cache is intact
    assert fetch(made, "bitwarden://Newer").username == "n"  # the next call syncs
    made.close()

    server.stop()
    down = backend(server, cache)
    with pytest.raises(VaultUnavailable, match="cannot connect") as caught:
        fetch(down, "bitwarden://GitHub")
    assert caught.value.exit_code == 4
    down.close()


def test_untrusted_certificate(bitwarden_server: BitwardenTestServer, tmp_path: Path) -> None:
    env = native_env(bitwarden_server, tmp_path / "cache")
    del env["VAULTS_BITWARDEN_CA"]
    made = BitwardenBackend.from_env(env)
    with pytest.raises(VaultUnavailable, match="VAULTS_BITWARDEN_CA"):
        made.fetch(parse_reference("bitwarden://GitHub"))
    made.close()


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "api", "identity"),
    [
        (
            "https://vault.bitwarden.com",
            "https://api.bitwarden.com",
            "https://identity.bitwarden.com",
        ),
        (
            "https://vault.bitwarden.eu/",
            "https://api.bitwarden.eu",
            "https://identity.bitwarden.eu",
        ),
        ("https://bw.example.org", "https://bw.example.org/api", "https://bw.example.org/identity"),
        ("https://example.org/vw", "https://example.org/vw/api", "https://example.org/vw/identity"),
    ],
)
def test_server_urls(server: str, api: str, identity: str) -> None:
    settings = BitwardenSettings.from_env({"VAULTS_BITWARDEN_SERVER": server})
    assert (settings.transport, settings.api_url, settings.identity_url) == ("api", api, identity)


def test_transport_selection_and_overrides() -> None:
    both = {
        "VAULTS_BITWARDEN_URL": "http://127.0.0.1:8087",
        "VAULTS_BITWARDEN_SERVER": "https://b.example",
    }
    assert BitwardenSettings.from_env(both).transport == "serve"
    assert (
        BitwardenSettings.from_env({**both, "VAULTS_BITWARDEN_TRANSPORT": "api"}).transport == "api"
    )
    assert BitwardenSettings.from_env({}).transport == "cli"
    overridden = BitwardenSettings.from_env(
        {
            "VAULTS_BITWARDEN_SERVER": "https://b.example",
            "VAULTS_BITWARDEN_API_URL": "https://api.b.example",
            "VAULTS_BITWARDEN_IDENTITY_URL": "https://id.b.example",
        }
    )
    assert (overridden.api_url, overridden.identity_url) == (
        "https://api.b.example",
        "https://id.b.example",
    )
    for bad, message in (
        ({"VAULTS_BITWARDEN_SERVER": "http://b.example"}, "https://"),
        ({"VAULTS_BITWARDEN_TRANSPORT": "api"}, "needs VAULTS_BITWARDEN_SERVER"),
        ({"VAULTS_BITWARDEN_TRANSPORT": "node"}, "must be one of"),
    ):
        with pytest.raises(ConfigurationError, match=message):
            BitwardenSettings.from_env(bad)
    with pytest.raises(ConfigurationError, match="BW_CLIENTID, BW_CLIENTSECRET, BW_PASSWORD"):
        BitwardenBackend.from_env({"VAULTS_BITWARDEN_SERVER": "https://b.example"})


# -- contract and leaks -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def contract_native(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[BitwardenTestServer, dict[str, str], Path]]:
    items = {
        seed.key: VaultItem(
            name=seed.name,
            username=seed.username,
            password=seed.password,
            totp=seed.totp,
            uris=seed.uris,
        )
        for seed in STANDARD_SEED
    }
    server = BitwardenTestServer.create(
        tmp_path_factory.mktemp("native-contract-tls"), items=list(items.values())
    )
    with server:
        yield server, {k: v.id for k, v in items.items()}, tmp_path_factory.mktemp("native-cache")


class TestBitwardenNativeContract(VaultContract):
    """Every lookup through the native transport (sync and async)."""

    scheme = "bitwarden"
    entry_point = "bitwarden"
    supports_batch = True

    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        server, ids, cache = request.getfixturevalue("contract_native")
        made = backend(server, cache)
        secrets = (
            server.master_password,
            server.client_secret,
            base64.b64encode(server.account.user_key.to_bytes()).decode(),
        )
        return SeededVault(made, {s.key: ids[s.key] for s in seed}, secrets)


def test_no_secret_leaks_anywhere(
    bitwarden_server: BitwardenTestServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    account = bitwarden_server.account
    user_key = account.user_key.to_bytes()
    canaries = [
        account.client_secret,
        account.master_password,
        base64.b64encode(user_key).decode(),
        user_key.hex(),
        CANARY_PASSWORD,
        CANARY_TOTP_SECRET,
    ]
    texts: list[str] = []
    caplog.set_level(logging.DEBUG)
    made = backend(bitwarden_server, tmp_path / "cache")
    cred = fetch(made, f"bitwarden://{CANARY.id}")
    assert cred.password is not None and cred.password.get_secret_value() == CANARY_PASSWORD
    texts += [repr(made), repr(made.transport), repr(made.transport.session), repr(cred), str(cred)]  # type: ignore[attr-defined]
    texts.append(repr(made.transport.session.vault))  # type: ignore[attr-defined]
    texts.append(json.dumps(cred.public_dict()))
    for env in (
        {"BW_PASSWORD": "x" + account.master_password},
        {"BW_CLIENTSECRET": account.client_secret + "x"},
    ):
        broken = backend(bitwarden_server, tmp_path / "other", **env)
        with pytest.raises(AuthenticationFailed) as caught:
            fetch(broken, f"bitwarden://{CANARY.id}")
        texts += [str(caught.value), repr(caught.value)]
        broken.close()
    made.close()
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(r.args) for r in caplog.records]
    blob = "\n".join(texts)
    for canary in canaries:
        assert canary not in blob
    assert os.environ.get("BW_CLIENTSECRET") is None or os.environ["BW_CLIENTSECRET"] not in blob


def test_reprompt_items_only_when_allowed(
    bitwarden_server_factory: ServerFactory, tmp_path: Path
) -> None:
    from vaults.errors import RepromptRequired
    from vaults.resolver import Vaults

    server = bitwarden_server_factory([GITHUB, CIPHER_KEY])
    _tampered(server, GITHUB.id, lambda c: c.update(reprompt=1))
    made = backend(server, tmp_path / "cache")
    with Vaults(backends=[made]) as vaults:
        with pytest.raises(RepromptRequired, match="allow_reprompt=True") as caught:
            vaults.resolve("bitwarden://GitHub")
        assert caught.value.exit_code == 3
        first, second = vaults.resolve_many(["bitwarden://GitHub", f"bitwarden://{CIPHER_KEY.id}"])
        assert isinstance(first, RepromptRequired) and not isinstance(second, VaultsError)
    with Vaults(backends=[made], allow_reprompt=True) as vaults:
        cred = vaults.resolve("bitwarden://GitHub")
        assert cred.reprompt and cred.totp is not None
    made.close()


@pytest.mark.slow  # one `bw get item` run and three `vaults` processes
def test_vaults_command_returns_what_bw_get_item_returns(
    bw_cli: Any, bitwarden_server: BitwardenTestServer, tmp_path: Path
) -> None:
    import subprocess
    import sys

    from vaults.totp import code_for_entry, parse_secret

    vaults_bin = Path(sys.executable).with_name("vaults")
    if not vaults_bin.exists():
        pytest.skip("the vaults console script is not installed")
    bw_item = json.loads(bw_cli.run("get", "item", "GitHub").stdout)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "BW_"))}
    env = {**base, "VAULTS_LOAD_PLUGINS": "bitwarden", **native_env(bitwarden_server, tmp_path)}

    def resolve(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(vaults_bin), "resolve", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    for _ in range(2):  # cold cache, then warm
        done = resolve("bitwarden://GitHub", "--json", "--reveal")
        assert done.returncode == 0, done.stderr
        got = json.loads(done.stdout)
        assert (got["username"], got["password"]) == (
            bw_item["login"]["username"],
            bw_item["login"]["password"],
        )
        secret = parse_secret(bw_item["login"]["totp"])
        now = time.time()
        expected = {code_for_entry(secret, now + d, 0).code for d in (-30, 0, 30)}
        assert got["totp"]["code"] in expected
    from vaults.testing.imports import run_and_list_imports

    done, imported = run_and_list_imports(vaults_bin, ["resolve", "bitwarden://GitHub"], env)
    assert done.returncode == 0, done.stderr
    assert "vaults_bitwarden.native.client" in imported  # the list is real
    heavy = {"pydantic", "pydantic_core", "httpx", "anyio"} & imported
    assert not heavy, f"the native fast path imported {sorted(heavy)}"
    wrong = resolve("bitwarden://GitHub", BW_PASSWORD="wrong horse")
    assert wrong.returncode == 3
    assert "wrong master password" in wrong.stderr
    assert "Traceback" not in wrong.stderr and "wrong horse" not in wrong.stderr + wrong.stdout
    assert bitwarden_server.client_secret not in wrong.stderr


def test_writing_through_the_native_session(
    bitwarden_server_factory: ServerFactory, tmp_path: Path
) -> None:
    """What a writer (``store_totp``) does: encrypt with the item's key, PUT the cipher."""
    from vaults_bitwarden.native.crypto import encrypt_text

    server = bitwarden_server_factory([GITHUB, ORG_WITH_KEY])
    made = backend(server, tmp_path / "cache")
    transport = made.transport
    assert isinstance(transport, ApiTransport)
    session = transport.session
    vault = session.unlocked()
    for item_id, secret in ((GITHUB.id, "NEWSECRETGITHUBA"), (ORG_WITH_KEY.id, "NEWSECRETORGKEYB")):
        cipher = dict(vault.ciphers[item_id])
        key = vault.item_key(cipher)
        cipher["login"] = {**cipher["login"], "totp": encrypt_text(key, secret)}
        cipher["lastKnownRevisionDate"] = cipher["revisionDate"]
        written = session.api("PUT", f"/ciphers/{item_id}", cipher)
        assert written["id"] == item_id
        with pytest.raises(WriteConflict, match="changed since it was read"):  # same base
            session.api("PUT", f"/ciphers/{item_id}", cipher)
    fresh = backend(server, tmp_path / "cache")
    assert fresh.transport.get_item(GITHUB.id, "x")["login"]["totp"] == "NEWSECRETGITHUBA"
    assert fresh.transport.get_item(ORG_WITH_KEY.id, "x")["login"]["totp"] == "NEWSECRETORGKEYB"
    fresh.close()
    made.close()


def test_preconnect_opens_the_connection_and_never_raises(
    bitwarden_server: BitwardenTestServer,
) -> None:
    """What runs beside the KDF in a new process: a TLS connection, no request, no error."""
    from vaults_bitwarden.native.client import ssl_context

    from vaults.small_http import HttpClient

    tries: list[int] = []
    client = HttpClient(
        context=ssl_context(str(bitwarden_server.ca_cert)),
        schemes=frozenset({"https"}),
        timeout=5,
        on_try=lambda: tries.append(1),
    )
    before = len(bitwarden_server.requests)
    client.preconnect(f"{bitwarden_server.url}/api")
    ((entry,),) = client._idle.values()
    assert entry.connection.sock is not None and tries == []
    assert len(bitwarden_server.requests) == before  # connected, nothing asked
    assert client.request("GET", f"{bitwarden_server.url}/api/config").status == 200
    ((again,),) = client._idle.values()
    assert again.connection is entry.connection  # the request used it
    client.preconnect("https://127.0.0.1:9/api")  # nothing listens: no error, nothing kept
    assert client.idle_connections() == 1
    client.close()


def test_a_warm_start_derives_the_key_once_in_the_unlock_thread(
    bitwarden_server: BitwardenTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new backend reads the cache and runs the KDF in EarlyUnlock's thread (begun before
    the transport's imports in a new process), once; a personal item unwraps no
    organisation key (collection names wait for their first use)."""
    import threading

    from vaults_bitwarden.native import crypto, kdf

    cache = tmp_path / "cache"
    fetch(backend(bitwarden_server, cache), "bitwarden://GitHub")  # writes the cache
    derived_in: list[str] = []
    real = kdf.make_master_key

    def counting(*args: Any, **kwargs: Any) -> bytes:
        derived_in.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(kdf, "make_master_key", counting)
    monkeypatch.setattr(crypto, "make_master_key", counting)
    warm = backend(bitwarden_server, cache)
    assert fetch(warm, "bitwarden://GitHub").username == GITHUB.username
    assert derived_in == ["bitwarden-kdf"]
    session = warm.transport.session  # type: ignore[attr-defined]
    assert session.vault.org_keys == {} and session.vault.private_key is None
    assert {c["id"] for c in warm.transport.list_collections()}  # decrypted when asked
    assert session.vault.org_keys  # the organisation key was unwrapped for them
    warm.close()


def test_the_cli_hook_begins_the_unlock_that_the_backend_takes_over(
    bitwarden_server: BitwardenTestServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ``vaults.early`` hook starts the cache read and KDF before the CLI loads; the
    backend's from_env claims it (one derivation); other commands, other transports and
    another password start nothing or are not handed the pending unlock."""
    from vaults_bitwarden.native import early, kdf

    cache = tmp_path / "cache"
    env = native_env(bitwarden_server, cache)
    fetch(backend(bitwarden_server, cache), "bitwarden://GitHub")  # writes the cache
    derived = 0
    real = kdf.make_master_key

    def counting(*args: Any, **kwargs: Any) -> bytes:
        nonlocal derived
        derived += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(kdf, "make_master_key", counting)
    monkeypatch.setattr(early, "_PENDING", [])
    for argv in (["totp", "JBSWY3DPEHPK3PXP"], ["resolve", "keepass://Demo/x"]):
        early.cli_hook(argv, env)
    serve_env = {**env, "VAULTS_BITWARDEN_URL": "http://127.0.0.1:9"}
    early.cli_hook(["resolve", "bitwarden://GitHub"], serve_env)
    assert early._PENDING == []
    early.cli_hook(["resolve", "bitwarden://GitHub", "--json"], env)
    ((pending, _),) = early._PENDING
    other = early.start(BitwardenSettings.from_env({**env, "BW_PASSWORD": "another password"}))
    assert other is not pending and len(early._PENDING) == 1
    assert other is not None
    other.result()
    made = backend(bitwarden_server, cache)
    assert early._PENDING == []
    assert made.transport.session._early is pending  # type: ignore[attr-defined]
    assert fetch(made, "bitwarden://GitHub").username == GITHUB.username
    assert derived == 2  # the hook's and the other password's: the backend derived nothing
