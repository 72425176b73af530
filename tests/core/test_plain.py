"""vaults.plain: the pydantic-free twins print what the models print and hide what they hide."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vaults.models import Credential
from vaults.plain import PlainCode, PlainCredential, PlainField, Secret
from vaults.totp import code_for_entry, parse_secret
from vaults.totp_core import parse_totp

CANARY = "canary-7c1e0a"
SECRET_URI = (
    "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&issuer=Acme&digits=8&algorithm=SHA256"
)


def plain_item() -> PlainCredential:
    return PlainCredential(
        vault="demo",
        id="id-1",
        name="Acme",
        username="alice",
        password=Secret(f"pw-{CANARY}"),
        uris=["https://acme.example"],
        fields=[
            PlainField("note", Secret("visible")),
            PlainField("api key", Secret(f"key-{CANARY}"), type="hidden"),
            PlainField("totp_url", Secret(f"https://u:{CANARY}@codes.example/p?t={CANARY}")),
        ],
        totp_secret=parse_totp(SECRET_URI),
    )


def test_secret_never_prints() -> None:
    secret = Secret(CANARY)
    assert CANARY not in repr(secret) and CANARY not in str(secret) and CANARY not in f"{secret}"
    assert secret.get_secret_value() == CANARY
    assert secret == Secret(CANARY) and secret != Secret("other") and len(secret) == len(CANARY)


def test_reprs_hide_every_secret() -> None:
    item = plain_item()
    item.totp = PlainCode.for_entry(item.totp_secret or pytest.fail("no secret"), 1e9, 20)
    texts = [repr(item), str(item), repr(item.totp), repr(item.fields), repr(item.totp_secret)]
    texts.append(json.dumps(item.public_dict()))
    for text in texts:
        assert CANARY not in text and "JBSWY3DPEHPK3PXP" not in text, text
    assert item.totp.code not in repr(item.totp)


@pytest.mark.parametrize("reveal", [False, True])
@pytest.mark.parametrize("now", [1_000_000_000.0, 1_000_000_015.0])  # start and end of a window
def test_public_dict_and_codes_match_the_models(reveal: bool, now: float) -> None:
    item = plain_item()
    item.totp = PlainCode.for_entry(item.totp_secret or pytest.fail("no secret"), now, 20)
    item.totp_source = "vault"
    model = item.to_credential()
    assert isinstance(model, Credential)
    assert model.public_dict(reveal=reveal) == item.public_dict(reveal=reveal)
    expected = code_for_entry(parse_secret(SECRET_URI), now, 20)
    assert (item.totp.code, item.totp.valid_from) == (expected.code, expected.valid_from)
    assert model.totp is not None and model.totp.secret() == parse_secret(SECRET_URI)
    assert model.totp_secret == parse_secret(SECRET_URI)


def test_masked_fields_as_the_models() -> None:
    data = plain_item().public_dict()
    values = {f["name"]: f["value"] for f in data["fields"]}
    assert values["note"] == "visible"
    assert values["api key"] == "********"
    assert CANARY not in values["totp_url"] and values["totp_url"].startswith("https://")
    assert data["password"] == "********" and data["totp"] is None and data["totp_source"] is None


def test_hidden_copies_a_field() -> None:
    field = PlainField("totp_api_key", Secret(CANARY))
    assert field.hidden().type == "hidden" and field.type == "text"
    assert field.hidden().public_dict()["value"] == "********"


def test_importing_plain_imports_no_pydantic() -> None:
    code = "import sys, vaults.plain, vaults.resolver; print('pydantic' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
