"""Bad input never crashes the codes inbox, on SQLite and on PostgreSQL.

Hypothesis drives ``Inbox.push`` / ``list`` / ``wait`` with mutated arguments (identifiers,
messages, sources, tags, limits, times: NUL, unpaired surrogates, wrong types, huge values)
and the HTTP API with hand-made JSON bodies carrying the same values as JSON escapes. Only
``InvalidInput`` and ``NoCode`` (``CodeTimeout``) may come out: a ``VaultUnavailable`` for bad
input would tell the caller the store is down (and the HTTP API would answer 503).
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))

import fuzz_strategies as fs

from vaults.codes.inbox import Inbox
from vaults.codes.records import PushedCode
from vaults.errors import InvalidInput, NoCode
from vaults.testing.hosts import make_test_host

API_KEY = "api-key-fuzz-inbox-77c2"
NAME = "codes inbox: Inbox push/list/wait arguments and HTTP bodies (SQLite + PostgreSQL)"

identifiers = st.one_of(
    st.sampled_from(
        ["alice@example.com", "Alice@Example.COM ", "+1 (555) 010-0199", "+15550100199",
         "user-42", " ", "", "a@", "@b", "a" * 321, "a\x00@b.c", "a\ud800@b.c", "é@ü.de"]
    ),
    fs.mutated_text(["alice@example.com", "+1 555 010 0199", "user-42"]),
    fs.any_text,
)  # fmt: skip
labels = st.one_of(
    st.none(),
    st.sampled_from(["email", "E-Mail", "sms", "phone", "push", "", " ", "x" * 201, "\x00"]),
    fs.any_text,
)
non_text = st.sampled_from([1, 2.5, b"bytes", ["a"], {"a": 1}, True])


def _examples(report: Any) -> int:
    configured = os.environ.get("VAULTS_FUZZ_EXAMPLES")
    if configured:
        return max(20, int(configured) // 2)
    return 150 if report.enabled else 40


@st.composite
def operations(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(st.sampled_from(["push", "push", "list", "wait"]))
    ident = (
        draw(st.one_of(identifiers, non_text))
        if draw(st.integers(0, 9)) == 0
        else draw(identifiers)
    )
    if kind == "push":
        return kind, {
            "identifier": ident,
            "content": draw(st.one_of(fs.messages, non_text, st.just("x" * (1024 * 1024 + 1)))),
            "source": draw(labels),
            "task_id": draw(labels),
            "workflow_run_id": draw(labels),
        }
    if kind == "list":
        return kind, {
            "identifier": draw(st.one_of(st.none(), identifiers)),
            "workflow_run_id": draw(labels),
            "otp_type": draw(st.one_of(st.none(), st.sampled_from(["totp", "magic_link", "x"]))),
            "limit": draw(st.one_of(st.integers(-2, 205), st.sampled_from([True, 1.5, "3"]))),
        }
    return kind, {
        "identifier": ident,
        "since": draw(
            st.one_of(st.none(), st.floats(allow_nan=True), st.sampled_from([True, "0"]))
        ),
        "timeout": 0,
        "consume": draw(st.booleans()),
    }


def _apply(inbox: Inbox, kind: str, args: dict[str, Any]) -> None:
    try:
        if kind == "push":
            ident = args.pop("identifier")
            code = inbox.push(ident, args.pop("content"), **args)
            assert isinstance(code, PushedCode) and code.identifier == ident.strip()
        elif kind == "list":
            found = inbox.list(args.pop("identifier"), **args)
            assert isinstance(found, list)
            assert all(isinstance(c, PushedCode) for c in found)
        else:
            assert isinstance(inbox.wait(args.pop("identifier"), **args), PushedCode)
    except (InvalidInput, NoCode):
        pass


def _body(fields: dict[str, Any]) -> bytes:
    """JSON with every value written as it came: surrogates and NUL as JSON escapes."""
    return json.dumps(fields, ensure_ascii=True).encode("ascii")


http_bodies = st.one_of(
    st.fixed_dictionaries(
        {"totp_identifier": identifiers, "content": fs.messages},
        optional={"source": labels, "task_id": labels, "workflow_run_id": labels},
    ).map(_body),
    fs.json_bytes([{"totp_identifier": "a@example.com", "content": "Your code is 482913"}]),
)


def _fuzz_store(store_url: str, report: Any, store: str) -> None:
    from fastapi.testclient import TestClient

    from vaults.codes.server import create_app

    tried = 0
    failure: BaseException | None = None
    statuses: set[int] = set()
    with Inbox(store_url, host=make_test_host()) as inbox:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            client = TestClient(create_app(inbox=inbox, api_key=API_KEY))

        @settings(
            max_examples=_examples(report),
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(ops=st.lists(operations(), min_size=1, max_size=4), body=http_bodies)
        def run(ops: list[tuple[str, dict[str, Any]]], body: bytes) -> None:
            nonlocal tried
            for kind, args in ops:
                tried += 1
                _apply(inbox, kind, dict(args))
            tried += 1
            response = client.post(
                "/v1/credentials/totp",
                content=body,
                headers={"x-api-key": API_KEY, "content-type": "application/json"},
            )
            statuses.add(response.status_code)
            assert response.status_code < 500, response.text[:300]

        try:
            run()
        except BaseException as exc:
            failure = exc
    report.record(
        "parsers",
        NAME,
        checked=tried,
        failures=1 if failure is not None else 0,
        detail=f"hypothesis, {store}: only InvalidInput/NoCode, no 5xx (HTTP {sorted(statuses)})",
    )
    if failure is not None:
        raise failure


def test_inbox_arguments_sqlite(reliability_report: Any, tmp_path: Path) -> None:
    _fuzz_store(f"sqlite:///{tmp_path / 'codes.db'}", reliability_report, "SQLite")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from vaults.testing.pg_cluster import PostgresMissing, ThrowawayPostgres, wait_ready

    try:
        server = ThrowawayPostgres().start()
    except PostgresMissing as exc:
        if os.environ.get("VAULTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"VAULTS_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(f"PostgreSQL inbox fuzzing skipped: {exc}")
    try:
        wait_ready(server.url)
        yield server.url
    finally:
        server.stop()


def test_inbox_arguments_postgresql(reliability_report: Any, pg_url: str) -> None:
    _fuzz_store(pg_url, reliability_report, "PostgreSQL")
