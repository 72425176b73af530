"""End to end, across processes: ``vaults serve`` receives a push over HTTP and a waiter in
another process wakes at once; a ``vaults codes wait`` process wakes on an in-process push.
Run against both stores."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from vaults.codes.inbox import Inbox
from vaults.host import PluginHost

API_KEY = "serve-key-canary-77e0"


def vaults_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vaults.cli.main", *args]


@pytest.fixture
def served(store_url: str, free_port: int, tmp_path: Path) -> Iterator[str]:
    log = tmp_path / "serve.log"
    env = {**os.environ, "VAULTS_API_KEY": API_KEY, "VAULTS_LOAD_PLUGINS": ""}
    with log.open("w") as sink:
        server = subprocess.Popen(
            vaults_cmd("serve", "--port", str(free_port), "--store", store_url),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "vaults serve did not start"
            time.sleep(0.05)
        # default bind address is loopback only
        assert f"http://127.0.0.1:{free_port}" in log.read_text()
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    assert API_KEY not in log.read_text()


def test_push_over_http_wakes_a_waiter_at_once(
    served: str, store_url: str, codes_host: PluginHost, wait_for_listener: Callable[[], None]
) -> None:
    woke: list[tuple[str, float]] = []

    def wait() -> None:
        with Inbox(store_url, host=codes_host) as inbox:
            code = inbox.wait("user@example.com", timeout=15, interval=60)
            woke.append((code.value, time.monotonic()))

    waiter = threading.Thread(target=wait)
    waiter.start()
    wait_for_listener()
    response = httpx.post(
        f"{served}/v1/credentials/totp",
        json={
            "totp_identifier": "User@Example.com",
            "content": "Your verification code is 550127",
            "source": "email",
        },
        headers={"x-api-key": API_KEY},
    )
    answered = time.monotonic()
    assert response.status_code == 200, response.text
    waiter.join(10)
    assert woke, "the waiter never woke"
    value, at = woke[0]
    assert value == "550127"
    assert at - answered < 1.0  # event-driven: the 60 s interval never came into play
    listed = httpx.get(
        f"{served}/v1/credentials/totp",
        params={"totp_identifier": "user@example.com"},
        headers={"x-api-key": API_KEY},
    )
    assert [item["code"] for item in listed.json()] == ["550127"]


def test_a_waiting_process_wakes_on_a_push(
    store_url: str, codes_host: PluginHost, wait_for_listener: Callable[[], None]
) -> None:
    env = {**os.environ, "VAULTS_STORE": store_url, "VAULTS_LOAD_PLUGINS": ""}
    waiter = subprocess.Popen(
        vaults_cmd("codes", "wait", "-i", "+1 555 010 0199", "--interval", "60", "--timeout", "20"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_for_listener()  # so the push below must wake it, not be found first
        assert waiter.poll() is None
        with Inbox(store_url, host=codes_host) as inbox:
            inbox.push("+15550100199", "Acme: your code is 804 112", source="sms")
        pushed = time.monotonic()
        out, err = waiter.communicate(timeout=10)
        assert time.monotonic() - pushed < 2.0
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()
    assert waiter.returncode == 0, err
    assert out == "804112\n"


def test_serve_refuses_to_start_without_an_api_key(sqlite_url: str, free_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VAULTS_API_KEY", "VAULTS_PUSH_KEY")}
    result = subprocess.run(
        vaults_cmd("serve", "--port", str(free_port), "--store", sqlite_url),
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: neither VAULTS_API_KEY nor VAULTS_PUSH_KEY is set: the HTTP API refuses to run "
        "without an API key"
    )
