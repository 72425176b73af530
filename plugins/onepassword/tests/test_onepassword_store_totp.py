"""Storing a TOTP secret in 1Password items over Connect (the test server stores the item as
sent and computes the OTP field's code itself, as Connect does) and over ``op``."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from vaults_onepassword.backend import OnePasswordBackend
from vaults_onepassword.otp_write import OTP_LABEL, with_otp
from vaults_onepassword.testing.connect_server import ConnectServer
from vaults_onepassword.testing.fixtures import make_op_cli
from vaults_onepassword.testing.seed import (
    CONNECT_TOKEN,
    default_seed,
    find_item,
    read_seed,
)

from vaults import Vaults
from vaults.errors import InvalidInput, TotpAlreadySet
from vaults.totp import code_at, parse_secret

KEY_CANARY = "VAULTSCANARY"  # the seed's CANARY is not base32
SECRET = f"{KEY_CANARY}OPSTOREDSECRET234567"
URI = (
    f"otpauth://totp/Forum:forum-user?secret={KEY_CANARY}OPOTPAUTHSHAFIVEXYZ2"
    "&issuer=Forum&algorithm=SHA512&digits=8&period=30"
)


@pytest.fixture
def server() -> Iterator[ConnectServer]:
    with ConnectServer(default_seed()) as running:
        yield running


def _vaults(server: ConnectServer) -> Vaults:
    backend = OnePasswordBackend.from_env(
        {"OP_CONNECT_HOST": server.url, "OP_CONNECT_TOKEN": CONNECT_TOKEN}
    )
    return Vaults(backends=[backend], env={})


def test_connect_adds_an_otp_field_as_1password_shapes_it(server: ConnectServer) -> None:
    before = find_item(server.seed, "Personal", "Forum")
    assert not [f for f in before["fields"] if f["type"] == "OTP"]
    with _vaults(server) as vaults:
        cred = vaults.set_totp("op://Personal/Forum", URI)
        assert cred.totp is not None and cred.totp.digits == 8
        after = find_item(server.seed, "Personal", "Forum")
        (otp,) = [f for f in after["fields"] if f["type"] == "OTP"]
        assert re.fullmatch(r"TOTP_[a-z0-9]{26}", otp["id"])
        assert otp["label"] == OTP_LABEL
        section = next(s for s in after["sections"] if s["id"] == otp["section"]["id"])
        assert re.fullmatch(r"Section_[0-9A-F]{32}", section["id"]) and not section.get("label")
        assert parse_secret(otp["value"]).secret == parse_secret(URI).secret
        others = [f for f in after["fields"] if f is not otp]
        assert others == before["fields"], "fields other than the OTP field changed"
        assert after["version"] == before.get("version", 1) + 1
        # Connect computes the code from what was stored: the same code as ours
        started = time.time()
        vault_id = next(v["id"] for v in server.seed["vaults"] if v["name"] == "Personal")
        answer = httpx.get(
            f"{server.url}/v1/vaults/{vault_id}/items/{cred.id}",
            headers={"Authorization": f"Bearer {CONNECT_TOKEN}"},
        ).json()
        (served,) = [f for f in answer["fields"] if f["type"] == "OTP"]
        assert served["totp"] in {code_at(URI, started).code, code_at(URI, time.time()).code}
        with pytest.raises(TotpAlreadySet):
            vaults.set_totp("op://Personal/Forum", SECRET)
        vaults.set_totp("op://Personal/Forum", SECRET, replace=True)
        replaced = find_item(server.seed, "Personal", "Forum")
        (otp_again,) = [f for f in replaced["fields"] if f["type"] == "OTP"]
        assert otp_again["id"] == otp["id"], "the existing OTP field is updated in place"
        assert parse_secret(otp_again["value"]).secret == parse_secret(SECRET).secret
    assert server.errors == []


def test_with_otp_keeps_everything_else() -> None:
    item = {
        "id": "x",
        "unmodelled": {"kept": True},
        "sections": [{"id": "linked items", "label": "Related Items"}, {"id": "add more"}],
        "fields": [{"id": "username", "type": "STRING", "value": "u", "purpose": "USERNAME"}],
    }
    added = with_otp(item, "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", "item x")
    assert added["unmodelled"] == {"kept": True} and added["fields"][0] == item["fields"][0]
    assert added["fields"][1]["section"] == {"id": "add more"}  # the unnamed section is reused
    assert len(added["sections"]) == 2
    removed = with_otp(added, None, "item x")
    assert removed["fields"] == item["fields"]
    two = {**added, "fields": [*added["fields"], dict(added["fields"][1], id="TOTP_other")]}
    with pytest.raises(InvalidInput, match="2 one-time password fields"):
        with_otp(two, "JBSWY3DPEHPK3PXP", "item x")


def test_op_writes_through_a_template_on_stdin(tmp_path: Path) -> None:
    op = make_op_cli(default_seed(), tmp_path)
    backend = OnePasswordBackend.from_env(op.env)
    assert backend.transport.name == "op"
    with Vaults(backends=[backend], env={}) as vaults:
        cred = vaults.set_totp("op://Personal/Forum", URI)
        assert cred.totp is not None and cred.totp.digits == 8
    stored = find_item(read_seed(op.seed_path), "Personal", "Forum")
    (otp,) = [f for f in stored["fields"] if f["type"] == "OTP"]
    assert otp["label"] == OTP_LABEL
    assert parse_secret(otp["value"]).secret == parse_secret(URI).secret
    calls = [json.loads(line)["argv"] for line in op.log_path.read_text().splitlines()]
    edits = [argv for argv in calls if argv[:2] == ["item", "edit"]]
    assert len(edits) == 1 and "--template=/dev/stdin" in edits[0]
    secret = parse_secret(URI).secret.get_secret_value()
    assert not [argv for argv in calls if any(secret in arg for arg in argv)], "secret in argv"
