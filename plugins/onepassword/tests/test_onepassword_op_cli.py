"""``op`` CLI transport: command line, authentication, error mapping, timeouts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from vaults_onepassword.backend import OnePasswordBackend
from vaults_onepassword.op_cli import op_error
from vaults_onepassword.references import ItemKey
from vaults_onepassword.testing.fixtures import OpCliFixture
from vaults_onepassword.testing.seed import CANARY, SESSION_TOKEN, find_items

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ItemNotFound,
    VaultUnavailable,
)
from vaults.models import Credential
from vaults.refs import parse_reference
from vaults.testing.leaks import assert_no_leak, error_texts

KEY = ItemKey("Personal", "GitHub")


def fetch(env: dict[str, str], ref: str) -> Credential:
    backend = OnePasswordBackend.from_env(env)
    try:
        return backend.fetch(parse_reference(ref))
    finally:
        backend.close()


def script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "fake-op"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_command_line_is_op_item_get_and_the_token_stays_in_the_environment(
    op_cli: OpCliFixture,
) -> None:
    cred = fetch(op_cli.env, "op://Personal/GitHub")
    assert cred.username == "octocat@example.com"
    (call,) = op_cli.calls()
    assert call["argv"] == ["item", "get", "--vault", "Personal", "--format", "json", "GitHub"]
    assert call["auth_env"] == ["OP_SERVICE_ACCOUNT_TOKEN"]
    assert op_cli.token not in " ".join(call["argv"])


def test_names_starting_with_a_dash_are_not_flags(op_cli: OpCliFixture) -> None:
    seed = op_cli.seed
    seed["vaults"][0]["items"][0]["title"] = "-rf"
    op_cli.write_seed(seed)
    assert fetch(op_cli.env, "op://Personal/-rf").name == "-rf"
    assert op_cli.calls()[-1]["argv"][-2:] == ["--", "-rf"]


def test_a_signed_in_session_works_without_a_service_account(op_cli: OpCliFixture) -> None:
    env = {k: v for k, v in op_cli.env.items() if k != "OP_SERVICE_ACCOUNT_TOKEN"}
    env["OP_SESSION_vaults_test"] = SESSION_TOKEN
    assert fetch(env, "op://Restricted/Root Account").username == "root"


@pytest.mark.parametrize(
    ("token", "session"),
    [(None, None), ("not-a-token", None), (f"ops_revoked-{CANARY}", None), (None, "stale")],
)
def test_authentication_failures(
    op_cli: OpCliFixture, token: str | None, session: str | None
) -> None:
    env = {k: v for k, v in op_cli.env.items() if k != "OP_SERVICE_ACCOUNT_TOKEN"}
    if token:
        env["OP_SERVICE_ACCOUNT_TOKEN"] = token
    if session:
        env["OP_SESSION_my"] = session
    with pytest.raises(AuthenticationFailed) as caught:
        fetch(env, "op://Personal/GitHub")
    assert caught.value.exit_code == 3
    assert_no_leak(error_texts("auth", caught.value), [t for t in (token, session) if t] + [CANARY])


def test_op_errors_map_to_typed_errors(op_cli: OpCliFixture) -> None:
    with pytest.raises(ItemNotFound) as missing:
        fetch(op_cli.env, "op://Personal/axle")
    assert "axle" in missing.value.message and "Personal" in missing.value.message
    with pytest.raises(ItemNotFound) as vault:
        fetch(op_cli.env, "op://Employee/axle")
    assert "Employee" in vault.value.message
    with pytest.raises(AmbiguousItem) as ambiguous:
        fetch(op_cli.env, "op://Personal/Shared Login")
    expected = {i["id"] for i in find_items(op_cli.seed, "Personal", "Shared Login")}
    assert set(ambiguous.value.candidates) == expected


def test_op_error_parsing_of_real_messages() -> None:
    stamp = "[ERROR] 2026/07/08 19:40:01 "
    cases = {
        '"axle" isn\'t an item in the "Employee" vault. Specify the item with its UUID, name, '
        "or domain.": ItemNotFound,
        '"Employee" isn\'t a vault in this account. Specify the vault with its ID or name.': (
            ItemNotFound
        ),
        "You are not currently signed in. Please run `op signin --help` for instructions": (
            AuthenticationFailed
        ),
        "failed to DecodeSACredentials: illegal base64 data at input byte 12": AuthenticationFailed,
        "no active session found for account joshuaschultz": AuthenticationFailed,
        "something else broke": VaultUnavailable,
    }
    for message, expected in cases.items():
        assert type(op_error(stamp + message + "\n", 1, KEY)) is expected, message
    ambiguous = op_error(
        stamp + 'More than one item matches "GitHub". Try again and specify the item by its ID:\n'
        '\t* for the item "GitHub" in vault Personal: aaaaaaaaaaaaaaaaaaaaaaaaaa\n'
        '\t* for the item "GitHub" in vault Personal: bbbbbbbbbbbbbbbbbbbbbbbbbb\n',
        1,
        KEY,
    )
    assert isinstance(ambiguous, AmbiguousItem)
    assert ambiguous.candidates == ("a" * 26, "b" * 26)


def test_unexpected_failures_are_vault_unavailable_and_scrubbed(
    op_cli: OpCliFixture, tmp_path: Path
) -> None:
    fake = script(
        tmp_path,
        'echo "[ERROR] 2024/01/01 00:00:00 backend exploded near $OP_SERVICE_ACCOUNT_TOKEN" >&2\n'
        "exit 2",
    )
    with pytest.raises(VaultUnavailable) as caught:
        fetch(dict(op_cli.env, VAULTS_ONEPASSWORD_OP=fake), "op://Personal/GitHub")
    assert "backend exploded" in caught.value.message and "exit 2" in caught.value.message
    assert_no_leak(error_texts("op", caught.value), [op_cli.token])


def test_output_that_is_not_json_is_vault_unavailable(op_cli: OpCliFixture, tmp_path: Path) -> None:
    fake = script(tmp_path, "echo 'Title: GitHub'")
    with pytest.raises(VaultUnavailable):
        fetch(dict(op_cli.env, VAULTS_ONEPASSWORD_OP=fake), "op://Personal/GitHub")


def test_missing_op_is_vault_unavailable(op_cli: OpCliFixture, tmp_path: Path) -> None:
    with pytest.raises(VaultUnavailable) as caught:
        fetch(dict(op_cli.env, VAULTS_ONEPASSWORD_OP=str(tmp_path / "nope")), "op://P/I")
    assert caught.value.exit_code == 4
    with pytest.raises(VaultUnavailable):
        fetch(dict(op_cli.env, PATH=str(tmp_path)), "op://P/I")


def test_a_hung_op_is_killed_after_the_timeout(op_cli: OpCliFixture) -> None:
    op_cli.set_delay(30)
    started = time.monotonic()
    with pytest.raises(VaultUnavailable) as caught:
        fetch(dict(op_cli.env, VAULTS_ONEPASSWORD_TIMEOUT="0.5"), "op://Personal/GitHub")
    assert time.monotonic() - started < 5
    assert "0.5" in caught.value.message
    (call,) = op_cli.calls()
    with pytest.raises(ProcessLookupError):
        os.kill(call["pid"], 0)  # the sleeping op is gone, not left behind


def test_batches_run_op_concurrently_once_per_distinct_item(op_cli: OpCliFixture) -> None:
    op_cli.set_delay(0.4)
    backend = OnePasswordBackend.from_env(op_cli.env)
    refs = [
        "op://Personal/GitHub",
        "op://Personal/GitHub/username",
        "op://Personal/Bank",
        "op://Work/VPN",
        "op://Personal/Forum",
    ]
    started = time.monotonic()
    results = backend.fetch_many([parse_reference(r) for r in refs])
    elapsed = time.monotonic() - started
    assert all(isinstance(r, Credential) for r in results), results
    assert len(op_cli.calls()) == 4
    assert elapsed < 4 * 0.4


def test_op_gets_an_allowlisted_environment(op_cli: OpCliFixture, tmp_path: Path) -> None:
    """Issue 12: ``op`` used to inherit every unrelated secret (``BW_PASSWORD``, API keys…)."""
    seen = tmp_path / "env.txt"
    fake = script(tmp_path, f"env > {seen}\nexit 2")
    leaked = {
        "BW_PASSWORD": "bw-password-canary",
        "BW_SESSION": "bw-session-canary",
        "VAULTS_API_KEY": "api-key-canary",
        "VAULTS_PULL_API_KEY": "pull-key-canary",
        "VAULTS_KEEPASS_PASSWORD": "kdbx-canary",
        "AWS_SECRET_ACCESS_KEY": "aws-canary",
    }
    kept = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HTTPS_PROXY": "http://127.0.0.1:3128"}
    env = {**op_cli.env, **leaked, **kept, "VAULTS_ONEPASSWORD_OP": fake}
    with pytest.raises(VaultUnavailable):
        fetch(env, "op://Personal/GitHub")
    child = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert not set(leaked) & set(child)
    assert {k: child.get(k) for k in kept} == kept
    assert child["OP_SERVICE_ACCOUNT_TOKEN"] == op_cli.token


@pytest.mark.parametrize(
    "host",
    ["http://u:pw-CANARY-1@[::1", "http://u:pw-CANARY-1@127.0.0.1:99999", "http://u:pw-CANARY-1@h"],
)
def test_a_malformed_connect_host_is_a_configuration_error_without_its_password(
    host: str,
) -> None:
    """Issue 12: every URL error is a VaultsError that never shows the URL's user part."""
    from vaults.errors import ConfigurationError

    with pytest.raises(ConfigurationError) as caught:
        fetch({"OP_CONNECT_HOST": host, "OP_CONNECT_TOKEN": "token"}, "op://Personal/GitHub")
    assert "pw-CANARY-1" not in str(caught.value) and "pw-CANARY-1" not in repr(caught.value)
