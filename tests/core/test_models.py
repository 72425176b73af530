"""Models keep secrets out of repr/str/JSON/public_dict; reveal shows them."""

from __future__ import annotations

import json
import pickle

import pytest
from pydantic import SecretStr, ValidationError

from tests.core.conftest import CANARY, CANARY_PASSWORD, CANARY_SECRET, no_leak
from vaults.models import MASK, Credential, CustomField, TotpCode, TotpSecret
from vaults.totp import code_at, parse_secret

HIDDEN_VALUE = f"hidden-{CANARY}-value"


def make_credential() -> Credential:
    secret = parse_secret(f"otpauth://totp/Acme:alice?secret={CANARY_SECRET}&issuer=Acme")
    return Credential(
        vault="dict",
        id="42",
        name="Acme",
        username="alice",
        password=SecretStr(CANARY_PASSWORD),
        uris=["https://acme.example.test/login"],
        fields=[
            CustomField(name="api key", value=SecretStr(HIDDEN_VALUE), type="hidden"),
            CustomField(name="recovery", value=SecretStr(f"otp-{CANARY}"), type="otp"),
            CustomField(name="note", value=SecretStr("visible note"), type="text"),
            CustomField(name="empty", value=None, type="hidden"),
        ],
        totp=code_at(secret, 1_700_000_000),
        totp_source="vault",
        ref="dict://Acme",
        totp_secret=secret,
    )


def renderings(obj: Credential | TotpSecret | TotpCode | CustomField) -> list[str]:
    out = [repr(obj), str(obj), obj.model_dump_json(), repr(obj.model_dump())]
    public = getattr(obj, "public_dict", None)
    if public is not None:
        out.append(json.dumps(public(), ensure_ascii=False))
    return out


def test_credential_hides_every_secret() -> None:
    cred = make_credential()
    no_leak(renderings(cred), [CANARY, CANARY_SECRET, "pässwörd"])
    no_leak([f"{cred}", f"{cred!r}", json.dumps(cred.model_dump(mode="json"))], [CANARY])


def test_nested_models_hide_secrets() -> None:
    cred = make_credential()
    assert cred.totp is not None and cred.totp_secret is not None
    for obj in (cred.totp, cred.totp_secret, *cred.fields):
        no_leak(renderings(obj), [CANARY, CANARY_SECRET])


def test_totp_secret_not_serialised_at_all() -> None:
    cred = make_credential()
    assert "totp_secret" not in cred.model_dump()
    assert "totp_secret" not in cred.model_dump_json()
    assert "totp_secret" not in repr(cred)
    assert "secret" not in cred.public_dict()["totp"]


def test_public_dict_shape_masked() -> None:
    data = make_credential().public_dict()
    assert data["password"] == MASK
    assert data["totp"]["code"] == code_at(CANARY_SECRET, 1_700_000_000).code
    assert data["totp_source"] == "vault"
    assert data["ref"] == "dict://Acme"
    fields = {f["name"]: f["value"] for f in data["fields"]}
    assert fields == {"api key": MASK, "recovery": MASK, "note": "visible note", "empty": None}


def test_reveal_shows_the_secrets() -> None:
    cred = make_credential()
    data = cred.public_dict(reveal=True)
    assert data["password"] == CANARY_PASSWORD
    fields = {f["name"]: f["value"] for f in data["fields"]}
    assert fields["api key"] == HIDDEN_VALUE
    assert fields["recovery"] == f"otp-{CANARY}"
    assert CANARY_SECRET in data["totp"]["secret"]
    assert parse_secret(data["totp"]["secret"]) == cred.totp_secret
    assert cred.password is not None
    assert cred.password.get_secret_value() == CANARY_PASSWORD


def test_credential_without_secrets() -> None:
    cred = Credential(vault="dict", id="1", name="Plain")
    data = cred.public_dict()
    assert data["password"] is None and data["totp"] is None
    assert data["totp_source"] is None and data["fields"] == []  # always there (issue 14)


def test_field_lookup_is_case_insensitive() -> None:
    cred = make_credential()
    found = cred.field("API KEY")
    assert found is not None and found.name == "api key"
    assert cred.field("missing") is None


def test_models_validate() -> None:
    with pytest.raises(ValidationError):
        TotpSecret(secret=SecretStr("A"), algorithm="MD5")  # type: ignore[arg-type]
    cred = make_credential()
    with pytest.raises(ValidationError):
        cred.totp_source = "somewhere"  # type: ignore[assignment]
    with pytest.raises(ValidationError):
        code_at(CANARY_SECRET, 0).code = "000000"  # type: ignore[misc]


def test_validation_error_does_not_echo_a_password() -> None:
    with pytest.raises(ValidationError) as info:
        Credential(vault="dict", id="1", name="x", password=SecretStr(CANARY_PASSWORD), uris=3)  # type: ignore[arg-type]
    no_leak([str(info.value), repr(info.value)], [CANARY])


def test_totp_code_window_helpers() -> None:
    code = code_at(CANARY_SECRET, 1_700_000_000)
    assert code.valid_from == 1_699_999_980 and code.valid_until == 1_700_000_010
    assert code.seconds_left(1_700_000_000) == 10
    assert code.is_valid(1_699_999_980) and not code.is_valid(1_700_000_010)
    assert code.secret() is not None


def test_pickled_credential_still_hides() -> None:
    cred = pickle.loads(pickle.dumps(make_credential()))
    no_leak(renderings(cred), [CANARY])
    assert cred.password.get_secret_value() == CANARY_PASSWORD


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://u:VAULTSCANARY@pull.example:8443/code?token=VAULTSCANARY#f",
            "https://pull.example:8443/code?…",
        ),
        ("https://pull.example/code", "https://pull.example/code"),
        ("http://[broken/VAULTSCANARY", "********"),
        ("http://pull.example:99999/VAULTSCANARY", "********"),
    ],
)
def test_a_visible_totp_url_field_is_shown_without_its_tokens(url: str, shown: str) -> None:
    field = CustomField(name="totp_url", value=SecretStr(url), type="text")
    assert field.public_dict()["value"] == shown
    assert field.public_dict(reveal=True)["value"] == url
    other = CustomField(name="homepage", value=SecretStr(url), type="text")
    assert other.public_dict()["value"] == url
