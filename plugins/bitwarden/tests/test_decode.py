"""Item JSON -> Credential: every login shape, empty-means-absent, custom fields, TOTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from vaults_bitwarden.decode import decode_item

from vaults.errors import ItemNotFound, VaultUnavailable
from vaults.totp import code_at

if TYPE_CHECKING:
    from conftest import ItemFactory


def test_plain_login(make_item: ItemFactory) -> None:
    item = make_item("Plain", username="bob", password="s3cret", uris=["https://a.example/"])
    cred = decode_item(item)
    assert (cred.vault, cred.id, cred.name, cred.username) == (
        "bitwarden",
        item["id"],
        "Plain",
        "bob",
    )
    assert cred.password is not None and cred.password.get_secret_value() == "s3cret"
    assert cred.uris == ["https://a.example/"]
    assert cred.totp is None and cred.totp_secret is None
    assert "s3cret" not in repr(cred)


@pytest.mark.parametrize("empty", ["", None])
def test_empty_strings_and_nulls_mean_absent(empty: str | None, make_item: ItemFactory) -> None:
    item = make_item("E", username=empty, password=empty, totp=empty, uris=[])
    item["login"]["uris"] = [{"uri": empty, "match": None}]
    cred = decode_item(item)
    assert (cred.username, cred.password, cred.totp_secret, cred.uris) == (None, None, None, [])


def test_whitespace_totp_means_absent(make_item: ItemFactory) -> None:
    assert decode_item(make_item("W", totp="   ")).totp_secret is None


def test_raw_base32_totp(make_item: ItemFactory) -> None:
    cred = decode_item(make_item("R", totp="jbsw y3dp ehpk 3pxp"))
    assert cred.totp_secret is not None
    assert cred.totp_secret.secret.get_secret_value() == "JBSWY3DPEHPK3PXP"
    # RFC 6238-style check against an independently known value of this secret
    assert code_at(cred.totp_secret, 0).code == code_at("JBSWY3DPEHPK3PXP", 0).code


def test_otpauth_sha256_8_digits_60s(make_item: ItemFactory) -> None:
    uri = (
        "otpauth://totp/Ex:alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        "&algorithm=SHA256&digits=8&period=60&issuer=Ex"
    )
    secret = decode_item(make_item("O", totp=uri)).totp_secret
    assert secret is not None
    assert (secret.algorithm, secret.digits, secret.period) == ("SHA256", 8, 60)
    assert len(code_at(secret, 1_700_000_000).code) == 8


def test_steam(make_item: ItemFactory) -> None:
    secret = decode_item(
        make_item("S", totp="steam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ")
    ).totp_secret
    assert secret is not None and secret.encoder == "steam" and secret.digits == 5
    code = code_at(secret, 1_700_000_000).code
    assert len(code) == 5 and set(code) <= set("23456789BCDFGHJKMNPQRTVWXY")


@pytest.mark.parametrize(
    ("totp", "problem"),
    [
        ("!!! ??? LEAKYSECRET-0189", None),  # Bitwarden drops the junk: a code, as in its app
        ("-- !! --", "no base32 characters"),
        ("otpauth://hotp/x?secret=LEAKYSECRETAAAAA&counter=3", "HOTP"),
        ("otpauth://totp/x?secret=LEAKYSECRETAAAAA&encoder=yandex", "Yandex"),
        ("otpauth://totp/x?secret=LEAKYSECRETAAAAA&digits=12", "digits"),
    ],
)
def test_unusable_totp_keeps_the_login(
    make_item: ItemFactory, totp: str, problem: str | None
) -> None:
    item = make_item("Odd TOTP", totp=totp)
    cred = decode_item(item)
    assert cred.username is not None and cred.password is not None
    if problem is None:
        assert cred.totp_secret is not None and cred.totp_error is None
        return
    assert cred.totp_secret is None and cred.totp_error is not None
    assert problem in cred.totp_error
    assert "LEAKYSECRET" not in cred.totp_error and "LEAKYSECRET" not in repr(cred)


def test_junk_dropped_as_bitwarden_does(make_item: ItemFactory) -> None:
    secret = decode_item(make_item("K", totp="KAKFJWOSFJ12NWL")).totp_secret
    assert secret is not None and code_at(secret, 1672531200).code == "093430"


def test_custom_fields_of_every_type(make_item: ItemFactory) -> None:
    item = make_item(
        "F",
        fields=[
            {"name": "region", "value": "eu", "type": 0, "linkedId": None},
            {"name": "api_key", "value": "hidden-value", "type": 1, "linkedId": None},
            {"name": "is_admin", "value": "true", "type": 2, "linkedId": None},
            {"name": "Linked pw", "value": None, "type": 3, "linkedId": 101},
            {"name": "Linked user", "value": None, "type": 3, "linkedId": 100},
            {"name": "empty", "value": "", "type": 0, "linkedId": None},
            {"name": None, "value": "v", "type": 0, "linkedId": None},
        ],
    )
    cred = decode_item(item)
    shown = {f.name: f.public_dict() for f in cred.fields}
    assert shown["region"] == {"name": "region", "value": "eu", "type": "text", "section": None}
    assert shown["api_key"]["value"] == "********" and shown["api_key"]["type"] == "hidden"
    assert shown["is_admin"]["value"] == "true" and shown["is_admin"]["type"] == "boolean"
    # a linked field names the login property it shows, never that property's value
    assert shown["Linked pw"]["value"] == "password" and shown["Linked pw"]["type"] == "linked"
    assert shown["Linked user"]["value"] == "username"
    assert shown["empty"]["value"] is None
    assert shown[""]["value"] == "v"
    hidden = cred.field("API_KEY")
    assert hidden is not None and hidden.value is not None
    assert hidden.value.get_secret_value() == "hidden-value"
    assert "hidden-value" not in repr(cred) and "hidden-value" not in cred.model_dump_json()


def test_secure_note_has_no_login_parts(make_item: ItemFactory) -> None:
    cred = decode_item(make_item("Note", kind=2))
    assert (cred.username, cred.password, cred.totp_secret, cred.uris) == (None, None, None, [])


def test_item_in_trash_is_not_found(make_item: ItemFactory) -> None:
    with pytest.raises(ItemNotFound, match="trash"):
        decode_item(make_item("Gone", deleted="2025-02-02T00:00:00.000Z"))


def test_item_without_id_is_a_protocol_error(make_item: ItemFactory) -> None:
    item = make_item("X")
    del item["id"]
    with pytest.raises(VaultUnavailable):
        decode_item(item)


def test_ids_are_lower_case(make_item: ItemFactory) -> None:
    item = make_item("Up", id="0B6A2B8E-5A1F-4D0C-9A3E-1F2C3D4E5F01")
    assert decode_item(item).id == "0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01"
