"""Secrets never leak through the HTTP API (``vaults serve``): error bodies and server logs.

The app runs under a real uvicorn on 127.0.0.1 (``serve_asgi``). Each error answer (401 without
or with a wrong key, 413, 422 for bodies and queries, 422 for a message without a code, 503
for a store that cannot be reached) is checked: the body and headers the client sees, and
every log record (uvicorn, FastAPI, vaults) at DEBUG. Canaries: the API key, a wrong key, the
store URL's password, a magic-link token and an item password inside pushed messages.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import vaults_reliability_canaries as c
from vaults_reliability_canaries import LeakLedger

from vaults.codes import Inbox
from vaults.codes.server import create_app
from vaults.testing.leaks import record_texts
from vaults.testing.servers import serve_asgi

PUSH = "/v1/credentials/totp"
SECRETS_IN_A_MESSAGE = f"password {c.PASSWORD} link https://acme.co/l/{c.MAGIC_TOKEN}"


def _exchange(
    ledger: LeakLedger,
    caplog: Any,
    client: httpx.Client,
    path: str,
    method: str,
    expected: int,
    **kwargs: Any,
) -> httpx.Response:
    caplog.clear()
    response = client.request(method, PUSH, **kwargs)
    assert response.status_code == expected, (path, response.status_code, response.text[:300])
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    ledger.texts(path, f"HTTP {expected} body", response.text, headers)
    server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    ledger.check(path, "server log", record_texts(server_side))  # httpx: this test's client
    return response


def _run_paths(ledger: LeakLedger, caplog: Any, base: str, ok_key: str) -> None:
    good = {"x-api-key": ok_key}
    with httpx.Client(base_url=base, timeout=10) as client:
        _exchange(
            ledger,
            caplog,
            client,
            "push without a key",
            "POST",
            401,
            json={"totp_identifier": "a@example.test", "content": SECRETS_IN_A_MESSAGE},
        )
        _exchange(
            ledger,
            caplog,
            client,
            "push with a wrong key",
            "POST",
            401,
            headers={"x-api-key": c.WRONG_SECRET},
            json={"totp_identifier": "a@example.test", "content": SECRETS_IN_A_MESSAGE},
        )
        _exchange(
            ledger,
            caplog,
            client,
            "list with a wrong key",
            "GET",
            401,
            headers={"x-api-key": c.WRONG_SECRET},
        )
        _exchange(
            ledger,
            caplog,
            client,
            "push over 64 KiB",
            "POST",
            413,
            headers=good,
            content=json.dumps(
                {"totp_identifier": "a@example.test", "content": SECRETS_IN_A_MESSAGE * 2000}
            ),
        )
        _exchange(
            ledger,
            caplog,
            client,
            "push missing its identifier",
            "POST",
            422,
            headers=good,
            json={"content": SECRETS_IN_A_MESSAGE},
        )
        _exchange(
            ledger,
            caplog,
            client,
            "push with a wrong field type",
            "POST",
            422,
            headers=good,
            json={"totp_identifier": ["x"], "content": SECRETS_IN_A_MESSAGE},
        )
        _exchange(
            ledger,
            caplog,
            client,
            "push with an over-long identifier",
            "POST",
            422,
            headers=good,
            json={"totp_identifier": c.PASSWORD * 40, "content": SECRETS_IN_A_MESSAGE},
        )
        _exchange(
            ledger,
            caplog,
            client,
            "push of malformed JSON",
            "POST",
            422,
            headers=good,
            content=b'{"totp_identifier": "a", "content": "' + c.PASSWORD.encode(),
        )
        _exchange(
            ledger,
            caplog,
            client,
            "push of a message without a code",
            "POST",
            422,
            headers=good,
            json={
                "totp_identifier": "a@example.test",
                "content": f"Your new password is {c.PASSWORD}",
            },
        )
        _exchange(
            ledger,
            caplog,
            client,
            "list with a bad query",
            "GET",
            422,
            headers=good,
            params={"totp_identifier": c.PASSWORD * 40, "limit": c.PASSWORD},
        )


def test_serve_error_bodies(tmp_path: Path, debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("vaults serve HTTP API")
    with Inbox(f"sqlite:///{tmp_path / 'codes.db'}") as inbox:
        app = create_app(inbox=inbox, api_key=c.VAULTS_API_KEY)
        with serve_asgi(app, log_level="debug") as base:
            _run_paths(ledger, debug_caplog, base, c.VAULTS_API_KEY)
    # a store that cannot be reached: 503, its URL's password never shown
    store = f"postgresql://vaults:{c.STORE_PASSWORD}@127.0.0.1:1/vaults?connect_timeout=1"
    app = create_app(store_url=store, api_key=c.VAULTS_API_KEY)
    with serve_asgi(app, log_level="debug") as base, httpx.Client(base_url=base) as client:
        _exchange(
            ledger,
            debug_caplog,
            client,
            "push to an unreachable store",
            "POST",
            503,
            headers={"x-api-key": c.VAULTS_API_KEY},
            json={
                "totp_identifier": "a@example.test",
                "content": f"Your code is 482913 {c.PASSWORD}",
            },
        )
        _exchange(
            ledger,
            debug_caplog,
            client,
            "list from an unreachable store",
            "GET",
            503,
            headers={"x-api-key": c.VAULTS_API_KEY},
            params={"totp_identifier": "a@example.test"},
        )
    ledger.record(reliability_report)
    ledger.assert_clean()
