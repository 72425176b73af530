"""Storing TOTP secrets in Bitwarden items, read back by the official CLI (``bw get totp``).

Written through the real ``bw serve`` (``PUT /object/item/<id>``), the real ``bw`` CLI
(``bw edit item`` with the item on stdin) and the native transport (``PUT /api/ciphers``),
all against the plugin's HTTPS test server; a second, separately logged-in ``bw`` syncs and
must print the code of the stored secret. Every other field of the item stays as it was.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.serve_api import ServeTransport
from vaults_bitwarden.settings import BitwardenSettings
from vaults_bitwarden.testing.crypto import SymmetricKey, decrypt_type2
from vaults_bitwarden.testing.fixtures import WritableVault
from vaults_bitwarden.testing.server import BitwardenTestServer

from vaults.enrol import same_secret
from vaults.errors import TotpAlreadySet, WriteConflict
from vaults.models import Credential
from vaults.refs import parse_reference
from vaults.resolver import Vaults
from vaults.totp import code_at, parse_secret

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)

CANARY = "VAULTSCANARY"
SECRET = f"{CANARY}BWSTOREDSECRET2345AB"  # 32 base32 characters: 20 whole bytes
URI = (
    f"otpauth://totp/Acme:alice?secret={CANARY}BWOTPAUTHSHA256QABCD&issuer=Acme"
    "&algorithm=SHA256&digits=8&period=30"
)
VAULTS_BIN = str(Path(sys.executable).with_name("vaults"))

ITEM: dict[str, Any] = {
    "type": 1,
    "name": "Store Target",
    "notes": f"notes {CANARY}",
    "favorite": True,
    "reprompt": 0,
    "fields": [
        {"name": "hidden one", "value": f"hidden-{CANARY}", "type": 1},
        {"name": "text one", "value": "visible", "type": 0},
        {"name": "flag", "value": "true", "type": 2},
        {"name": "shows password", "value": None, "type": 3, "linkedId": 101},
    ],
    "login": {
        "username": "writer@example.com",
        "password": f"pw-{CANARY}",
        "totp": None,
        "uris": [
            {"uri": "https://store.example.com/login", "match": 3},
            {"uri": "https://other.example.com/", "match": None},
        ],
    },
}


def _create(serve_url: str, name: str, **login: Any) -> str:
    """Create the item through ``bw serve`` and wait until ``bw serve`` serves it (it
    answers before it has re-read its own data file: see ``wait_until_served``)."""
    body = copy.deepcopy(ITEM)
    body["name"] = name
    body["login"].update(login)
    with httpx.Client(base_url=serve_url, timeout=60) as serve:
        reply = serve.post("/object/item", json=body).json()
    assert reply["success"] is True, reply
    item_id: str = reply["data"]["id"]
    transport = ServeTransport(BitwardenSettings.from_env({"VAULTS_BITWARDEN_URL": serve_url}))
    try:
        transport.wait_until_served(item_id, reply["data"]["revisionDate"], f"item {item_id}")
    finally:
        transport.close()
    return item_id


def _item_key(server: BitwardenTestServer, cipher: dict[str, Any]) -> SymmetricKey:
    account = server.account
    key = account.organization_key if cipher["organizationId"] else account.user_key
    if cipher["key"] is not None:
        key = SymmetricKey.from_bytes(decrypt_type2(key, cipher["key"]))
    return key


def _decrypted(server: BitwardenTestServer, item_id: str) -> dict[str, Any]:
    """The stored cipher with every encrypted string decrypted (for comparisons)."""
    cipher = server.cipher(item_id)
    key = _item_key(server, cipher)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: v if k == "key" else walk(v)  # the item key is wrapped by another key
                for k, v in value.items()
                if k != "revisionDate"
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str) and value.startswith("2."):
            return decrypt_type2(key, value).decode()
        return value

    return dict(walk(cipher))


def _bw_totp(vault: WritableVault, item_id: str) -> tuple[str, float, float]:
    """``bw get totp`` by a separately logged-in CLI, after ``bw sync``."""
    vault.cli_keyed.run("sync")
    before = time.time()
    code = vault.cli_keyed.run("get", "totp", item_id).stdout.strip()
    return code, before, time.time()


def _assert_bw_shows(vault: WritableVault, item_id: str, secret: str) -> None:
    code, before, after = _bw_totp(vault, item_id)
    expected = {code_at(secret, before).code, code_at(secret, after).code}
    assert code in expected, f"bw get totp printed {code!r}, the stored secret gives {expected}"


def _vaults(backend: BitwardenBackend) -> Vaults:
    return Vaults(backends=[backend], env={})


@pytest.fixture
def serve_backend(bw_serve_writable: str) -> BitwardenBackend:
    return BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": bw_serve_writable})


@pytest.mark.slow  # real bw serve writes and bw runs (~20 s)
def test_bw_serve_write_is_read_by_bw(
    bitwarden_writable: WritableVault, bw_serve_writable: str, serve_backend: BitwardenBackend
) -> None:
    item_id = _create(bw_serve_writable, "Serve Target")
    before = _decrypted(bitwarden_writable.server, item_id)
    vaults = _vaults(serve_backend)
    cred = vaults.set_totp(f"bitwarden://{item_id}", URI)
    assert cred.totp is not None and cred.totp.digits == 8
    _assert_bw_shows(bitwarden_writable, item_id, URI)
    after = _decrypted(bitwarden_writable.server, item_id)
    assert same_secret(parse_secret(after["login"].pop("totp")), parse_secret(URI))
    before["login"].pop("totp")
    assert after == before, "a field other than login.totp changed"
    with pytest.raises(TotpAlreadySet):
        vaults.set_totp(f"bitwarden://{item_id}", SECRET)

    async def replace() -> Credential:
        return await vaults.aset_totp(f"bitwarden://{item_id}", f"steam://{SECRET}", replace=True)

    assert anyio.run(replace).totp is not None
    assert bitwarden_writable.cli_keyed.run("sync").returncode == 0
    steam = bitwarden_writable.cli_keyed.run("get", "item", item_id).stdout
    assert json.loads(steam)["login"]["totp"] == f"steam://{SECRET}"


@pytest.mark.slow
def test_bw_serve_syncs_before_it_edits(
    bitwarden_writable: WritableVault, bw_serve_writable: str, serve_backend: BitwardenBackend
) -> None:
    item_id = _create(bw_serve_writable, "Stale Target")
    other = bitwarden_writable.cli_keyed
    other.run("sync")
    edited = json.loads(other.run("get", "item", item_id).stdout)
    edited["notes"] = "edited elsewhere"
    encoded = base64.b64encode(json.dumps(edited).encode()).decode()
    other.run("edit", "item", item_id, encoded)  # a write bw serve has not synced yet
    ref = parse_reference(f"bitwarden://{item_id}")
    item = serve_backend.fetch(ref)
    stored = _decrypted(bitwarden_writable.server, item_id)
    assert stored["notes"] == "edited elsewhere"
    # bw serve syncs before it edits: the other edit is kept, the secret added
    serve_backend.store_totp(ref, item, parse_secret(SECRET))
    stored = _decrypted(bitwarden_writable.server, item_id)
    assert stored["notes"] == "edited elsewhere"
    assert stored["login"]["totp"] == SECRET  # a bare key is stored bare


@pytest.mark.slow
def test_native_write_is_read_by_bw(
    bitwarden_writable: WritableVault, bw_serve_writable: str, tmp_path: Path
) -> None:
    server = bitwarden_writable.server
    item_id = _create(bw_serve_writable, "Native Target")
    before = server.cipher(item_id)
    backend = BitwardenBackend.from_env(
        {
            "VAULTS_BITWARDEN_SERVER": server.url,
            "VAULTS_BITWARDEN_CA": str(server.ca_cert),
            "VAULTS_BITWARDEN_CACHE_DIR": str(tmp_path / "cache"),
            "BW_CLIENTID": server.client_id,
            "BW_CLIENTSECRET": server.client_secret,
            "BW_PASSWORD": server.master_password,
        }
    )
    try:
        _vaults(backend).set_totp(f"bitwarden://{item_id}", URI)
    finally:
        backend.close()
    _assert_bw_shows(bitwarden_writable, item_id, URI)
    after = server.cipher(item_id)
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {"login", "revisionDate"}, changed
    login_changed = {k for k in before["login"] if before["login"][k] != after["login"].get(k)}
    assert login_changed == {"totp"}, "only login.totp may change: other ciphertexts are kept"


def test_conflicting_edit_is_a_write_conflict() -> None:
    from vaults_bitwarden.messages import error_for_message

    message = (
        "The cipher you are updating is out of date. Please save your work, sync your vault, "
        "and try again."
    )
    error = error_for_message(message, source="bw", what="item x")
    assert isinstance(error, WriteConflict) and error.exit_code == 4


@pytest.mark.slow
def test_qr_piped_into_set_totp_shows_the_same_code_in_bw(
    bitwarden_writable: WritableVault, bw_serve_writable: str, tmp_path: Path
) -> None:
    segno = pytest.importorskip("segno")
    pytest.importorskip("zxingcpp")
    item_id = _create(bw_serve_writable, "QR Target")
    segno.make(URI, error="m").save(str(tmp_path / "setup.png"), kind="png", scale=5)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "BW_"))}
    env.update(
        VAULTS_LOAD_PLUGINS="bitwarden",
        VAULTS_BITWARDEN_URL=bw_serve_writable,
        PATH=f"{Path(VAULTS_BIN).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    ref = f"bitwarden://{item_id}"
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", f'vaults qr setup.png | vaults set-totp "{ref}" -'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert CANARY not in result.stdout + result.stderr
    bitwarden_writable.cli_keyed.run("sync")
    for _ in range(3):  # a window may turn between the two programs: then ask both again
        started = time.time()
        shown = bitwarden_writable.cli_keyed.run("get", "totp", item_id).stdout.strip()
        resolved = subprocess.run(
            [VAULTS_BIN, "resolve", ref, "--field", "code", "--min-remaining", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout.strip()
        if int(started // 30) == int(time.time() // 30):
            break
    assert shown == resolved == code_at(URI, started).code


@pytest.mark.slow
def test_cli_write_is_read_by_bw_and_keeps_the_secret_out_of_argv(
    bitwarden_writable: WritableVault,
    bw_serve_writable: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vaults_bitwarden import cli_transport

    item_id = _create(bw_serve_writable, "Argv Target")
    cli = bitwarden_writable.cli.clone(tmp_path / "appdata")
    cli.run("sync")
    seen: list[tuple[list[str], bytes | None]] = []
    real_run = cli_transport.run

    def recording(command: list[str], **kwargs: Any) -> Any:
        seen.append((list(command), kwargs.get("stdin")))
        return real_run(command, **kwargs)

    monkeypatch.setattr(cli_transport, "run", recording)
    env = {**cli.env, "VAULTS_BITWARDEN_BW": str(cli.binary)}
    backend = BitwardenBackend.from_env(env)
    ref = parse_reference(f"bitwarden://{item_id}")
    before = _decrypted(bitwarden_writable.server, item_id)
    backend.store_totp(ref, backend.fetch(ref), parse_secret(SECRET))
    _assert_bw_shows(bitwarden_writable, item_id, SECRET)
    after = _decrypted(bitwarden_writable.server, item_id)
    assert after["login"].pop("totp") == SECRET
    before["login"].pop("totp")
    assert after == before, "a field other than login.totp changed"
    edits = [(argv, stdin) for argv, stdin in seen if argv[1:3] == ["edit", "item"]]
    assert len(edits) == 1 and edits[0][1] is not None
    assert SECRET in base64.b64decode(edits[0][1]).decode(), "the item goes on stdin"
    assert not [argv for argv, _ in seen if any(SECRET in arg for arg in argv)]
    assert backend.fetch(ref).totp_secret == parse_secret(SECRET)
