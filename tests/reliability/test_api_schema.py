"""The HTTP API of ``vaults serve`` under bad input.

- schemathesis, against the app's own OpenAPI document: generated valid and invalid requests
  (with the right key, none, or a wrong one) never get a 5xx, and every answer conforms to
  the document (status codes, content types, response schemas);
- a real ``vaults serve`` process (uvicorn, 127.0.0.1): 401 for a missing or wrong key, 413 for
  oversize bodies (declared or streamed), no 5xx for hostile raw bodies;
- signed pull requests: a replay older than ``max_age`` is refused by ``verify_signature``
  (by an endpoint written the way the docs say, over HTTP).

``VAULTS_API_EXAMPLES`` sets the schemathesis examples per operation and mode (default 150
under ``make reliability``, 40 otherwise).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vaults.codes.inbox import Inbox
from vaults.codes.pull_endpoint import pull
from vaults.codes.security import Limits
from vaults.codes.server import MAX_BODY_BYTES, create_app
from vaults.codes.signature import SIGNATURE_HEADER, sign_request, verify_signature
from vaults.errors import AuthenticationFailed
from vaults.testing.hosts import make_test_host

API_KEY = "api-key-reliability-3f9a1c"
URL = "/v1/credentials/totp"
AUTH = {"x-api-key": API_KEY}


def _examples(report: Any) -> int:
    configured = os.environ.get("VAULTS_API_EXAMPLES")
    if configured:
        return int(configured)
    return 150 if report.enabled else 40


# -- schemathesis against the OpenAPI document ---------------------------------------------------


@pytest.fixture
def app_inbox(tmp_path: Path) -> Iterator[Inbox]:
    with Inbox(f"sqlite:///{tmp_path / 'codes.db'}", host=make_test_host()) as inbox:
        yield inbox


def test_schemathesis_no_5xx_and_conforming_answers(
    reliability_report: Any, app_inbox: Inbox
) -> None:
    schemathesis = pytest.importorskip("schemathesis")
    from schemathesis import checks

    # no rate limits here: schemathesis sends hundreds of wrong keys and pushes a minute
    # (tests/codes/test_server_exposed.py checks the limits)
    unlimited = Limits(failed_keys_per_minute=10**9, pushes_per_minute=10**9)
    app = create_app(inbox=app_inbox, api_key=API_KEY, docs=True, limits=unlimited)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # the codes API; the provider webhooks (/v1/inbound/…) have their own tests (tests/mail)
    operations = [
        op for op in (result.ok() for result in schema.get_all_operations()) if op.path == URL
    ]
    assert {(op.method.upper(), op.path) for op in operations} == {("GET", URL), ("POST", URL)}
    conformance = [
        checks.not_a_server_error,
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_schema_conformance,
        checks.response_headers_conformance,
    ]
    tried = 0
    statuses: dict[int, int] = {}
    failure: BaseException | None = None
    for operation in operations:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):

            @settings(
                max_examples=_examples(reliability_report),
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(
                case=operation.as_strategy(generation_mode=mode),
                auth=st.sampled_from(["key", "key", "key", "none", "wrong"]),
            )
            def run(case: Any, auth: str) -> None:
                nonlocal tried
                tried += 1
                headers = {
                    k: v for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"
                }
                if auth == "key":
                    headers.update(AUTH)
                elif auth == "wrong":
                    headers["x-api-key"] = API_KEY[:-1] + "0"
                case.headers = headers
                response = case.call()
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                case.validate_response(response, checks=conformance)
                if auth != "key":
                    assert response.status_code in (401, 413), response.text[:200]

            try:
                run()
            except BaseException as exc:
                failure = failure or exc
    reliability_report.record(
        "parsers",
        "HTTP API: POST/GET /v1/credentials/totp (schemathesis, its own OpenAPI)",
        checked=tried,
        failures=1 if failure is not None else 0,
        detail="valid and invalid requests, right/missing/wrong key; no 5xx, answers conform ("
        + ", ".join(f"{n}x{code}" for code, n in sorted(statuses.items()))
        + ")",
    )
    if failure is not None:
        raise failure


# -- a real vaults serve process ----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("serve")
    port = _free_port()
    log = folder / "serve.log"
    env = {**os.environ, "VAULTS_API_KEY": API_KEY, "VAULTS_LOAD_PLUGINS": ""}
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "vaults.cli.main", "serve", "--port", str(port),
             "--store", f"sqlite:///{folder / 'codes.db'}", "--log-level", "warning"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "vaults serve did not start"
            time.sleep(0.05)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    text = log.read_text()
    assert API_KEY not in text
    assert "Traceback" not in text, text[-3000:]


def _raw(base: str, method: str, head: dict[str, str], body: bytes) -> int:
    """Send bytes exactly as given (no client-side JSON), return the status."""
    response = httpx.request(method, base + URL, headers=head, content=body, timeout=30)
    return response.status_code


def _chunked(size: int) -> Iterator[bytes]:
    yield b'{"totp_identifier": "a@example.com", "content": "Your code is 482913 '
    for _ in range(size // 4096 + 1):
        yield b"x" * 4096
    yield b'"}'


HOSTILE_BODIES: list[tuple[str, bytes]] = [
    ("nested past the recursion limit", b"[" * 5000 + b"]" * 5000),
    ("nested content", b'{"totp_identifier":"a@example.com","content":' + b"[" * 3000
     + b"]" * 3000 + b"}"),
    ("invalid UTF-8", b'{"totp_identifier":"a@example.com","content":"code \xff\xfe 482913"}'),
    ("lone surrogate in content", b'{"totp_identifier":"a@example.com","content":"Your code is '
     b'482913 \\ud800"}'),
    ("lone surrogate in identifier", b'{"totp_identifier":"a\\udfff@example.com","content":'
     b'"Your code is 482913"}'),
    ("lone surrogate in task_id", b'{"totp_identifier":"a@example.com","content":"Your code is '
     b'482913","task_id":"\\ud800"}'),
    ("NUL characters", b'{"totp_identifier":"a\\u0000@example.com","content":"Your code is '
     b'482913\\u0000","source":"\\u0000"}'),
    ("huge number", b'{"totp_identifier":"a@example.com","content":' + b"9" * 5000 + b"}"),
    ("wrong types", b'{"totp_identifier":["a"],"content":{"x":1},"source":7}'),
    ("not an object", b'"Your code is 482913"'),
    ("empty", b""),
    ("duplicate keys", b'{"totp_identifier":"a@example.com","content":"x","content":"Your code '
     b'is 482913"}'),
    ("NaN", b'{"totp_identifier":"a@example.com","content":NaN}'),
    ("huge identifier", b'{"totp_identifier":"' + b"a" * 60000 + b'","content":"Your code is 1"}'),
]  # fmt: skip


def test_a_real_server_refuses_without_the_key_and_oversize_bodies(
    reliability_report: Any, served: str
) -> None:
    body = {"totp_identifier": "a@example.com", "content": "Your code is 482913"}
    wrong: list[str] = []
    checks = 0

    def expect(what: str, status: int, wanted: int) -> None:
        nonlocal checks
        checks += 1
        if status != wanted:
            wrong.append(f"{what}: HTTP {status}, wanted {wanted}")

    refusals = [
        ("no key", {}),
        ("wrong key", {"x-api-key": "nope"}),
        ("key + 1 char", {"x-api-key": API_KEY + "x"}),
        ("empty key", {"x-api-key": ""}),
        ("key in another header", {"authorization": f"Bearer {API_KEY}"}),
    ]
    for name, head in refusals:
        expect(f"POST, {name}", httpx.post(served + URL, json=body, headers=head).status_code, 401)
        expect(f"GET, {name}", httpx.get(served + URL, headers=head).status_code, 401)
    listed = httpx.get(served + URL, headers=AUTH, params={"totp_identifier": "a@example.com"})
    expect("nothing stored by refused pushes", len(listed.json()), 0)

    big = json.dumps({"totp_identifier": "a@example.com", "content": "x" * MAX_BODY_BYTES})
    for head in (AUTH, {}):
        expect("declared oversize body", _raw(served, "POST", {**head, "content-type":
               "application/json"}, big.encode()), 413)  # fmt: skip
        streamed = httpx.post(
            served + URL,
            content=_chunked(MAX_BODY_BYTES),
            headers={**head, "content-type": "application/json"},
        )
        expect("streamed oversize body (chunked, no length)", streamed.status_code, 413)
    expect("a push with the key", httpx.post(served + URL, json=body, headers=AUTH).status_code,
           200)  # fmt: skip

    server_errors: list[str] = []
    for name, raw in HOSTILE_BODIES:
        for ctype in ("application/json", "text/plain"):
            checks += 1
            status = _raw(served, "POST", {**AUTH, "content-type": ctype}, raw)
            if status >= 500:
                server_errors.append(f"{name} ({ctype}): HTTP {status}")
    for params in ({"limit": "0"}, {"limit": "x"}, {"limit": "9" * 5000},
                   {"otp_type": "\ud800"}, {"totp_identifier": "\x00"},
                   {"totp_identifier": "a" * 5000}, {"workflow_run_id": "\udfff"}):  # fmt: skip
        checks += 1
        encoded = httpx.QueryParams(
            {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
             for k, v in params.items()}
        )  # fmt: skip
        status = httpx.get(served + URL, headers=AUTH, params=encoded).status_code
        if status >= 500:
            server_errors.append(f"GET {params!r:.60}: HTTP {status}")
    reliability_report.record(
        "crash",
        "HTTP API over a real vaults serve: 401 / 413 / hostile bodies",
        checked=checks,
        failures={"wrong answers": len(wrong) + len(server_errors)},
        unit="requests",
        detail="401 missing/wrong key, 413 declared and streamed bodies over 64 KiB, "
        "no 5xx for nested/invalid-UTF-8/surrogate/NUL/huge bodies",
    )
    assert not wrong, wrong
    assert not server_errors, server_errors


# -- signed pull requests: replays ---------------------------------------------------------------


class _Endpoint:
    """A user's pull endpoint as the docs tell authors to write it (``verify_signature``)."""

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self.seen: list[tuple[bytes, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                signature = self.headers.get(SIGNATURE_HEADER) or ""
                endpoint.seen.append((body, signature))
                ok = verify_signature(
                    body, signature, API_KEY, url=endpoint.url, max_age=endpoint.max_age
                )
                status, payload = (200, {"verification_code": "482913"}) if ok else (401, {})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/totp"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def test_a_replayed_signed_pull_request_is_refused(reliability_report: Any) -> None:
    endpoint = _Endpoint(max_age=3.0)  # wide enough for a loaded machine's first replay
    refused: list[str] = []
    checks = 0
    try:
        found = pull(endpoint.url, API_KEY, totp_identifier="a@example.com", timeout=10)
        assert found.value == "482913"
        body, signature = endpoint.seen[0]
        head = {SIGNATURE_HEADER: signature, "content-type": "application/json"}
        # within max_age the very same bytes are still accepted: the refusal below is age
        fresh = httpx.post(endpoint.url, content=body, headers=head)
        time.sleep(3.3)
        replayed = httpx.post(endpoint.url, content=body, headers=head)
        tampered = httpx.post(endpoint.url, content=body.replace(b"a@", b"b@"), headers=head)
        for what, got, wanted in [
            ("fresh replay within max_age", fresh.status_code, 200),
            ("replay older than max_age", replayed.status_code, 401),
            ("tampered body", tampered.status_code, 401),
        ]:
            checks += 1
            if got != wanted:
                refused.append(f"{what}: HTTP {got}, wanted {wanted}")
        # a pull against an endpoint that refuses is a typed error, not a hang
        endpoint.max_age = 0.0
        checks += 1
        with pytest.raises(AuthenticationFailed):
            pull(endpoint.url, API_KEY, totp_identifier="a@example.com", timeout=5)
    finally:
        endpoint.close()
    # the default max_age (300 s), at the edge
    stamp = json.loads(body)["timestamp"]
    for now, wanted in [
        (stamp + 299, True),
        (stamp + 301, False),
        (stamp - 29, True),
        (stamp - 31, False),
    ]:
        checks += 1
        if verify_signature(body, signature, API_KEY, url=endpoint.url, now=now) is not wanted:
            refused.append(f"verify_signature at timestamp{now - stamp:+} s is not {wanted}")
    checks += 1
    if verify_signature(
        body, sign_request(body, "another key", url=endpoint.url), API_KEY, url=endpoint.url
    ):
        refused.append("a signature made with another key was accepted")
    checks += 1
    if verify_signature(body, signature, API_KEY, url=endpoint.url + "/other", now=stamp):
        refused.append("a signature made for another URL was accepted")
    reliability_report.record(
        "crash",
        "signed pull requests: replays and tampering",
        checked=checks,
        failures={"wrong answers": len(refused)},
        unit="requests",
        detail="replay after max_age refused over HTTP (401); default max_age 300 s at its edge",
    )
    assert not refused, refused
