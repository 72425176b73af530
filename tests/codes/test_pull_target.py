"""Outbound safety of pulls (issue 12): where a request may go, how much of an answer is read,
and that a malformed URL is a typed error that never shows its password.

Loopback servers here are real; ``VAULTS_PULL_ALLOW_PRIVATE`` (set for the whole test run by
tests/conftest.py) is removed where the refusal itself is checked."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest

from tests.codes.conftest import PullEndpoint, serving
from vaults.bounded_http import ResponseTooLarge, send
from vaults.codes import pull, pull_once
from vaults.codes.pull_target import check_destination, check_scheme
from vaults.errors import InvalidInput, VaultsError, VaultUnavailable
from vaults.host import PluginHost

PRIVATE = [
    "http://127.0.0.1:9/x",
    "http://localhost:9/x",
    "http://[::1]:9/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.1.2.3/codes",
    "https://172.16.0.1/codes",
    "https://192.168.1.10/codes",
    "https://[fd00::1]/codes",
    "https://[fe80::1]/codes",
    "https://[::ffff:127.0.0.1]/codes",
    "https://224.0.0.1/codes",
    "https://0.0.0.0/codes",
    "https://100.64.0.1/codes",
]


@pytest.mark.parametrize("url", PRIVATE)
def test_private_destinations_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(InvalidInput, match="VAULTS_PULL_ALLOW_PRIVATE"):
        check_destination(url, env={})
    check_destination(url, env={"VAULTS_PULL_ALLOW_PRIVATE": "1"})


def test_public_https_destinations_pass() -> None:
    check_destination("https://8.8.8.8/codes", env={})
    check_destination("https://[2001:4860:4860::8888]/codes", env={})


@pytest.mark.parametrize(
    "url", ["http://me.example/codes", "http://8.8.8.8/codes", "ftp://me.example/", "https://"]
)
def test_plain_http_only_to_loopback(url: str) -> None:
    with pytest.raises(InvalidInput):
        check_scheme(url)
    check_scheme("http://127.0.0.1:8080/codes")
    check_scheme("http://localhost/codes")


def test_a_pull_to_loopback_sends_nothing_by_default(
    pull_endpoint: PullEndpoint, codes_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VAULTS_PULL_ALLOW_PRIVATE", raising=False)
    with pytest.raises(InvalidInput) as caught:
        pull(pull_endpoint.url, pull_endpoint.api_key, timeout=1, host=codes_host)
    assert caught.value.exit_code == 2
    with pytest.raises(InvalidInput):
        pull_once(pull_endpoint.url, pull_endpoint.api_key, host=codes_host)
    assert pull_endpoint.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pa55-CANARY@me.example:99999/codes",
        "https://user:pa55-CANARY@[::1/codes",
        "https://user:pa55-CANARY@me.example:port/codes",
        "http://user:pa55-CANARY@me.example/codes",
    ],
)
def test_a_malformed_url_is_a_vaults_error_without_its_password(url: str) -> None:
    with pytest.raises(VaultsError) as caught:
        pull(url, "key-0123456789abcdef", timeout=0)
    assert "pa55-CANARY" not in str(caught.value)
    assert "pa55-CANARY" not in repr(caught.value)


def _bomb_handler(payload: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-encoding", "gzip")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def test_a_gzip_bomb_is_refused_without_filling_memory(codes_host: PluginHost) -> None:
    inflated = b'{"verification_code": "' + b" " * (100 * 1024 * 1024) + b'"}'
    payload = gzip.compress(inflated, compresslevel=9)
    assert len(payload) < 200 * 1024  # ~100 KB on the wire, 100 MB inflated
    del inflated
    with serving(_bomb_handler(payload)) as base:
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(VaultUnavailable, match="could not be reached"):
                pull_once(f"{base}/totp", "key-0123456789abcdef", host=codes_host)
            with httpx.Client() as client, pytest.raises(ResponseTooLarge):
                send(client, "GET", f"{base}/x", timeout=10)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 * 1024 * 1024, peak
        assert time.monotonic() - started < 5


def test_a_compressed_answer_under_the_cap_is_decoded() -> None:
    payload = gzip.compress(b'{"verification_code": "482913"}')
    with serving(_bomb_handler(payload)) as base, httpx.Client() as client:
        response = send(client, "GET", f"{base}/x", timeout=10)
        assert response.json() == {"verification_code": "482913"}
        assert "content-encoding" not in response.headers
        found = pull_once(f"{base}/totp", "key-0123456789abcdef")
        assert found is not None and found.value == "482913"
        with pytest.raises(ResponseTooLarge):
            send(client, "GET", f"{base}/x", timeout=10, max_bytes=10)


def _rebinding(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """DNS that answers a public address first, loopback afterwards (a rebinding attack:
    a fault no local server can produce, so the resolver is replaced)."""
    import socket

    from vaults.codes import pull_target

    answers: list[str] = []

    def getaddrinfo(host: str, port: object, *args: object, **kwargs: object) -> list[Any]:
        address = "8.8.8.8" if not answers else "127.0.0.1"
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    async def agetaddrinfo(host: str, port: object, **kwargs: object) -> list[Any]:
        return getaddrinfo(host, port)

    monkeypatch.setattr(pull_target.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(pull_target.anyio, "getaddrinfo", agetaddrinfo)
    monkeypatch.delenv("VAULTS_PULL_ALLOW_PRIVATE", raising=False)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    return answers


def test_dns_rebinding_to_loopback_is_refused_at_connect_time(
    pull_endpoint: PullEndpoint, codes_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = _rebinding(monkeypatch)
    port = pull_endpoint.url.split(":")[2].split("/")[0]
    url = f"https://rebind.example:{port}/totp"
    with pytest.raises(VaultUnavailable, match="at connect time"):
        pull_once(url, pull_endpoint.api_key, host=codes_host)
    assert answers == ["8.8.8.8", "127.0.0.1"]  # checked up front, then again on connect
    assert pull_endpoint.seen == []


def test_dns_rebinding_is_refused_by_async_pulls_too(
    pull_endpoint: PullEndpoint, codes_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    import anyio

    from vaults.codes import apull_once

    _rebinding(monkeypatch)
    port = pull_endpoint.url.split(":")[2].split("/")[0]

    async def main() -> None:
        with pytest.raises(VaultUnavailable, match="at connect time"):
            await apull_once(
                f"https://rebind.example:{port}/totp", pull_endpoint.api_key, host=codes_host
            )

    anyio.run(main)
    assert pull_endpoint.seen == []
