"""Every lookup rule of the op:// backend, checked over Connect REST and over the ``op`` CLI."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from vaults_onepassword.testing.fixtures import ConnectFixture, OpCliFixture
from vaults_onepassword.testing.otp_oracle import current_code
from vaults_onepassword.testing.seed import (
    AWS_SECRET,
    BANK_OTP_URI,
    CANARY,
    CONNECT_TOKEN,
    GITHUB_OTP_URI,
    QUOTED_SECRET,
    SERVER_ONLY_SECRET,
    SERVICE_ACCOUNT_TOKEN,
    SPEC_SECRET,
    base32_secret,
    default_seed,
    find_item,
    find_items,
    find_vault,
    login_item,
    make_id,
    otp_field,
)

from vaults import Vaults
from vaults.errors import (
    AmbiguousItem,
    InvalidReference,
    ItemNotFound,
    NoCode,
    VaultsError,
)
from vaults.host import make_host
from vaults.models import Credential
from vaults.testing.leaks import Exposure, assert_no_leak, error_texts

BROKEN_SECRET = f"{CANARY} is not base32!"
ID_SHAPED_TITLE = "abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def onepassword_seed() -> dict[str, Any]:
    """The default seed plus items for the OTP fallbacks and an id-shaped title."""
    seed = default_seed()
    personal = seed["vaults"][0]
    personal["items"] += [
        login_item(
            "Broken Secret With Server Code",
            "broken-user",
            f"broken-{CANARY}-pw",
            extra_fields=[
                otp_field(BROKEN_SECRET, key="broken", serverSecret=base32_secret("broken"))
            ],
        ),
        login_item(
            "Broken Secret Alone",
            "alone-user",
            f"alone-{CANARY}-pw",
            extra_fields=[otp_field(BROKEN_SECRET + " alone", key="alone")],
        ),
        login_item(
            "No Secret No Code",
            "nocode-user",
            f"nocode-{CANARY}-pw",
            extra_fields=[otp_field(None, key="nocode")],
        ),
        login_item(ID_SHAPED_TITLE, "idshaped-user", f"idshaped-{CANARY}-pw"),
    ]
    return seed


@pytest.fixture(params=["connect", "op"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(
    transport: str, request: pytest.FixtureRequest, onepassword_seed: dict[str, Any]
) -> dict[str, str]:
    if transport == "connect":
        connect: ConnectFixture = request.getfixturevalue("onepassword_connect")
        return connect.env
    op: OpCliFixture = request.getfixturevalue("op_cli")
    return op.env


@pytest.fixture
def vaults(env: dict[str, str]) -> Iterator[Vaults]:
    with Vaults(host=make_host(env={"VAULTS_LOAD_PLUGINS": "onepassword"}), env=env) as v:
        yield v


@pytest.fixture
def seed(onepassword_seed: dict[str, Any]) -> dict[str, Any]:
    return onepassword_seed


def codes_around(raw: str, started: float, ended: float) -> set[str | None]:
    return {current_code(raw, t) for t in (started - 1, started, ended, ended + 1)}


def resolve_timed(vaults: Vaults, ref: str) -> tuple[Credential, float, float]:
    started = time.time()
    cred = vaults.resolve(ref, min_remaining=0)
    return cred, started, time.time()


def error_of(call: Callable[[], object]) -> VaultsError:
    with pytest.raises(VaultsError) as caught:
        call()
    return caught.value


def failure(vaults: Vaults, ref: str) -> VaultsError:
    """The error resolving ``ref`` raises (fails the test when it resolves)."""
    return error_of(lambda: vaults.resolve(ref))


# -- whole credentials ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "username", "raw"),
    [
        ("GitHub", "octocat@example.com", GITHUB_OTP_URI),  # otpauth URI in a section
        ("AWS Console", "root@example.com", AWS_SECRET),  # raw base32, top level, spaced
        ("Bank", "jane", BANK_OTP_URI),  # SHA512, 8 digits
        ("Spec TOTP", "spec-user", SPEC_SECRET),  # type "TOTP" (the spec's spelling)
        ('Mock "Quot\'d" Server', "jamesbond", QUOTED_SECRET),  # quotes in the title
    ],
)
def test_whole_credential_with_a_locally_computed_code(
    vaults: Vaults, seed: dict[str, Any], title: str, username: str, raw: str
) -> None:
    cred, started, ended = resolve_timed(vaults, f"op://Personal/{title}")
    item = find_item(seed, "Personal", title)
    assert (cred.vault, cred.id, cred.name) == ("op", item["id"], title)
    assert cred.username == username
    assert cred.password is not None
    assert cred.password.get_secret_value() == next(
        f["value"] for f in item["fields"] if f.get("purpose") == "PASSWORD"
    )
    assert cred.totp_source == "vault"  # from the secret, not the server's code
    assert cred.totp_secret is not None
    assert cred.totp is not None and cred.totp.code in codes_around(raw, started, ended)
    assert cred.ref == f"op://Personal/{title}"


def test_username_and_password_come_from_purpose_not_label(vaults: Vaults) -> None:
    cred = vaults.resolve("op://Personal/AWS Console")
    assert cred.username == "root@example.com"  # label "account email", purpose USERNAME
    decoy = cred.field("username")  # a section field labelled "username"
    assert decoy is not None and decoy.value is not None
    assert decoy.value.get_secret_value() == "decoy-iam-user"
    assert decoy.section == "IAM"
    assert cred.uris == ["https://console.aws.amazon.com"]


def test_item_without_otp_has_no_code(vaults: Vaults) -> None:
    cred = vaults.resolve("op://Personal/Forum")
    assert cred.totp is None and cred.totp_secret is None and cred.totp_source is None
    notes = cred.field("notesPlain")
    assert notes is not None and notes.value is None  # notesPlain without value


def test_server_code_is_used_only_when_no_secret_is_readable(vaults: Vaults) -> None:
    for title, secret in [
        ("Server Code Only", SERVER_ONLY_SECRET),  # OTP field without a value
        ("Broken Secret With Server Code", base32_secret("broken")),  # unreadable value
    ]:
        cred, started, ended = resolve_timed(vaults, f"op://Personal/{title}")
        assert cred.totp_source == "server", title
        assert cred.totp_secret is None
        assert cred.totp is not None and cred.totp.code in codes_around(secret, started, ended)


def test_unreadable_secret_without_server_code_keeps_the_login(vaults: Vaults) -> None:
    cred = vaults.resolve("op://Personal/Broken Secret Alone")
    assert cred.totp is None and cred.totp_secret is None and cred.totp_error is not None
    assert "Broken Secret Alone" in cred.totp_error
    assert_no_leak([Exposure("totp_error", cred.totp_error)], [BROKEN_SECRET, CANARY])


def test_otp_field_without_secret_or_code_keeps_the_login(vaults: Vaults) -> None:
    cred = vaults.resolve("op://Personal/No Secret No Code")
    assert cred.totp is None and cred.totp_error is not None
    assert "1Password computed no code" in cred.totp_error


# -- field references ----------------------------------------------------------------------
def test_field_reference_returns_that_field(vaults: Vaults) -> None:
    cred = vaults.resolve("op://Personal/GitHub/username")
    assert [f.name for f in cred.fields] == ["username"]
    assert cred.username == "octocat@example.com"
    assert cred.password is None and cred.totp is None
    password = vaults.resolve("op://Personal/GitHub/password")
    assert password.password is not None
    assert password.password.get_secret_value() == f"gh-{CANARY}-pw"
    assert password.fields[0].public_dict()["value"] == "********"  # concealed stays masked


def test_field_id_beats_a_label_elsewhere(vaults: Vaults) -> None:
    """``username`` is the built-in field's id; a section field is labelled ``username``."""
    assert vaults.resolve("op://Personal/AWS Console/username").username == "root@example.com"
    decoy = vaults.resolve("op://Personal/AWS Console/IAM/username").fields[0]
    assert decoy.value is not None and decoy.value.get_secret_value() == "decoy-iam-user"


def test_duplicate_labels_are_ambiguous_until_the_section_is_named(
    vaults: Vaults, seed: dict[str, Any]
) -> None:
    error = error_of(lambda: vaults.resolve("op://Personal/Duplicate Labels/pin"))
    assert isinstance(error, AmbiguousItem)
    assert set(error.candidates) == {make_id("field:pin-home"), make_id("field:pin-office")}
    assert "Home" in error.message and "Office" in error.message
    assert_no_leak(error_texts("error", error), [f"home-pin-{CANARY}", f"office-pin-{CANARY}"])
    home = vaults.resolve("op://Personal/Duplicate Labels/Home/pin").fields[0]
    assert home.value is not None and home.value.get_secret_value() == f"home-pin-{CANARY}"
    office = vaults.resolve("op://Personal/Duplicate Labels/office/pin").fields[0]  # any case
    assert office.value is not None and office.value.get_secret_value() == f"office-pin-{CANARY}"


def test_labels_match_case_insensitively_and_unlabeled_sections_by_id(vaults: Vaults) -> None:
    door = vaults.resolve("op://Personal/Duplicate Labels/DOOR CODE").fields[0]
    assert door.value is not None and door.value.get_secret_value() == "4321"
    section_id = make_id("section:unlabeled")
    by_id = vaults.resolve(f"op://Personal/Duplicate Labels/{section_id}/door code").fields[0]
    assert by_id.id == door.id


def test_unknown_field_or_section_is_not_found(vaults: Vaults) -> None:
    for ref in ["op://Personal/GitHub/nope", "op://Personal/GitHub/Nowhere/username"]:
        error = failure(vaults, ref)
        assert isinstance(error, ItemNotFound), ref
        assert error.exit_code == 1


@pytest.mark.parametrize("attribute", ["otp", "totp", "OTP"])
def test_attribute_otp_returns_the_current_code(vaults: Vaults, attribute: str) -> None:
    for ref in [
        f"op://Personal/GitHub/one-time password?attribute={attribute}",
        f"op://Personal/GitHub/add more/one-time password?attribute={attribute}",
        f"op://Personal/GitHub?attribute={attribute}",
    ]:
        cred, started, ended = resolve_timed(vaults, ref)
        assert cred.totp is not None and cred.totp.code in codes_around(
            GITHUB_OTP_URI, started, ended
        )
        assert cred.username is None and cred.password is None and cred.fields == []


def test_otp_field_reference_without_attribute_carries_code_and_masked_field(
    vaults: Vaults,
) -> None:
    cred = vaults.resolve("op://Personal/AWS Console/one-time password")
    assert cred.totp is not None
    assert [f.type for f in cred.fields] == ["otp"]
    assert cred.fields[0].public_dict()["value"] == "********"


def test_attribute_otp_on_something_without_otp_is_no_code(vaults: Vaults) -> None:
    for ref in ["op://Personal/Forum?attribute=otp", "op://Personal/GitHub/username?attribute=otp"]:
        assert isinstance(failure(vaults, ref), NoCode), ref


# -- item lookup -------------------------------------------------------------------------
def test_ids_work_for_vault_and_item(vaults: Vaults, seed: dict[str, Any]) -> None:
    vault_id = find_vault(seed, "Work")["id"]
    item_id = find_item(seed, "Work", "VPN")["id"]
    for ref in [f"op://{vault_id}/{item_id}", f"op://Work/{item_id}", f"op://{vault_id}/VPN"]:
        assert vaults.resolve(ref).id == item_id, ref


def test_an_id_shaped_title_is_found(vaults: Vaults, seed: dict[str, Any]) -> None:
    cred = vaults.resolve(f"op://Personal/{ID_SHAPED_TITLE}")
    assert cred.id == find_item(seed, "Personal", ID_SHAPED_TITLE)["id"]


def test_duplicate_titles_are_ambiguous_with_their_ids(
    vaults: Vaults, seed: dict[str, Any]
) -> None:
    error = error_of(lambda: vaults.resolve("op://Personal/Shared Login"))
    assert isinstance(error, AmbiguousItem)
    assert error.exit_code == 1
    expected = {i["id"] for i in find_items(seed, "Personal", "Shared Login")}
    assert set(error.candidates) == expected
    one = sorted(expected)[0]
    assert vaults.resolve(f"op://Personal/{one}").id == one


def test_archived_items_are_not_returned(vaults: Vaults, seed: dict[str, Any]) -> None:
    archived = find_item(seed, "Personal", "Old Login")["id"]
    for ref in ["op://Personal/Old Login", f"op://Personal/{archived}"]:
        error = failure(vaults, ref)
        assert isinstance(error, ItemNotFound), ref


def test_missing_items_and_vaults_are_not_found_not_auth_errors(vaults: Vaults) -> None:
    for ref, named in [
        ("op://Personal/No Such Item", "No Such Item"),
        ("op://No Such Vault/GitHub", "No Such Vault"),
        ("op://Restricted/Root Account", "Restricted"),  # outside the token's scope
        (f"op://Personal/{'q' * 26}", "q" * 26),
    ]:
        error = failure(vaults, ref)
        assert type(error) is ItemNotFound, (ref, error)
        assert error.exit_code == 1
        assert named in error.message


def test_invalid_references_are_rejected_before_any_lookup(vaults: Vaults) -> None:
    for ref in ["op://GitHub", "op://Personal/GitHub/a/b/c", "op://Personal//x", "op://P/I?x=1"]:
        error = failure(vaults, ref)
        assert isinstance(error, InvalidReference), ref
        assert error.exit_code == 2


def test_default_vault_allows_item_only_references(env: dict[str, str]) -> None:
    with Vaults(env=dict(env, VAULTS_ONEPASSWORD_VAULT="Work")) as vaults:
        assert vaults.resolve("op://VPN").username == "worker"
        assert vaults.resolve("op://Personal/Forum").username == "forum-user"


# -- batches, async ----------------------------------------------------------------------
BATCH = [
    "op://Personal/GitHub",
    "op://Work/VPN",
    "op://Personal/Shared Login",
    "op://Personal/GitHub/username",
    "op://Nope/Nothing",
    "op://Personal/Bank?attribute=otp",
    "op://Personal/Forum",
    "op://GitHub",
]
BATCH_EXPECTED: list[type[VaultsError] | str] = [
    "GitHub",
    "VPN",
    AmbiguousItem,
    "GitHub",
    ItemNotFound,
    "Bank",
    "Forum",
    InvalidReference,
]


def check_batch(results: list[Credential | VaultsError]) -> None:
    assert len(results) == len(BATCH_EXPECTED)
    for ref, expected, result in zip(BATCH, BATCH_EXPECTED, results, strict=True):
        if isinstance(expected, str):
            assert isinstance(result, Credential), (ref, result)
            assert result.name == expected
            assert result.ref == ref
        else:
            assert isinstance(result, expected), (ref, result)


def test_resolve_many_keeps_order_and_failures(vaults: Vaults) -> None:
    check_batch(vaults.resolve_many(BATCH))


def test_aresolve_and_aresolve_many(vaults: Vaults) -> None:
    async def run() -> tuple[Credential, list[Credential | VaultsError]]:
        one = await vaults.aresolve("op://Personal/GitHub")
        return one, await vaults.aresolve_many(BATCH)

    one, many = anyio.run(run)
    assert one.username == "octocat@example.com" and one.totp is not None
    check_batch(many)


# -- secrets never leak ----------------------------------------------------------------------
def test_no_secret_in_any_error_or_credential_text(
    vaults: Vaults, seed: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    refs = [
        *BATCH,
        "op://Restricted/Root Account",
        "op://Personal/Duplicate Labels/pin",
        "op://Personal/Broken Secret Alone",
        "op://Personal/No Secret No Code",
        "op://Personal/GitHub/nope",
        "op://Personal/Duplicate Labels/Home/pin",
        "op://Personal/AWS Console",
    ]
    exposures: list[Exposure] = []
    for index, result in enumerate(vaults.resolve_many(refs)):
        if isinstance(result, VaultsError):
            exposures += error_texts(f"result {index}", result)
        else:
            exposures += [
                Exposure(f"repr {index}", repr(result)),
                Exposure(f"json {index}", result.model_dump_json()),
                Exposure(f"public {index}", str(result.public_dict())),
            ]
    exposures += [Exposure(r.name, r.getMessage()) for r in caplog.records]
    secrets = [CONNECT_TOKEN, SERVICE_ACCOUNT_TOKEN, BROKEN_SECRET, CANARY]
    secrets += [AWS_SECRET, SPEC_SECRET, GITHUB_OTP_URI, BANK_OTP_URI]
    assert_no_leak(exposures, secrets)
