"""The test server's write endpoints, driven by the real official CLI.

``bw create item``, ``bw edit item``, ``bw delete item`` and ``bw serve``'s
``/object/item`` write through ``POST /api/ciphers``, ``POST /api/ciphers/create``
(organisation items), ``PUT /api/ciphers/{id}`` and ``PUT /api/ciphers/{id}/delete``;
the server keeps exactly what the CLI encrypted. Decrypting it here with the account's
keys checks the server stored what the CLI meant.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from vaults_bitwarden.testing.cli import serve_call
from vaults_bitwarden.testing.crypto import SymmetricKey, decrypt_type2, encrypt_text
from vaults_bitwarden.testing.fixtures import WritableVault
from vaults_bitwarden.testing.server import BitwardenTestServer

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)


def _encoded(item: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(item).encode()).decode()


def _text(key: SymmetricKey, enc: str | None) -> str | None:
    return None if enc is None else decrypt_type2(key, enc).decode()


def _item_key(server: BitwardenTestServer, cipher: dict[str, Any]) -> SymmetricKey:
    account = server.account
    key = account.organization_key if cipher["organizationId"] else account.user_key
    if cipher["key"] is not None:
        key = SymmetricKey.from_bytes(decrypt_type2(key, cipher["key"]))
    return key


def _token(server: BitwardenTestServer) -> str:
    with httpx.Client(base_url=server.url, verify=server.client_ssl_context()) as client:
        reply = client.post(
            "/identity/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": server.client_id,
                "client_secret": server.client_secret,
                "scope": "api",
            },
        )
    token: str = reply.json()["access_token"]
    return token


LOGIN: dict[str, Any] = {
    "type": 1,
    "name": "Written By bw",
    "notes": "created with `bw create item`",
    "favorite": True,
    "reprompt": 1,
    "fields": [
        {"name": "hidden one", "value": "hidden-value", "type": 1},
        {"name": "shows password", "value": None, "type": 3, "linkedId": 101},
    ],
    "login": {
        "username": "writer@example.com",
        "password": "written-pass",
        "totp": "JBSWY3DPEHPK3PXP",
        "uris": [{"uri": "https://write.example.com/login", "match": 3}],
    },
}


@pytest.mark.slow  # two `bw create item` runs and a bw serve (plus the two logins, once)
def test_bw_create_edit_and_delete_write_through(
    bitwarden_writable: WritableVault, bw_serve_writable: str
) -> None:
    server, account = bitwarden_writable.server, bitwarden_writable.server.account
    created = json.loads(bitwarden_writable.cli.run("create", "item", _encoded(LOGIN)).stdout)
    stored = server.cipher(created["id"])
    assert stored["key"] is None and stored["organizationId"] is None
    assert (stored["reprompt"], stored["favorite"], stored["type"]) == (1, True, 1)
    key = _item_key(server, stored)
    assert _text(key, stored["name"]) == "Written By bw"
    assert _text(key, stored["login"]["password"]) == "written-pass"
    assert _text(key, stored["login"]["totp"]) == "JBSWY3DPEHPK3PXP"
    (uri,) = stored["login"]["uris"]
    assert (_text(key, uri["uri"]), uri["match"]) == ("https://write.example.com/login", 3)
    checksum = base64.b64encode(hashlib.sha256(b"https://write.example.com/login").digest())
    assert _text(key, uri["uriChecksum"]) == checksum.decode()
    assert [(f["type"], _text(key, f["name"]), f.get("linkedId")) for f in stored["fields"]] == [
        (1, "hidden one", None),
        (3, "shows password", 101),
    ]

    keyed = json.loads(
        bitwarden_writable.cli_keyed.run(
            "create", "item", _encoded({**LOGIN, "name": "Keyed By bw", "reprompt": 0})
        ).stdout
    )
    stored_keyed = server.cipher(keyed["id"])
    assert stored_keyed["key"] is not None
    assert _text(_item_key(server, stored_keyed), stored_keyed["name"]) == "Keyed By bw"

    with httpx.Client(base_url=bw_serve_writable, timeout=30) as serve:
        org_item = {
            **LOGIN,
            "name": "Org Written By bw serve",
            "reprompt": 0,
            "organizationId": account.organization_id,
            "collectionIds": [account.collection_id],
        }
        reply = serve.post("/object/item", json=org_item).json()
        assert reply["success"] is True, reply
        org_id = reply["data"]["id"]
        stored_org = server.cipher(org_id)
        assert stored_org["organizationId"] == account.organization_id
        assert stored_org["collectionIds"] == [account.collection_id]
        assert _text(_item_key(server, stored_org), stored_org["name"]) == org_item["name"]
        assert ("POST", "/api/ciphers/create", 200) in [
            (r.method, r.path, r.status) for r in server.requests
        ]

        edited = {**reply["data"], "name": "Org Edited By bw serve"}
        edited["login"] = {**edited["login"], "password": "edited-pass"}
        before = stored_org["revisionDate"]
        reply = serve_call(serve, "PUT", f"/object/item/{org_id}", edited)
        assert reply["success"] is True, reply
        stored_org = server.cipher(org_id)
        assert stored_org["revisionDate"] > before
        org_key = _item_key(server, stored_org)
        assert _text(org_key, stored_org["name"]) == "Org Edited By bw serve"
        assert _text(org_key, stored_org["login"]["password"]) == "edited-pass"

        assert serve_call(serve, "DELETE", f"/object/item/{org_id}")["success"] is True
        assert server.cipher(org_id)["deletedDate"] is not None


def test_a_stale_or_foreign_write_is_refused(
    bitwarden_server_factory: Callable[[list[Any]], BitwardenTestServer],
) -> None:
    server = bitwarden_server_factory([])
    account = server.account
    key = account.user_key
    body = {"type": 1, "name": encrypt_text(key, "Direct"), "login": {"username": None}}
    headers = {"Authorization": f"Bearer {_token(server)}"}
    with httpx.Client(
        base_url=server.url, verify=server.client_ssl_context(), headers=headers
    ) as client:
        created = client.post("/api/ciphers", json=body).json()
        first = created["revisionDate"]
        updated = client.put(
            f"/api/ciphers/{created['id']}", json={**body, "lastKnownRevisionDate": first}
        )
        assert updated.status_code == 200
        stale = client.put(
            f"/api/ciphers/{created['id']}", json={**body, "lastKnownRevisionDate": first}
        )
        assert stale.status_code == 400
        assert "out of date" in stale.json()["validationErrors"][""][0]
        foreign_org = client.post(
            "/api/ciphers/create",
            json={
                "cipher": {**body, "organizationId": "00000000-0000-4000-8000-000000000001"},
                "collectionIds": [account.collection_id],
            },
        )
        assert foreign_org.status_code == 400
        no_collection = client.post(
            "/api/ciphers", json={**body, "organizationId": account.organization_id}
        )
        assert no_collection.json()["validationErrors"][""] == [
            "You must select at least one collection."
        ]
        not_encrypted = client.post("/api/ciphers", json={**body, "name": "plain text"})
        assert not_encrypted.status_code == 400
        wrong_user = client.post("/api/ciphers", json={**body, "encryptedFor": "someone-else"})
        assert wrong_user.status_code == 400
        assert client.put(f"/api/ciphers/{created['id']}/delete").status_code == 200
        assert client.put(f"/api/ciphers/{created['id']}/restore").json()["deletedDate"] is None
        assert client.delete(f"/api/ciphers/{created['id']}").status_code == 200
        assert client.get(f"/api/ciphers/{created['id']}").status_code == 404
    assert (
        httpx.post(
            f"{server.url}/api/ciphers", json=body, verify=server.client_ssl_context()
        ).status_code
        == 401
    )


def test_a_login_keeps_the_feature_flags_it_was_given(
    bitwarden_server_factory: Callable[[list[Any]], BitwardenTestServer],
) -> None:
    """The keyed and unkeyed CLI logins of ``bitwarden_writable`` stay as they logged in, even
    when a slow CLI reads ``/api/config`` again after the flag was switched back."""
    server = bitwarden_server_factory([])
    server.feature_states["cipher-key-encryption"] = True
    keyed = _token(server)
    server.feature_states["cipher-key-encryption"] = False
    plain = _token(server)
    with httpx.Client(base_url=server.url, verify=server.client_ssl_context()) as client:

        def flag(token: str | None) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            reply = client.get("/api/config", headers=headers)
            return reply.json()["featureStates"].get("cipher-key-encryption")

        assert (flag(keyed), flag(plain), flag(None)) == (True, False, False)
        server.feature_states["cipher-key-encryption"] = True
        assert (flag(keyed), flag(plain), flag(None)) == (True, False, True)
        refreshed = client.post(
            "/identity/connect/token",
            data={"grant_type": "refresh_token", "refresh_token": "unknown", "client_id": "cli"},
        )
        assert refreshed.status_code == 400
