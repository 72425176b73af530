"""The Bitwarden test server, checked by the real official CLI (`bw`, `bw serve`).

`bw` subprocesses cost about 3 s each, so the session shares one login and tests
read many items per invocation. Tests that change CLI state use a copy of its
app-data directory.
"""

from __future__ import annotations

import base64
import hmac
import struct
import time
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_der_private_key
from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.cli import BwCli
from vaults_bitwarden.testing.crypto import (
    SymmetricKey,
    decrypt_type2,
    decrypt_type4,
    make_master_key,
    master_password_hash,
    stretch_master_key,
)
from vaults_bitwarden.testing.items import CustomField, VaultItem
from vaults_bitwarden.testing.seed import (
    CANARY,
    CANARY_PASSWORD,
    DEFAULT_SEED,
    GITHUB,
    ORG_WITH_KEY,
    OTPAUTH_SHA256,
    SECURE_NOTE,
    SHARED_NAME,
    SHARED_NAME_ORG,
    SHARED_NAME_PERSONAL,
    STEAM,
    UNICODE,
)
from vaults_bitwarden.testing.server import BitwardenTestServer, RecordedRequest

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)

SEED_BY_ID = {item.id: item for item in DEFAULT_SEED}
TOTP_ITEMS = [item for item in DEFAULT_SEED if item.totp]


# -- independent expectations -------------------------------------------------------------

_STEAM_ALPHABET = "23456789BCDFGHJKMNPQRTVWXY"


def _base32(secret: str) -> bytes:
    """Bitwarden's decoding: junk dropped, 5 bits a character, trailing partial byte dropped."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    bits = "".join(f"{alphabet.index(c):05b}" for c in secret.upper() if c in alphabet)
    whole = len(bits) // 8
    return int(bits[: whole * 8], 2).to_bytes(whole, "big")


def _codes_around(totp: str, now: float) -> set[str]:
    """RFC 6238 (and Steam) codes for the previous, current and next time step."""
    digits, period, algorithm, steam = 6, 30, "sha1", False
    if totp.lower().startswith("steam://"):
        secret, steam = totp[len("steam://") :], True
    elif totp.lower().startswith("otpauth://"):
        query = {k.lower(): v[0] for k, v in parse_qs(urlsplit(totp).query).items()}
        secret = query["secret"]
        digits = int(query.get("digits", 6))
        period = int(query.get("period", 30))
        algorithm = query.get("algorithm", "sha1").lower()
    else:
        secret = totp
    key = _base32(secret)
    codes = set()
    for step in (-1, 0, 1):
        counter = int(now // period) + step
        digest = hmac.new(key, struct.pack(">Q", counter), algorithm).digest()
        offset = digest[-1] & 0x0F
        value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
        if steam:
            chars = []
            for _ in range(5):
                value, index = divmod(value, len(_STEAM_ALPHABET))
                chars.append(_STEAM_ALPHABET[index])
            codes.add("".join(chars))
        else:
            codes.add(str(value % 10**digits).zfill(digits))
    return codes


def _fields(fields: tuple[CustomField, ...]) -> list[tuple[int, str, str | None, int | None]]:
    return [
        (int(f.type), f.name, f.value, None if f.linked_id is None else int(f.linked_id))
        for f in fields
    ]


def assert_cli_item_matches(
    cli_item: dict[str, Any], item: VaultItem, account: BitwardenAccount
) -> None:
    """Compare one item as `bw get item`/`bw list items` prints it with the seed."""
    assert cli_item["id"] == item.id
    assert cli_item["object"] == "item"
    assert cli_item["name"] == item.name
    assert cli_item.get("notes") == item.notes
    assert cli_item.get("organizationId") == (
        account.organization_id if item.organization else None
    )
    assert cli_item["collectionIds"] == ([account.collection_id] if item.organization else [])
    assert cli_item.get("folderId") == (account.folder_id if item.in_folder else None)
    assert bool(cli_item.get("key")) is item.own_cipher_key
    got_fields = [
        (f["type"], f["name"], f.get("value"), f.get("linkedId"))
        for f in cli_item.get("fields") or []
    ]
    assert got_fields == _fields(item.fields)
    if item.kind == "note":
        assert cli_item["type"] == 2
        assert cli_item.get("login") is None
        return
    assert cli_item["type"] == 1
    login = cli_item["login"]
    assert login.get("username") == item.username
    assert login.get("password") == item.password
    assert login.get("totp") == item.totp
    assert [u["uri"] for u in login.get("uris") or []] == list(item.uris)


def _requests(server: BitwardenTestServer) -> list[tuple[str, str, int, str | None]]:
    return [(r.method, r.path, r.status, r.grant_type) for r in server.requests]


# -- the server on its own (no `bw` needed) ------------------------------------------------


def _client(server: BitwardenTestServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, verify=server.client_ssl_context(), timeout=10)


def _password_grant(server: BitwardenTestServer, password_hash: str) -> httpx.Response:
    with _client(server) as client:
        return client.post(
            "/identity/connect/token",
            data={
                "grant_type": "password",
                "username": server.email,
                "password": password_hash,
                "scope": "api offline_access",
                "client_id": "cli",
                "deviceType": "8",
                "deviceIdentifier": "00000000-0000-4000-8000-000000000000",
                "deviceName": "linux",
            },
        )


def test_sync_document_decrypts_back_to_the_seed(bitwarden_server: BitwardenTestServer) -> None:
    with _client(bitwarden_server) as client:
        prelogin = client.post(
            "/identity/accounts/prelogin/password", json={"email": bitwarden_server.email}
        ).json()
    master_key = make_master_key(
        bitwarden_server.master_password, bitwarden_server.email, prelogin["kdfIterations"]
    )
    token = _password_grant(
        bitwarden_server, master_password_hash(master_key, bitwarden_server.master_password)
    )
    assert token.status_code == 200
    body = token.json()
    with _client(bitwarden_server) as client:
        sync = client.get(
            "/api/sync", headers={"Authorization": f"Bearer {body['access_token']}"}
        ).json()

    user_key = SymmetricKey.from_bytes(decrypt_type2(stretch_master_key(master_key), body["Key"]))
    private_key = load_der_private_key(decrypt_type2(user_key, body["PrivateKey"]), None)
    assert isinstance(private_key, RSAPrivateKey)
    (org,) = sync["profile"]["organizations"]
    org_key = SymmetricKey.from_bytes(decrypt_type4(private_key, org["key"]))
    (collection,) = sync["collections"]
    assert decrypt_type2(org_key, collection["name"]).decode() == "Engineering"

    for cipher in sync["ciphers"]:
        item = SEED_BY_ID[cipher["id"]]
        key = org_key if cipher["organizationId"] else user_key
        if cipher["key"]:
            key = SymmetricKey.from_bytes(decrypt_type2(key, cipher["key"]))
        assert decrypt_type2(key, cipher["name"]).decode() == item.name
        if item.kind == "login":
            assert decrypt_type2(key, cipher["login"]["password"]).decode() == item.password
    assert {c["id"] for c in sync["ciphers"]} == set(SEED_BY_ID)


def test_wrong_password_hash_gets_the_real_servers_error(
    bitwarden_server: BitwardenTestServer,
) -> None:
    response = _password_grant(bitwarden_server, base64.b64encode(b"x" * 32).decode())
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "invalid_username_or_password",
        "ErrorModel": {
            "Message": "Username or password is incorrect. Try again.",
            "Object": "error",
        },
    }


def test_api_needs_an_issued_bearer_token(bitwarden_server: BitwardenTestServer) -> None:
    with _client(bitwarden_server) as client:
        assert client.get("/api/sync").status_code == 401
        assert client.get("/api/sync", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.get("/api/accounts/revision-date").status_code == 401


def test_item_reprs_hide_secrets() -> None:
    text = repr(DEFAULT_SEED) + repr(BitwardenAccount.create(master_password=CANARY_PASSWORD))
    assert CANARY_PASSWORD not in text
    assert "ghp-hidden-field-value" not in text


# -- the real CLI --------------------------------------------------------------------------


def test_list_items_decrypts_every_seeded_shape(
    bw_cli: BwCli, bitwarden_server: BitwardenTestServer
) -> None:
    listed = {item["id"]: item for item in bw_cli.run_json("list", "items")}
    assert set(listed) == set(SEED_BY_ID)
    for item in DEFAULT_SEED:
        assert_cli_item_matches(listed[item.id], item, bitwarden_server.account)


@pytest.mark.parametrize("item", [ORG_WITH_KEY, UNICODE], ids=lambda i: i.name)
def test_get_item_by_id(
    bw_cli: BwCli, bitwarden_server: BitwardenTestServer, item: VaultItem
) -> None:
    assert_cli_item_matches(bw_cli.run_json("get", "item", item.id), item, bitwarden_server.account)


@pytest.mark.parametrize("item", [GITHUB, OTPAUTH_SHA256, STEAM], ids=lambda i: i.name)
def test_get_totp(bw_cli: BwCli, item: VaultItem) -> None:
    assert item.totp is not None
    code = bw_cli.run("get", "totp", item.id).stdout.strip()
    assert code in _codes_around(item.totp, time.time())


def test_sync_after_server_restart_picks_up_an_added_item(
    bw_cli_copy: BwCli, bitwarden_server: BitwardenTestServer
) -> None:
    bitwarden_server.stop()
    bitwarden_server.start()  # same port, same keys, same tokens
    added = VaultItem(
        name="Added After Login",
        username="late@example.com",
        password="added-later-pass",
        totp="JBSWY3DPEHPK3PXP",
        organization=True,
        own_cipher_key=True,
    )
    with bitwarden_server.temporary_item(added):
        bitwarden_server.clear_requests()
        assert bw_cli_copy.run("sync").stdout.strip() == "Syncing complete."
        assert _requests(bitwarden_server) == [
            ("GET", "/api/accounts/revision-date", 200, None),
            ("POST", "/identity/connect/token", 200, "refresh_token"),
            ("GET", "/api/sync", 200, None),
        ]
        assert_cli_item_matches(
            bw_cli_copy.run_json("get", "item", added.id), added, bitwarden_server.account
        )


def test_apikey_login_then_unlock(
    bw_cli_logged_out: BwCli, bitwarden_server: BitwardenTestServer
) -> None:
    bitwarden_server.clear_requests()
    locked = bw_cli_logged_out.login_apikey(
        bitwarden_server.client_id, bitwarden_server.client_secret
    )
    assert ("POST", "/identity/connect/token", 200, "client_credentials") in _requests(
        bitwarden_server
    )
    unlocked = locked.unlock(bitwarden_server.master_password)
    assert unlocked.session
    assert_cli_item_matches(
        unlocked.run_json("get", "item", CANARY.id), CANARY, bitwarden_server.account
    )


def test_password_login_wrong_then_right(
    bw_cli_logged_out: BwCli, bitwarden_server: BitwardenTestServer
) -> None:
    bitwarden_server.clear_requests()
    wrong = bw_cli_logged_out.run(
        "login",
        bitwarden_server.email,
        "--passwordenv",
        "BW_MASTER_PASSWORD",
        extra_env={"BW_MASTER_PASSWORD": "not the master password"},
        check=False,
    )
    assert wrong.returncode == 1
    # bw 2026.6.0 turns the server's invalid_username_or_password into its own message.
    assert wrong.stderr.startswith("Invalid master password. Confirm your email is correct")
    assert "not the master password" not in wrong.stderr + wrong.stdout
    assert ("POST", "/identity/connect/token", 400, "password") in _requests(bitwarden_server)

    bitwarden_server.clear_requests()
    logged_in = bw_cli_logged_out.login_password(
        bitwarden_server.email, bitwarden_server.master_password
    )
    assert logged_in.session
    assert [r for r in _requests(bitwarden_server) if r[1] != "/api/config"] == [
        ("POST", "/identity/accounts/prelogin/password", 200, None),
        ("POST", "/identity/connect/token", 200, "password"),
        ("GET", "/api/sync", 200, None),
    ]


def test_wrong_master_password_unlock_fails(bw_cli_copy: BwCli) -> None:
    result = bw_cli_copy.with_session(None).run(
        "unlock",
        "--passwordenv",
        "BW_MASTER_PASSWORD",
        "--raw",
        extra_env={"BW_MASTER_PASSWORD": "not the master password"},
        check=False,
    )
    # Checked locally: bw 2026.6.0 reports the SDK's failure to decrypt the user key.
    assert result.returncode == 1
    assert "The decryption operation failed" in result.stderr
    assert "not the master password" not in result.stderr + result.stdout
    assert result.stdout.strip() == ""


# -- the real `bw serve` -------------------------------------------------------------------


def test_bw_serve_status(bw_serve: str, bitwarden_server: BitwardenTestServer) -> None:
    response = httpx.get(f"{bw_serve}/status")
    assert response.status_code == 200
    template = response.json()["data"]["template"]
    assert template["status"] == "unlocked"
    assert template["userEmail"] == bitwarden_server.email
    assert template["serverUrl"] == bitwarden_server.url


def test_bw_serve_gets_every_item_by_id(
    bw_serve: str, bitwarden_server: BitwardenTestServer
) -> None:
    with httpx.Client(base_url=bw_serve) as client:
        for item in DEFAULT_SEED:
            response = client.get(f"/object/item/{item.id}")
            assert response.status_code == 200
            body = response.json()
            assert body["success"] is True
            assert_cli_item_matches(body["data"], item, bitwarden_server.account)


def test_bw_serve_search_and_ambiguity(bw_serve: str) -> None:
    with httpx.Client(base_url=bw_serve) as client:
        found = client.get("/list/object/items", params={"search": SHARED_NAME}).json()
        assert found["data"]["object"] == "list"
        assert {i["id"] for i in found["data"]["data"]} == {
            SHARED_NAME_PERSONAL.id,
            SHARED_NAME_ORG.id,
        }
        ambiguous = client.get(f"/object/item/{quote(SHARED_NAME)}")
        assert ambiguous.status_code == 400
        assert ambiguous.json()["success"] is False
        assert ambiguous.json()["message"].startswith("More than one result was found.")
        assert sorted(ambiguous.json()["data"]) == sorted(
            [SHARED_NAME_PERSONAL.id, SHARED_NAME_ORG.id]
        )
        missing = client.get("/object/item/00000000-0000-4000-8000-000000000000")
        assert (missing.status_code, missing.json()) == (
            400,
            {"success": False, "message": "Not found."},
        )
        by_unicode_name = client.get("/list/object/items", params={"search": "秘密"}).json()
        assert [i["id"] for i in by_unicode_name["data"]["data"]] == [UNICODE.id]


def test_bw_serve_totp_for_every_totp_item(bw_serve: str) -> None:
    with httpx.Client(base_url=bw_serve) as client:
        for item in TOTP_ITEMS:
            assert item.totp is not None
            body = client.get(f"/object/totp/{item.id}").json()
            assert body["success"] is True, item.name
            assert body["data"]["object"] == "string"
            assert body["data"]["data"] in _codes_around(item.totp, time.time()), item.name
        # bw serve 2026.6.0 answers "Not found." (not "Not a login.") for a secure note.
        note = client.get(f"/object/totp/{SECURE_NOTE.id}")
        assert (note.status_code, note.json()) == (400, {"success": False, "message": "Not found."})


def test_bw_serve_sync_lock_and_unlock(
    bw_serve_copy: str, bitwarden_server: BitwardenTestServer
) -> None:
    added = VaultItem(name="Added For Serve", username="serve@example.com", password="serve-pass")
    with httpx.Client(base_url=bw_serve_copy) as settle:
        # let any sync the fresh serve runs finish first: a sync that ends after the item is
        # added records a "last sync" newer than the item and makes the next sync a no-op
        assert settle.post("/sync", timeout=30).json()["success"] is True
    time.sleep(0.05)  # the item's revision date must be later than that sync, not the same ms
    with bitwarden_server.temporary_item(added), httpx.Client(base_url=bw_serve_copy) as client:
        assert client.get(f"/object/item/{added.id}").status_code == 400
        synced = client.post("/sync", timeout=30).json()
        assert synced["success"] is True
        assert synced["data"]["title"] == "Syncing complete."
        item = client.get(f"/object/item/{added.id}").json()["data"]
        assert_cli_item_matches(item, added, bitwarden_server.account)

        assert client.post("/lock").json()["data"]["title"] == "Your vault is locked."
        locked = client.get(f"/object/item/{added.id}")
        assert (locked.status_code, locked.json()) == (
            400,
            {"success": False, "message": "Vault is locked."},
        )
        wrong = client.post("/unlock", json={"password": "not the master password"}, timeout=30)
        assert wrong.status_code == 400
        assert wrong.json()["success"] is False
        unlocked = client.post(
            "/unlock", json={"password": bitwarden_server.master_password}, timeout=30
        ).json()
        assert unlocked["success"] is True
        assert unlocked["data"]["raw"]
        assert client.get(f"/object/item/{added.id}").json()["data"]["id"] == added.id


def test_request_log_never_holds_secrets(bitwarden_server: BitwardenTestServer) -> None:
    assert all(isinstance(r, RecordedRequest) for r in bitwarden_server.requests)
    text = repr(bitwarden_server.requests) + repr(bitwarden_server)
    assert bitwarden_server.master_password not in text
    assert bitwarden_server.account.master_password_hash not in text
    assert bitwarden_server.client_secret not in text
