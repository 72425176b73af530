"""End to end, across processes, with the real Bitwarden plugin over the real ``bw serve``:

* a ``vaults serve`` process receives forwarded e-mails (``POST /v1/credentials/totp``);
* a ``vaults resolve bitwarden://…`` process resolves an item that has no TOTP secret but a
  ``totp_identifier`` field (or a ``totp_url`` endpoint), and waits;
* this test pushes the e-mail (or lets its signed pull endpoint answer) and measures how long
  after that the resolving process printed the credential.

Both processes share one SQLite store file (``VAULTS_STORE``).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.codes.conftest import loopback_port, own_url, send_json, serving
from tests.delivery.conftest import CANARY, no_leak, wait_for_listeners
from vaults.codes import verify_signature

bw_testing = pytest.importorskip("vaults_bitwarden.testing.cli")
from vaults_bitwarden.testing.cli import BwCli, BwServe  # noqa: E402
from vaults_bitwarden.testing.items import CustomField, FieldType, VaultItem  # noqa: E402
from vaults_bitwarden.testing.server import BitwardenTestServer  # noqa: E402

VAULTS = str(Path(sys.executable).with_name("vaults"))
SERVE_KEY = f"serve-key-{CANARY}"
PULL_KEY = f"pull-key-{CANARY}"
PASSWORD = f"pw-{CANARY}-e2e"
LATENCY_BUDGET = 1.0
"""Seconds from the push to the resolving process printing the code (typically ~10 ms)."""

INBOX_ITEM = VaultItem(
    name="Acme Delivery E2E",
    username="alice@example.com",
    password=PASSWORD,
    uris=("https://acme.example/login",),
    fields=(CustomField("totp_identifier", "alice+e2e@example.com"),),
)
PLAIN_ITEM = VaultItem(name="Acme Plain E2E", username="dave@example.com", password=PASSWORD)
PULL_ITEM_NAME = "Acme Pull E2E"


# -- processes ------------------------------------------------------------------------------
@dataclass
class Setup:
    bw_serve: str
    serve: str
    store_url: str


@dataclass
class PullServer:
    url: str
    polls: int = 0
    answer_after: int = 2
    code: str = "918273"
    answered_at: float | None = None
    bad_signatures: int = 0


@pytest.fixture(scope="module")
def pull_server() -> Iterator[PullServer]:
    """The user's endpoint: checks the signature, has no code for two polls, then answers."""
    state = PullServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            signature = self.headers.get("x-vaults-signature")
            if not verify_signature(body, signature, PULL_KEY, url=own_url(self)):
                state.bad_signatures += 1
                status, data = 401, {"detail": "bad signature"}
            else:
                state.polls += 1
                ready = state.polls > state.answer_after
                status, data = 200, ({"verification_code": state.code} if ready else {})
            send_json(self, status, json.dumps(data).encode())
            self.wfile.flush()
            if status == 200 and data:
                state.answered_at = time.monotonic()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        state.url = f"{base_url}/vaults/code"
        yield state


def _stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def setup(
    bw_cli: BwCli,
    bitwarden_server: BitwardenTestServer,
    pull_server: PullServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    work = tmp_path_factory.mktemp("delivery-e2e")
    store_url = f"sqlite:///{work / 'codes.db'}"
    pull_item = VaultItem(
        name=PULL_ITEM_NAME,
        username="erin@example.com",
        password=PASSWORD,
        fields=(
            CustomField("totp_url", pull_server.url),
            CustomField("totp_api_key", PULL_KEY, FieldType.HIDDEN),
        ),
    )
    with contextlib.ExitStack() as stack:
        for item in (INBOX_ITEM, PLAIN_ITEM, pull_item):
            stack.enter_context(bitwarden_server.temporary_item(item))
        # a private bw serve, synced so it holds the items added above
        serve_bw = stack.enter_context(
            BwServe.start(bw_cli.clone(work / "bw-appdata"), log_path=work / "bw-serve.log")
        )
        with httpx.Client(base_url=serve_bw.url, trust_env=False) as client:
            synced = client.post("/sync", timeout=60).json()
        assert synced["success"] is True, synced
        port = loopback_port()
        log = work / "serve.log"
        env = {**_base_env(), "VAULTS_API_KEY": SERVE_KEY, "VAULTS_LOAD_PLUGINS": ""}
        with log.open("w") as sink:
            serve = subprocess.Popen(
                [VAULTS, "serve", "--port", str(port), "--store", store_url],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        stack.callback(_stop, serve)
        base = f"http://127.0.0.1:{port}"
        _wait_healthy(base, serve, log)
        yield Setup(bw_serve=serve_bw.url, serve=base, store_url=store_url)
    assert SERVE_KEY not in log.read_text()


def _base_env() -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "BW_"))}
    return {**base, "VAULTS_PULL_ALLOW_PRIVATE": "1"}  # the pull endpoint is on 127.0.0.1


def _wait_healthy(base: str, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "vaults serve did not start"
        time.sleep(0.05)


class Resolving:
    """A ``vaults resolve`` process; records when its first output byte arrived."""

    def __init__(self, setup: Setup, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [VAULTS, "resolve", *args],
            env={
                **_base_env(),
                "VAULTS_LOAD_PLUGINS": "bitwarden",
                "VAULTS_BITWARDEN_URL": setup.bw_serve,
                "VAULTS_STORE": setup.store_url,
                **(env or {}),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.first_output: float | None = None
        self._out = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            if self.first_output is None:
                self.first_output = time.monotonic()
            self._out += chunk

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        try:
            assert self.process.stderr is not None
            err = self.process.stderr.read().decode()
            code = self.process.wait(timeout)
            self._reader.join(10)
        finally:
            _stop(self.process)
        return code, self._out.decode(), err


def push(setup: Setup, identifier: str, content: str) -> float:
    """POST a forwarded e-mail to ``vaults serve``; returns when it was sent (monotonic)."""
    sent = time.monotonic()
    response = httpx.post(
        f"{setup.serve}/v1/credentials/totp",
        json={"totp_identifier": identifier, "content": content, "source": "email"},
        headers={"x-api-key": SERVE_KEY},
        timeout=10,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    return sent


def report(what: str, latency: float) -> None:
    """Print the measured figure (visible with ``pytest -s``) and hold it to the budget."""
    print(f"\n{what}: {latency * 1000:.1f} ms from delivery to the resolve's output")
    assert latency < LATENCY_BUDGET


def email(code: str) -> str:
    return (
        "From: Acme <no-reply@acme.example>\nSubject: Your Acme sign-in code\n\n"
        f"Hi Alice,\n\nYour verification code is {code}. It expires in 10 minutes.\n\n"
        "If you did not try to sign in, reset your password.\n— The Acme team"
    )


# -- the tests --------------------------------------------------------------------------------
def test_item_field_identifier_gets_the_emailed_code_at_once(setup: Setup) -> None:
    identifier = "alice+e2e@example.com"
    push(setup, identifier, email("101010"))  # stale: sent before the resolve started
    resolving = Resolving(setup, f"bitwarden://{INBOX_ITEM.name}", "--json", "--timeout", "60")
    wait_for_listeners(setup.store_url)  # fetched from bw serve, now listening
    time.sleep(0.3)
    assert resolving.process.poll() is None  # the stale code was ignored
    sent = push(setup, identifier.upper(), email("482913"))
    code, out, err = resolving.finish()
    assert code == 0, err
    assert resolving.first_output is not None
    report("inbox, field totp_identifier, push through vaults serve", resolving.first_output - sent)
    data = json.loads(out)
    assert (data["vault"], data["id"], data["username"]) == (
        "bitwarden",
        INBOX_ITEM.id,
        "alice@example.com",
    )
    assert data["password"] == "********"
    assert data["totp_source"] == "inbox" and data["totp"]["code"] == "482913"
    no_leak([out, err])


def test_done_when_explicit_identifier_prints_username_password_and_code(setup: Setup) -> None:
    identifier = "user@example.com"
    resolving = Resolving(
        setup,
        f"bitwarden://{PLAIN_ITEM.name}",
        "--totp-identifier",
        identifier,
        "--reveal",
        "--json",
    )
    wait_for_listeners(setup.store_url)
    sent = push(setup, identifier, email("550 127"))
    code, out, err = resolving.finish()
    assert code == 0, err
    assert resolving.first_output is not None
    data = json.loads(out)
    assert (data["username"], data["password"]) == ("dave@example.com", PASSWORD)
    assert (data["totp"]["code"], data["totp_source"]) == ("550127", "inbox")
    report("inbox, --totp-identifier, push through vaults serve", resolving.first_output - sent)


def test_magic_link_through_vaults_serve(setup: Setup) -> None:
    identifier = "alice+e2e@example.com"
    resolving = Resolving(setup, f"bitwarden://{INBOX_ITEM.name}", "--field", "magic_link")
    wait_for_listeners(setup.store_url)
    link = "https://acme.example/login/magic?token=Q2FuYXJ5LW5vdC1hLXNlY3JldA"
    sent = push(
        setup,
        identifier,
        "Hi Alice,\n\nClick the link below to sign in to Acme:\n"
        f"{link}\n\nThis link expires in 15 minutes.\n"
        "Manage e-mail preferences: https://acme.example/unsubscribe?u=42",
    )
    code, out, err = resolving.finish()
    assert code == 0, err
    assert out == f"{link}\n"  # piped: only the requested field
    assert resolving.first_output is not None
    report("magic link, push through vaults serve", resolving.first_output - sent)


def test_signed_pull_endpoint_on_loopback(setup: Setup, pull_server: PullServer) -> None:
    pull_server.polls = 0
    resolving = Resolving(
        setup,
        f"bitwarden://{PULL_ITEM_NAME}",
        "--json",
        "--pull-interval",
        "0.2",
        "--timeout",
        "60",
        env={"VAULTS_PULL_API_KEY": "a-wrong-key-the-item-field-overrides"},
    )
    code, out, err = resolving.finish()
    assert code == 0, err
    assert pull_server.bad_signatures == 0
    assert pull_server.polls == 3  # two polls without a code, then the code
    data = json.loads(out)
    assert (data["totp_source"], data["totp"]["code"]) == ("pull", "918273")
    assert {"name": "totp_api_key", "value": "********", "type": "hidden", "section": None} in data[
        "fields"
    ]
    assert resolving.first_output is not None and pull_server.answered_at is not None
    report("signed pull endpoint", resolving.first_output - pull_server.answered_at)
    no_leak([out, err])


def test_timeout_is_exit_1_naming_the_source(setup: Setup) -> None:
    resolving = Resolving(setup, f"bitwarden://{INBOX_ITEM.name}", "--timeout", "0.5")
    code, out, err = resolving.finish()
    assert (code, out) == (1, "")
    assert err == (
        f"error: '{INBOX_ITEM.name}' (bitwarden): no code for 'alice+e2e@example.com' "
        "arrived within 0.5 s\n"
    )
