"""Done-when, as separate processes over a real KeePass database and a shared SQLite store:

* with only ``vaults codes watch imap://…`` running against a real Dovecot, ``vaults resolve
  keepass://… --totp-identifier user@example.com`` prints the code of a mail APPENDed to the
  mailbox within a second;
* a Twilio SMS webhook signed by the official library, POSTed to a real ``vaults serve``,
  does the same for a phone identifier.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from twilio.request_validator import RequestValidator

from tests.mail.conftest import IMAP_PASSWORD, IMAP_USER, Tls, code_mail, deliver

keepass_testing = pytest.importorskip("vaults_keepass.testing")

VAULTS = str(Path(sys.executable).with_name("vaults"))
MASTER = "master-E2E-CANARY-40af"
SITE_PASSWORD = "site-pw-E2E-CANARY-91c2"
TWILIO_TOKEN = "twilio-E2E-CANARY-token-77ab"
API_KEY = "api-key-E2E-CANARY-0d3e5f"
PHONE = "+15550100000"
SECRETS = (MASTER, SITE_PASSWORD, TWILIO_TOKEN, API_KEY, IMAP_PASSWORD)


@pytest.fixture(scope="module")
def kdbx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("e2e") / "vault.kdbx"
    keepass_testing.create_database(
        path, MASTER, [keepass_testing.EntrySpec("Acme", "alice@example.com", SITE_PASSWORD)]
    )
    return path


@pytest.fixture
def env(kdbx: Path, sqlite_url: str, tls: Tls) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "TWILIO_"))}
    return {
        **base,
        "VAULTS_LOAD_PLUGINS": "keepass",
        "VAULTS_KEEPASS_DB": str(kdbx),
        "VAULTS_KEEPASS_PASSWORD": MASTER,
        "VAULTS_STORE": sqlite_url,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop(proc: subprocess.Popen[Any]) -> tuple[str, str]:
    if proc.poll() is None:
        proc.terminate()
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out or "", err or ""


def resolve(env: dict[str, str], identifier: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [VAULTS, "resolve", "keepass://Acme", "--totp-identifier", identifier, "--reveal",
         "--json", "--timeout", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def wait_for_waiter(store_url: str) -> None:
    wake_dir = Path(store_url.removeprefix("sqlite:///") + ".wake")
    deadline = time.monotonic() + 30
    while not (wake_dir.is_dir() and any(wake_dir.glob("*.fifo"))):
        assert time.monotonic() < deadline, "vaults resolve never started waiting"
        time.sleep(0.01)


def finish(proc: subprocess.Popen[str]) -> tuple[dict[str, Any], str, float]:
    assert proc.stdout is not None
    first = proc.stdout.read(1)  # the moment the code is printed
    at = time.monotonic()
    out = first + proc.stdout.read()
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.wait(10) == 0, err
    return json.loads(out), err, at


@pytest.fixture
def watcher(dovecot: Any, tls: Tls, folder: str, env: dict[str, str]) -> Iterator[Any]:
    proc = subprocess.Popen(
        [VAULTS, "codes", "watch", "--ca-file", str(tls.ca),
         f"imap://user%40example.com@127.0.0.1:{dovecot.imaps_port}/{folder}"],
        env={**env, "VAULTS_IMAP_PASSWORD": IMAP_PASSWORD},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "HH:MM:SS watching imaps://… from UID n"
    assert "watching imaps://user@example.com@127.0.0.1" in line, line + stop(proc)[1]
    proc.lines = [line]  # type: ignore[attr-defined]
    yield proc
    out, err = stop(proc)
    for text in (out, err, line):
        for secret in SECRETS:
            assert secret not in text


@pytest.mark.slow
def test_done_when_imap_watch_to_resolve_within_a_second(
    dovecot: Any, tls: Tls, folder: str, env: dict[str, str], sqlite_url: str, watcher: Any
) -> None:
    time.sleep(0.3)  # the watcher enters IDLE right after its "watching" line
    resolving = resolve(env, IMAP_USER)
    wait_for_waiter(sqlite_url)
    deliver(dovecot, tls, folder, code_mail("482913"))
    appended = time.monotonic()
    data, _, printed = finish(resolving)
    assert (data["username"], data["password"]) == ("alice@example.com", SITE_PASSWORD)
    assert (data["totp"]["code"], data["totp_source"]) == ("482913", "inbox")
    latency = printed - appended
    print(f"IMAP APPEND → vaults resolve printed the code: {latency * 1000:.0f} ms")
    assert latency < 1.0


@pytest.mark.slow
def test_done_when_signed_twilio_sms_to_resolve(env: dict[str, str], sqlite_url: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        [VAULTS, "serve", "--port", str(port), "--log-level", "warning"],
        env={**env, "VAULTS_API_KEY": API_KEY, "TWILIO_AUTH_TOKEN": TWILIO_TOKEN},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, stop(server)[1]
            time.sleep(0.05)
        resolving = resolve(env, "+1 (555) 010-0000")
        wait_for_waiter(sqlite_url)
        url = f"{base}/v1/inbound/twilio"
        form = {
            "MessageSid": "SM0123456789abcdef0123456789abcdef",
            "From": "+15005550006",
            "To": PHONE,
            "Body": "Your Acme verification code is 731046",
        }
        forged = httpx.post(url, data=form, headers={"X-Twilio-Signature": "AAAA"}, timeout=5)
        assert forged.status_code == 403
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        sent = time.monotonic()
        answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=5)
        assert answer.status_code == 200 and "<Response>" in answer.text
        data, err, printed = finish(resolving)
        assert (data["totp"]["code"], data["totp_source"]) == ("731046", "inbox")
        assert printed - sent < 1.0
    finally:
        out, err = stop(server)
    for text in (out, err):
        for secret in SECRETS:
            assert secret not in text
