"""``vaults codes push|list|wait|extract|pull`` through the real ``vaults`` command group."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vaults.cli.main import cli
from vaults.codes.inbox import Inbox
from vaults.host import PluginHost

EMAIL = "Your Acme verification code is 731946."


@pytest.fixture
def runner(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("VAULTS_STORE", sqlite_url)
    monkeypatch.setenv("VAULTS_LOAD_PLUGINS", "")  # the built-in extractor only
    return CliRunner()


def run(runner: CliRunner, *args: str, stdin: str | None = None) -> Any:
    return runner.invoke(cli, ["codes", *args], input=stdin, catch_exceptions=False)


def test_push_from_stdin_then_wait_prints_only_the_code(runner: CliRunner) -> None:
    pushed = run(
        runner, "push", "--identifier", "User@Example.com", "--source", "email", stdin=EMAIL
    )
    assert pushed.exit_code == 0, pushed.output
    assert "stored code for User@Example.com" in pushed.output
    waited = run(runner, "wait", "--identifier", "user@example.com", "--timeout", "1")
    assert waited.exit_code == 0
    assert waited.stdout == "731946\n"


def test_push_with_content_and_json(runner: CliRunner) -> None:
    result = run(
        runner,
        "push",
        "-i",
        "a@example.com",
        "--content",
        "Sign in: https://example.com/magic?token=Zx81kQ2mN4pL7vR9abcd",
        "--task-id",
        "t1",
        "--workflow-run-id",
        "wr_1",
        "--json",
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["otp_type"] == "magic_link"
    assert (data["task_id"], data["workflow_run_id"]) == ("t1", "wr_1")
    waited = run(runner, "wait", "-i", "a@example.com", "--timeout", "0", "--json")
    assert json.loads(waited.stdout)["value"] == data["value"]
    link = run(runner, "wait", "-i", "a@example.com", "--timeout", "0")
    assert link.stdout == "https://example.com/magic?token=Zx81kQ2mN4pL7vR9abcd\n"


def test_list_human_and_json(runner: CliRunner) -> None:
    run(runner, "push", "-i", "a@example.com", "--content", "Your code is 100001")
    run(runner, "push", "-i", "b@example.com", "--content", "Your code is 200002")
    human = run(runner, "list")
    assert human.exit_code == 0
    lines = human.stdout.splitlines()
    assert len(lines) == 2 and "200002" in lines[0] and "100001" in lines[1]
    assert "active" in lines[0]
    data = json.loads(run(runner, "list", "--identifier", "A@example.com", "--json").stdout)
    assert [item["value"] for item in data] == ["100001"]
    assert json.loads(run(runner, "list", "--otp-type", "magic_link", "--json").stdout) == []
    assert len(json.loads(run(runner, "list", "--limit", "1", "--json").stdout)) == 1
    assert json.loads(run(runner, "list", "--workflow-run-id", "none", "--json").stdout) == []


def test_list_limit_out_of_range_is_a_usage_error(runner: CliRunner) -> None:
    assert run(runner, "list", "--limit", "201").exit_code == 2
    assert run(runner, "list", "--limit", "0").exit_code == 2


def test_consume_flag(runner: CliRunner) -> None:
    run(runner, "push", "-i", "a@example.com", "--content", EMAIL)
    assert run(runner, "wait", "-i", "a@example.com", "--consume", "--timeout", "0").exit_code == 0
    again = run(runner, "wait", "-i", "a@example.com", "--timeout", "0")
    assert again.exit_code == 1


def test_wait_timeout_exits_1_with_one_line(runner: CliRunner) -> None:
    result = run(runner, "wait", "-i", "a@example.com", "--timeout", "0.2", "--interval", "0.05")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: no code for 'a@example.com' arrived within 0.2 s"


def test_wait_since_filters_older_codes(runner: CliRunner) -> None:
    run(runner, "push", "-i", "a@example.com", "--content", EMAIL)
    later = str(time.time() + 1)
    assert (
        run(runner, "wait", "-i", "a@example.com", "--since", later, "--timeout", "0").exit_code
        == 1
    )


def test_push_without_a_code_exits_1(runner: CliRunner) -> None:
    result = run(runner, "push", "-i", "a@example.com", stdin="Thanks for your order")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no one-time code")


def test_bad_input_exits_2(runner: CliRunner) -> None:
    assert run(runner, "push", "-i", " ", "--content", EMAIL).exit_code == 2
    assert run(runner, "push", "-i", "a@example.com", "--source", "fax", stdin=EMAIL).exit_code == 2
    result = run(runner, "list", "--store", "mysql://u:pw-canary@127.0.0.1/x")
    assert result.exit_code == 2
    assert "pw-canary" not in result.output
    bad_port = run(runner, "pull", "--url", "http://127.0.0.1:99999/t", "--api-key", "k")
    assert bad_port.exit_code == 2
    assert bad_port.stderr.startswith("error: the pull URL is malformed")


def test_unreachable_store_exits_4(runner: CliRunner, free_port: int) -> None:
    url = f"postgresql://u:pw-canary-x9@127.0.0.1:{free_port}/db"
    result = run(runner, "list", "--store", url)
    assert result.exit_code == 4
    assert result.stderr.startswith("error: the code store postgresql://u:***@127.0.0.1")
    assert "pw-canary-x9" not in result.output


def test_extract(runner: CliRunner) -> None:
    result = run(runner, "extract", stdin="Your Acme code: 905 118")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"otp_type": "totp", "code": "905118", "value": "905118"}
    link = run(
        runner,
        "extract",
        "--source",
        "email",
        stdin="Sign in: https://example.com/magic?token=Zx81kQ2mN4pL7vR9abcd",
    )
    assert json.loads(link.stdout)["otp_type"] == "magic_link"
    nothing = run(runner, "extract", stdin="Lunch at noon?")
    assert nothing.exit_code == 1
    assert nothing.stdout == ""


def test_pull(runner: CliRunner, pull_endpoint: Any) -> None:
    pull_endpoint.answers = [(200, {}), (200, {"verification_code": "Your code is 661204"})]
    args = ["pull", "--url", pull_endpoint.url, "--task-id", "t1", "--interval", "0.05"]
    result = runner.invoke(
        cli,
        ["codes", *args, "--timeout", "5"],
        env={"VAULTS_PULL_API_KEY": pull_endpoint.api_key},
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "661204\n"
    assert json.loads(pull_endpoint.seen[0].body)["task_id"] == "t1"
    wrong = run(runner, *args, "--api-key", "wrong", "--timeout", "5")
    assert wrong.exit_code == 3


def test_pull_sends_the_environment_key_only_where_allowed(
    runner: CliRunner, pull_endpoint: Any
) -> None:
    pull_endpoint.answers = [(200, {"verification_code": "Your code is 661204"})]
    args = ["codes", "pull", "--url", pull_endpoint.url, "--interval", "0.05", "--timeout", "5"]
    env = {
        "VAULTS_PULL_API_KEY": pull_endpoint.api_key,
        "VAULTS_PULL_ALLOWED": "https://codes.example.test/",
    }
    refused = runner.invoke(cli, args, env=env)
    assert refused.exit_code == 2, refused.output
    assert "is not in VAULTS_PULL_ALLOWED, so VAULTS_PULL_API_KEY is not sent" in refused.stderr
    assert pull_endpoint.api_key not in refused.output
    assert pull_endpoint.seen == []  # nothing was sent
    given = runner.invoke(cli, [*args, "--api-key", pull_endpoint.api_key], env=env)
    assert given.exit_code == 0, given.output
    allowed = runner.invoke(cli, args, env={**env, "VAULTS_PULL_ALLOWED": pull_endpoint.url})
    assert allowed.exit_code == 0, allowed.output


def test_pull_timeout_exits_1(runner: CliRunner, pull_endpoint: Any) -> None:
    result = run(
        runner,
        "pull",
        "--url",
        pull_endpoint.url,
        "--api-key",
        pull_endpoint.api_key,
        "--interval",
        "0.05",
        "--timeout",
        "0.2",
    )
    assert result.exit_code == 1
    assert "gave no code" in result.stderr


def test_wait_shows_a_countdown_on_a_terminal(
    sqlite_url: str, codes_host: PluginHost, tmp_path: Path
) -> None:
    leader, follower = pty.openpty()
    env = {**os.environ, "VAULTS_STORE": sqlite_url, "VAULTS_LOAD_PLUGINS": ""}
    child = subprocess.Popen(
        [sys.executable, "-m", "vaults.cli.main", "codes", "wait", "-i", "a@example.com"],
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    seen = b""
    try:
        deadline = time.monotonic() + 10
        while b"left" not in seen and time.monotonic() < deadline:
            if select.select([leader], [], [], 0.1)[0]:
                seen += os.read(leader, 4096)
        assert b"waiting for a code for a@example.com" in seen, seen
        assert b"15:00 left" in seen or b"14:59 left" in seen, seen
        with Inbox(sqlite_url, host=codes_host) as inbox:
            inbox.push("a@example.com", EMAIL)
        assert child.wait(10) == 0, seen
        while select.select([leader], [], [], 0.2)[0]:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        os.close(leader)
    assert seen.rstrip().endswith(b"731946"), seen


def test_json_uses_the_http_api_names_with_aliases(runner: CliRunner) -> None:
    """One vocabulary: the HTTP API's names (GET /v1/credentials/totp), plus documented aliases."""
    pushed = run(
        runner,
        "push",
        "--identifier",
        "names@example.com",
        "--source",
        "sms",
        "--json",
        stdin="Your code is 246810",
    )
    data = json.loads(pushed.stdout)
    assert data["code"] == data["value"] == "246810"
    assert data["totp_code_id"] == data["id"] and data["totp_identifier"] == "names@example.com"
    assert data["expired_at"] == data["expires_at"] and data["source"] == "phone"
