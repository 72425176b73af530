"""``vaults serve`` facing an attacker, over a real server process: scoped keys, reading is
least-privilege, short keys refused, wrong-key guessing rate limited, per-identifier push
quota, Host check, no docs unless asked for, the store file made private.

Each test is a finding of the review in issue 12 and failed on the server before it."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.codes.conftest import (
    SERVE_KEY,
    SERVE_PUSH_KEY,
    Served,
    loopback_port,
    vaults_command,
    vaults_serve,
)
from vaults.codes.inbox import Inbox
from vaults.host import PluginHost

URL = "/v1/credentials/totp"
FULL = {"x-api-key": SERVE_KEY}
PUSH = {"x-api-key": SERVE_PUSH_KEY}


def push(served: Served, ident: str, content: str, headers: dict[str, str]) -> httpx.Response:
    body = {"totp_identifier": ident, "content": content, "source": "email"}
    return httpx.post(f"{served.base}{URL}", json=body, headers=headers, timeout=10)


def listing(served: Served, headers: dict[str, str], **params: str) -> httpx.Response:
    return httpx.get(f"{served.base}{URL}", params=params, headers=headers, timeout=10)


def test_a_push_key_pushes_but_cannot_read(sqlite_url: str, tmp_path: Path) -> None:
    with vaults_serve(sqlite_url, tmp_path) as served:
        assert push(served, "user@example.com", "Your code is 482913", PUSH).status_code == 200
        for params in ({"totp_identifier": "user@example.com"}, {"all": "true"}, {}):
            refused = listing(served, PUSH, **params)
            assert refused.status_code == 403, refused.text
            assert "482913" not in refused.text
        read = listing(served, FULL, totp_identifier="user@example.com")
        assert read.status_code == 200
        assert [c["code"] for c in read.json()] == ["482913"]


def test_reading_needs_an_identifier_and_lists_only_usable_codes(
    sqlite_url: str, tmp_path: Path, codes_host: PluginHost
) -> None:
    with vaults_serve(sqlite_url, tmp_path) as served:
        for ident, content in [
            ("user@example.com", "Your code is 100001"),
            ("user@example.com", "Your code is 200002"),
            ("other@example.com", "Your code is 300003"),
        ]:
            assert push(served, ident, content, PUSH).status_code == 200
        with Inbox(sqlite_url, host=codes_host) as inbox:  # a login takes the newest code
            assert inbox.wait("user@example.com", timeout=0, consume=True).value == "200002"
        missing = listing(served, FULL)
        assert missing.status_code == 422
        assert "totp_identifier" in missing.text
        assert "300003" not in missing.text
        mine = listing(served, FULL, totp_identifier="user@example.com")
        assert [c["code"] for c in mine.json()] == ["100001"]  # the consumed one is not listed
        history = listing(served, FULL, totp_identifier="user@example.com", include_used="true")
        assert [c["code"] for c in history.json()] == ["200002", "100001"]
        every = listing(served, FULL, all="true")
        assert [c["code"] for c in every.json()] == ["300003", "100001"]
        assert listing(served, FULL, all="true", limit="201").status_code == 422


@pytest.mark.parametrize("variable", ["VAULTS_API_KEY", "VAULTS_PUSH_KEY"])
def test_short_keys_are_refused_at_start_up(sqlite_url: str, tmp_path: Path, variable: str) -> None:
    env = {**os.environ, "VAULTS_API_KEY": SERVE_KEY, variable: "a"}
    command = vaults_command("serve", "--port", str(loopback_port()), "--store", sqlite_url)
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 2, result.stderr
    assert f"error: {variable} is shorter than 16 characters" in result.stderr
    assert "--insecure-short-key" in result.stderr
    with vaults_serve(sqlite_url, tmp_path, "--insecure-short-key", env={variable: "a"}) as s:
        assert push(s, "user@example.com", "Your code is 482913", {"x-api-key": "a"}).is_success


def test_only_a_push_key_may_be_set(sqlite_url: str, tmp_path: Path) -> None:
    with vaults_serve(sqlite_url, tmp_path, env={"VAULTS_API_KEY": ""}) as served:
        assert push(served, "user@example.com", "Your code is 482913", PUSH).status_code == 200
        assert push(served, "user@example.com", "Your code is 482913", FULL).status_code == 401
        assert listing(served, PUSH, totp_identifier="user@example.com").status_code == 403


def test_wrong_keys_are_rate_limited_per_client(sqlite_url: str, tmp_path: Path) -> None:
    with vaults_serve(sqlite_url, tmp_path) as served, httpx.Client(timeout=10) as client:
        url = f"{served.base}{URL}"
        statuses = [
            client.get(url, headers={"x-api-key": f"guess-{n:04d}-xxxxxxxxxx"}).status_code
            for n in range(25)
        ]
        assert statuses[:20] == [401] * 20
        assert statuses[20:] == [429] * 5
        # blocked for the rest of the minute, whatever the key: guessing stays blind
        blocked = client.get(url, params={"all": "true"}, headers=FULL)
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["retry-after"]) <= 60
        # the rest of the server still works (health checks carry no key)
        assert client.get(f"{served.base}/healthz").status_code == 200


def test_pushes_per_identifier_are_rate_limited(sqlite_url: str, tmp_path: Path) -> None:
    with vaults_serve(sqlite_url, tmp_path, env={"VAULTS_PUSH_QUOTA": "5"}) as served:
        codes = [push(served, "User@Example.com", f"Your code is 48291{n}", PUSH) for n in range(7)]
        assert [r.status_code for r in codes] == [200] * 5 + [429] * 2
        assert 1 <= int(codes[-1].headers["retry-after"]) <= 60
        assert push(served, "other@example.com", "Your code is 771245", PUSH).status_code == 200
        stored = listing(served, FULL, totp_identifier="user@example.com").json()
        assert len(stored) == 5


def test_the_host_header_must_name_this_server(sqlite_url: str, tmp_path: Path) -> None:
    with vaults_serve(sqlite_url, tmp_path, "--allowed-hosts", "codes.example.com") as served:

        def status(host: str) -> int:
            headers = {**FULL, "host": host}
            params = {"totp_identifier": "user@example.com"}
            return httpx.get(f"{served.base}{URL}", params=params, headers=headers).status_code

        assert status(f"127.0.0.1:{served.port}") == 200
        assert status(f"localhost:{served.port}") == 200
        assert status("codes.example.com") == 200
        assert status("CODES.example.com:443") == 200
        assert status("attacker.example") == 400
        assert status(f"attacker.example:{served.port}") == 400
        assert status("codes.example.com.attacker.example") == 400


def test_no_docs_unless_asked_for(sqlite_url: str, tmp_path: Path) -> None:
    with vaults_serve(sqlite_url, tmp_path) as served:
        for path in ("/docs", "/openapi.json", "/redoc", "/docs/static/swagger-ui-bundle.js"):
            assert httpx.get(f"{served.base}{path}").status_code == 404, path
    with vaults_serve(sqlite_url, tmp_path, "--docs") as served:
        page = httpx.get(f"{served.base}/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower()
        assert "/docs/static/swagger-ui-bundle.js" in page.text
        script = httpx.get(f"{served.base}/docs/static/swagger-ui-bundle.js")
        assert script.status_code == 200
        assert len(script.content) > 100_000
        assert httpx.get(f"{served.base}/openapi.json").json()["paths"][URL]


def test_an_existing_store_file_is_made_private(tmp_path: Path) -> None:
    db = tmp_path / "codes.db"
    db.touch(mode=0o644)
    os.chmod(db, 0o644)
    with vaults_serve(f"sqlite:///{db}", tmp_path) as served:
        assert push(served, "user@example.com", "Your code is 482913", PUSH).status_code == 200
        for part in tmp_path.glob("codes.db*"):
            if part.is_file():
                assert stat.S_IMODE(part.stat().st_mode) == 0o600, part
