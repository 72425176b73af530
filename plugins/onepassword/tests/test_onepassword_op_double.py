"""The ``op`` double behaves like the documented 1Password CLI v2."""

from __future__ import annotations

import json
import re
import time

from vaults_onepassword.testing.fixtures import OpCliFixture
from vaults_onepassword.testing.otp_oracle import current_code
from vaults_onepassword.testing.seed import (
    AWS_SECRET,
    GITHUB_OTP_URI,
    SESSION_TOKEN,
    SPEC_SECRET,
    find_item,
    find_items,
    find_vault,
)

ERROR_LINE = re.compile(r"^\[ERROR\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d (?P<message>.*)$", re.DOTALL)
TOP_LEVEL_KEYS = {
    "id",
    "title",
    "version",
    "vault",
    "category",
    "last_edited_by",
    "created_at",
    "updated_at",
    "additional_information",
    "urls",
    "sections",
    "fields",
}


def error_message(stderr: str) -> str:
    match = ERROR_LINE.match(stderr.rstrip("\n"))
    assert match, stderr
    return match.group("message")


def test_item_get_prints_the_documented_json(op_cli: OpCliFixture) -> None:
    result = op_cli.run("item", "get", "GitHub", "--vault", "Personal", "--format", "json")
    assert result.returncode == 0, result.stderr
    item = json.loads(result.stdout)
    assert set(item) <= TOP_LEVEL_KEYS
    seeded = find_item(op_cli.seed, "Personal", "GitHub")
    assert item["id"] == seeded["id"]
    assert item["vault"] == {"id": find_vault(op_cli.seed, "Personal")["id"], "name": "Personal"}
    assert item["additional_information"] == "octocat@example.com"
    fields = {f["id"]: f for f in item["fields"]}
    assert fields["username"]["reference"] == "op://Personal/GitHub/username"
    assert fields["username"]["purpose"] == "USERNAME"
    assert fields["password"]["type"] == "CONCEALED"
    assert "value" not in fields["notesPlain"]
    otp = next(f for f in item["fields"] if f["type"] == "OTP")
    assert otp["id"].startswith("TOTP_")
    assert otp["value"] == GITHUB_OTP_URI
    assert otp["section"] == {"id": "add more"}
    assert otp["reference"] == "op://Personal/GitHub/add more/one-time password"
    now = time.time()
    assert otp["totp"] in {current_code(GITHUB_OTP_URI, now), current_code(GITHUB_OTP_URI, now - 2)}


def test_sections_with_labels_appear_in_fields_and_references(op_cli: OpCliFixture) -> None:
    result = op_cli.run("item", "get", "Duplicate Labels", "--vault", "Personal", "--format=json")
    item = json.loads(result.stdout)
    refs = {f["label"]: f["reference"] for f in item["fields"] if "section" in f}
    assert refs["pin"] == "op://Personal/Duplicate Labels/Home/pin"
    assert refs["PIN"] == "op://Personal/Duplicate Labels/Office/PIN"
    pin = next(f for f in item["fields"] if f["label"] == "pin")
    assert pin["section"]["label"] == "Home"


def test_items_are_found_by_id_and_vaults_by_id(op_cli: OpCliFixture) -> None:
    seeded = find_item(op_cli.seed, "Work", "VPN")
    vault_id = find_vault(op_cli.seed, "Work")["id"]
    result = op_cli.run("item", "get", seeded["id"], "--vault", vault_id, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["title"] == "VPN"


def test_raw_secret_and_spec_type(op_cli: OpCliFixture) -> None:
    aws = json.loads(
        op_cli.run("item", "get", "AWS Console", "--vault", "Personal", "--format", "json").stdout
    )
    otp = next(f for f in aws["fields"] if f["type"] == "OTP")
    assert "section" not in otp
    assert otp["value"].replace(" ", "").upper() == AWS_SECRET
    spec = json.loads(
        op_cli.run("item", "get", "Spec TOTP", "--vault", "Personal", "--format", "json").stdout
    )
    otp = next(f for f in spec["fields"] if f["id"].startswith("TOTP_"))
    assert otp["type"] == "TOTP"
    now = time.time()
    assert otp["totp"] in {current_code(SPEC_SECRET, now), current_code(SPEC_SECRET, now - 2)}


def test_unknown_item_message_and_exit_code(op_cli: OpCliFixture) -> None:
    result = op_cli.run("item", "get", "axle", "--vault", "Personal", "--format", "json")
    assert result.returncode == 1
    assert result.stdout == ""
    assert error_message(result.stderr) == (
        '"axle" isn\'t an item in the "Personal" vault. '
        "Specify the item with its UUID, name, or domain."
    )


def test_ambiguous_title_lists_the_ids(op_cli: OpCliFixture) -> None:
    result = op_cli.run("item", "get", "Shared Login", "--vault", "Personal", "--format", "json")
    assert result.returncode == 1
    message = error_message(result.stderr)
    assert message.startswith(
        'More than one item matches "Shared Login". Try again and specify the item by its ID:'
    )
    for item in find_items(op_cli.seed, "Personal", "Shared Login"):
        assert item["id"] in message


def test_archived_items_are_hidden_unless_asked_for(op_cli: OpCliFixture) -> None:
    hidden = op_cli.run("item", "get", "Old Login", "--vault", "Personal", "--format", "json")
    assert hidden.returncode == 1
    assert "isn't an item" in hidden.stderr
    shown = op_cli.run(
        "item", "get", "Old Login", "--vault", "Personal", "--format", "json", "--include-archive"
    )
    assert json.loads(shown.stdout)["title"] == "Old Login"
    env = dict(op_cli.env, OP_INCLUDE_ARCHIVE="1")
    via_env = op_cli.run("item", "get", "Old Login", "--vault", "Personal", env=env)
    assert via_env.returncode == 0


def test_vault_outside_the_service_account_scope_is_not_a_vault(op_cli: OpCliFixture) -> None:
    for vault in ("Restricted", "Nonexistent"):
        result = op_cli.run("item", "get", "Root Account", "--vault", vault)
        assert result.returncode == 1
        assert error_message(result.stderr) == (
            f'"{vault}" isn\'t a vault in this account. Specify the vault with its ID or name.'
        )


def test_service_accounts_must_name_the_vault(op_cli: OpCliFixture) -> None:
    result = op_cli.run("item", "get", "GitHub", "--format", "json")
    assert result.returncode == 1
    assert "--vault" in error_message(result.stderr)


def test_authentication_failures(op_cli: OpCliFixture) -> None:
    env = {k: v for k, v in op_cli.env.items() if k != "OP_SERVICE_ACCOUNT_TOKEN"}
    signed_out = op_cli.run("item", "get", "GitHub", "--vault", "Personal", env=env)
    assert signed_out.returncode == 1
    assert error_message(signed_out.stderr).startswith("You are not currently signed in")
    malformed = op_cli.run(
        "item", "get", "GitHub", "--vault", "Personal", env=dict(env, OP_SERVICE_ACCOUNT_TOKEN="x")
    )
    assert "DecodeSACredentials" in error_message(malformed.stderr)
    revoked = op_cli.run(
        "item",
        "get",
        "GitHub",
        "--vault",
        "Personal",
        env=dict(env, OP_SERVICE_ACCOUNT_TOKEN="ops_revoked"),
    )
    assert "(401) Unauthorized" in error_message(revoked.stderr)
    stale = op_cli.run(
        "item", "get", "GitHub", "--vault", "Personal", env=dict(env, OP_SESSION_my="stale")
    )
    assert stale.returncode == 1
    assert "session expired" in error_message(stale.stderr)


def test_a_user_session_sees_every_vault_without_vault_flag(op_cli: OpCliFixture) -> None:
    env = {k: v for k, v in op_cli.env.items() if k != "OP_SERVICE_ACCOUNT_TOKEN"}
    env["OP_SESSION_vaults_test"] = SESSION_TOKEN
    result = op_cli.run("item", "get", "Root Account", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["vault"]["name"] == "Restricted"
    unknown = op_cli.run("item", "get", "axle", env=env)
    assert error_message(unknown.stderr).startswith('"axle" isn\'t an item. Specify')


def test_otp_flag_prints_only_the_code(op_cli: OpCliFixture) -> None:
    result = op_cli.run("item", "get", "GitHub", "--vault", "Personal", "--otp")
    assert result.returncode == 0
    assert re.fullmatch(r"\d{6}\n", result.stdout)
    none = op_cli.run("item", "get", "Forum", "--vault", "Personal", "--otp")
    assert none.returncode == 1


def test_calls_are_logged_without_secrets(op_cli: OpCliFixture) -> None:
    op_cli.run("item", "get", "GitHub", "--vault", "Personal", "--format", "json")
    op_cli.run("--version")
    calls = op_cli.calls()
    assert [c["argv"][:3] for c in calls] == [["item", "get", "GitHub"], ["--version"]]
    assert calls[0]["auth_env"] == ["OP_SERVICE_ACCOUNT_TOKEN"]
    assert op_cli.token not in op_cli.log_path.read_text()


def test_delay_hook_makes_op_hang(op_cli: OpCliFixture) -> None:
    op_cli.set_delay(0.5)
    started = time.monotonic()
    result = op_cli.run("--version")
    assert result.returncode == 0
    assert time.monotonic() - started >= 0.5


def test_write_seed_changes_what_op_serves(op_cli: OpCliFixture) -> None:
    seed = op_cli.seed
    find_item(seed, "Personal", "Forum")["title"] = "Forum Renamed"
    op_cli.write_seed(seed)
    result = op_cli.run("item", "get", "Forum Renamed", "--vault", "Personal")
    assert result.returncode == 0, result.stderr


def test_unknown_commands_and_flags_fail_like_op(op_cli: OpCliFixture) -> None:
    assert op_cli.run("item", "list").returncode == 1
    result = op_cli.run("item", "get", "GitHub", "--bogus")
    assert result.returncode == 1
    assert "unknown flag" in error_message(result.stderr)
