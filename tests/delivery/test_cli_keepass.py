"""``vaults resolve`` with delivery, as a separate process over a real KeePass database whose
entries declare their delivery in custom fields; codes pushed into the shared SQLite store.
Piped output is only the JSON or the field; on a terminal, stderr shows a countdown."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.delivery.conftest import CANARY, CANARY_SECRET, no_leak, wait_for_listeners
from vaults.cli.waiting import Countdown, countdown_text
from vaults.codes.inbox import Inbox
from vaults.delivery import Waiting

keepass_testing = pytest.importorskip("vaults_keepass.testing")

VAULTS = str(Path(sys.executable).with_name("vaults"))
MASTER = f"master-{CANARY}"
EMAIL = "user@example.com"


@pytest.fixture(scope="module")
def kdbx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = keepass_testing.EntrySpec
    path = tmp_path_factory.mktemp("delivery") / "delivery.kdbx"
    keepass_testing.create_database(
        path,
        MASTER,
        [
            spec("Acme", "alice", f"pw-{CANARY}", attributes={"totp_identifier": EMAIL}),
            spec(
                "Pull",
                "bob",
                f"pw-{CANARY}",
                attributes={"totp_url": "http://127.0.0.1:9/codes", "totp_api_key": f"k-{CANARY}"},
                protected=frozenset({"totp_api_key"}),
            ),
            spec(
                "Both",
                "carol",
                f"pw-{CANARY}",
                attributes={"otp": CANARY_SECRET, "totp_identifier": EMAIL},
                protected=frozenset({"otp"}),
            ),
        ],
    )
    return path


@pytest.fixture
def env(kdbx: Path, sqlite_url: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
    return {
        **base,
        "VAULTS_LOAD_PLUGINS": "keepass",
        "VAULTS_KEEPASS_DB": str(kdbx),
        "VAULTS_KEEPASS_PASSWORD": MASTER,
        "VAULTS_STORE": sqlite_url,
        "VAULTS_PULL_ALLOW_PRIVATE": "1",  # the pull endpoints are on 127.0.0.1
    }


@pytest.fixture
def inbox(sqlite_url: str) -> Iterator[Inbox]:
    from vaults.testing.hosts import make_test_host

    with Inbox(sqlite_url, host=make_test_host()) as box:
        yield box


def start(
    env: dict[str, str], *args: str, stderr: int | None = subprocess.PIPE
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [VAULTS, "resolve", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VAULTS, "resolve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def resolve_while_pushing(
    env: dict[str, str], inbox: Inbox, sqlite_url: str, *args: str, push: str
) -> tuple[int | None, str, str]:
    """Start ``vaults resolve ARGS``, push the e-mail ``push`` once it waits; its exit code
    and output."""
    proc = start(env, *args)
    try:
        wait_for_listeners(sqlite_url)
        inbox.push(EMAIL, push, source="email")
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, err


def test_piped_field_prints_only_the_pushed_code(
    env: dict[str, str], inbox: Inbox, sqlite_url: str
) -> None:
    returncode, out, err = resolve_while_pushing(
        env,
        inbox,
        sqlite_url,
        "keepass://Acme",
        "--field",
        "code",
        "--timeout",
        "30",
        push="Your Acme sign-in code is 661 942.",
    )
    assert returncode == 0, err
    assert (out, err) == ("661942\n", "")  # no countdown when stderr is not a terminal


def test_json_names_the_source_and_masks_secrets(
    env: dict[str, str], inbox: Inbox, sqlite_url: str
) -> None:
    returncode, out, err = resolve_while_pushing(
        env,
        inbox,
        sqlite_url,
        "keepass://Acme",
        "--json",
        "--timeout",
        "30",
        push="Your Acme sign-in code is 661 943.",
    )
    assert returncode == 0, err
    data = json.loads(out)
    assert (data["username"], data["password"], data["totp_source"]) == (
        "alice",
        "********",
        "inbox",
    )
    assert data["totp"]["code"] == "661943"
    no_leak([out, err])


def test_vault_secret_wins_and_never_touches_the_store(
    env: dict[str, str], sqlite_url: str
) -> None:
    done = run(env, "keepass://Both", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totp_source"] == "vault"
    assert not Path(sqlite_url[len("sqlite:///") :]).exists()  # no store was opened


def test_timeout_exit_1_names_item_and_source(env: dict[str, str], inbox: Inbox) -> None:
    inbox.push(EMAIL, "Your code is 123123")  # stale: before the command started
    done = run(env, "keepass://Acme", "--timeout", "0.5")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "error: 'Acme' (keepass): no code for 'user@example.com' arrived within 0.5 s\n"
    )


def test_no_wait_prints_the_login_without_a_code(env: dict[str, str]) -> None:
    done = run(env, "keepass://Acme", "--no-wait")
    assert done.returncode == 0, done.stderr
    assert "username  alice" in done.stdout
    assert "code      - (no TOTP secret on this item, and no code delivered)" in done.stdout


def test_pull_without_reachable_endpoint_and_key_errors(env: dict[str, str]) -> None:
    down = run(env, "keepass://Pull", "--no-wait")
    assert down.returncode == 4 and "could not be reached" in down.stderr
    no_leak([down.stdout, down.stderr])
    no_key = run(env, "keepass://Acme", "--totp-url", "http://127.0.0.1:9/x")
    assert no_key.returncode == 2 and "VAULTS_PULL_API_KEY" in no_key.stderr


def test_terminal_shows_a_countdown_on_stderr(
    env: dict[str, str], inbox: Inbox, sqlite_url: str
) -> None:
    controller, terminal = pty.openpty()
    try:
        proc = start(env, "keepass://Acme", "--json", "--timeout", "90", stderr=terminal)
        os.close(terminal)
        terminal = -1
        wait_for_listeners(sqlite_url)
        seen = b""
        deadline = time.monotonic() + 10
        while b"left" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                seen += os.read(controller, 4096)
        inbox.push(EMAIL, "Your code is 445566")
        out, _ = proc.communicate(timeout=20)
        while True:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if not ready:
                break
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    assert proc.returncode == 0
    text = seen.decode()
    assert "\r\x1b[Kwaiting for a code for user@example.com (inbox) — 1:3" in text
    assert text.endswith("\r\x1b[K")  # the line is erased when the code came
    assert json.loads(out)["totp"]["code"] == "445566"  # stdout holds only the JSON


def test_countdown_text_and_stop_without_start() -> None:
    waiting = Waiting(source="inbox", target=EMAIL, timeout=900)
    assert countdown_text(waiting, 892.3) == (
        "waiting for a code for user@example.com (inbox) — 14:53 left"
    )
    assert countdown_text(waiting, -2).endswith("— 0:00 left")
    pulled = Waiting(source="pull", target="https://codes.example/x", timeout=60)
    assert countdown_text(pulled, 60) == (
        "waiting for a code from https://codes.example/x (pull endpoint) — 1:00 left"
    )
    import io

    stream = io.StringIO()
    Countdown(stream).stop()
    assert stream.getvalue() == ""  # nothing was waited on: nothing written
