"""Faults never hang and never lie: the HTTP transports against a real misbehaving server.

Each scenario runs against the Bitwarden ``bw serve`` transport (``VAULTS_BITWARDEN_URL``),
the 1Password Connect transport (``OP_CONNECT_HOST``) and the codes pull endpoint, each
blocking and async. For every run we check that

- it finishes within its bound: tries x per-try timeout + backoff + Retry-After (else: a hang);
- a fault ends in the right typed error whose message names the cause, and a passing fault
  (one 503, one reset, a 429 with a short ``Retry-After``) is retried into a success;
- retries are bounded (request counts), a ``Retry-After`` is waited for, and answers
  (not found, 401/403) are asked exactly once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.http_pool import ATTEMPTS as BW_ATTEMPTS
from vaults_onepassword.backend import OnePasswordBackend
from vaults_onepassword.connect import BACKOFF as OP_BACKOFF
from vaults_onepassword.connect import clear_vault_cache
from vaults_onepassword.testing.seed import login_item, make_id
from vaults_reliability_bounded import run_bounded

from vaults.codes import apull, pull
from vaults.codes.extract import ExtractedCode
from vaults.errors import (
    AuthenticationFailed,
    CodeTimeout,
    ItemNotFound,
    VaultsError,
    VaultUnavailable,
)
from vaults.host import make_host
from vaults.models import Credential
from vaults.refs import parse_reference
from vaults.testing.misbehaving import MisbehavingServer, Reply, Seen, json_reply

TIMEOUT = 0.4  # per try, bw serve and Connect
PULL_TIMEOUT = 0.8  # the whole pull
PULL_REQUEST_TIMEOUT = 0.3
SLACK = 1.5  # scheduling slack on a loaded 2-core machine

BW_ITEM_ID = "0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01"
BW_ITEM = {
    "object": "item",
    "id": BW_ITEM_ID,
    "type": 1,
    "name": "GitHub",
    "login": {"username": "octo", "password": "fault-pw", "totp": "", "uris": []},
    "fields": [],
}
OP_VAULT = make_id("vault:faults")
OP_ITEM = {**login_item("GitHub", "octo", "fault-pw"), "vault": {"id": OP_VAULT}}


@dataclass(frozen=True)
class Target:
    """One transport: how to call it, what a healthy answer is, its retry budget."""

    name: str
    ok_body: bytes
    attempts: int
    max_backoff: float
    call: Callable[[str, bool, float], Any]
    """``call(url, is_async, stretch)``: ``stretch`` seconds more for a polling call."""
    polls: bool = False  # the pull endpoint polls until its own deadline

    def bound(self, retry_after: float = 0.0) -> float:
        if self.polls:
            return PULL_TIMEOUT + retry_after + 2 * PULL_REQUEST_TIMEOUT + SLACK
        # a try may overrun its deadline by one read timeout (sync)
        return self.attempts * 2 * TIMEOUT + self.attempts * self.max_backoff + retry_after + SLACK


def _bw(url: str, is_async: bool, stretch: float = 0.0) -> Credential:
    backend = BitwardenBackend.from_env(
        {"VAULTS_BITWARDEN_URL": url, "VAULTS_BITWARDEN_TIMEOUT": str(TIMEOUT)}
    )
    ref = parse_reference("bitwarden://GitHub")
    if not is_async:
        try:
            return backend.fetch(ref)
        finally:
            backend.close()

    async def run() -> Credential:
        try:
            return await backend.afetch(ref)
        finally:
            await backend.aclose()

    return anyio.run(run)


def _op(url: str, is_async: bool, stretch: float = 0.0) -> Credential:
    clear_vault_cache()
    backend = OnePasswordBackend.from_env(
        {
            "OP_CONNECT_HOST": url,
            "OP_CONNECT_TOKEN": "fault-token",
            "VAULTS_ONEPASSWORD_TIMEOUT": str(TIMEOUT),
        }
    )
    ref = parse_reference(f"op://{OP_VAULT}/{OP_ITEM['id']}")
    if not is_async:
        try:
            return backend.fetch(ref)
        finally:
            backend.close()

    async def run() -> Credential:
        try:
            return await backend.afetch(ref)
        finally:
            await backend.aclose()

    return anyio.run(run)


HOST = make_host()


def _pull(url: str, is_async: bool, stretch: float = 0.0) -> ExtractedCode:
    options: dict[str, Any] = {
        "interval": 0.1,
        "timeout": PULL_TIMEOUT + stretch,
        "request_timeout": PULL_REQUEST_TIMEOUT,
        "host": HOST,
    }
    if not is_async:
        return pull(url, "fault-key", **options)
    return anyio.run(lambda: apull(url, "fault-key", **options))


TARGETS = {
    "bw serve": Target(
        "bw serve",
        json.dumps({"success": True, "data": {"object": "list", "data": [BW_ITEM]}}).encode(),
        BW_ATTEMPTS,
        2.0,  # small_http.HttpClient backoff_cap
        _bw,
    ),
    "Connect": Target("Connect", json.dumps(OP_ITEM).encode(), OP_BACKOFF.attempts, 0.8, _op),
    "pull": Target("pull", b'{"verification_code": "482913"}', 1, 0.0, _pull, polls=True),
}


@dataclass(frozen=True)
class Scenario:
    """A misbehaviour and what each transport must make of it.

    ``expect``: "ok", or (error type, words of which one must be in the message).
    ``requests``: exact request count, or "attempts" (the transport's whole budget), or None.
    """

    name: str
    script: Callable[[Target], list[Reply]]
    expect: Any
    requests: int | str | None = None
    retry_after: float = 0.0
    overrides: dict[str, tuple[Any, int | str | None]] = field(default_factory=dict)


def _ok(t: Target) -> Reply:
    return Reply(200, t.ok_body)


UNAVAILABLE = VaultUnavailable
TIMED_OUT = ("within", "timed out")
CLOSED = ("closed", "reset", "disconnected")
PULL_GAVE_UP = (VaultUnavailable, ("could not be reached",))

SCENARIOS = [
    Scenario(
        "HTTP 500 every time",
        lambda t: [Reply(500, b'{"message": "internal"}')],
        (UNAVAILABLE, ("500",)),
        "attempts",
        overrides={"pull": ((VaultUnavailable, ("HTTP 500",)), None)},
    ),
    Scenario("HTTP 503 once, then OK", lambda t: [Reply(503), _ok(t)], "ok", 2),
    Scenario(
        "HTTP 502 twice, then OK",
        lambda t: [Reply(502), Reply(502), _ok(t)],
        "ok",
        None,
        overrides={"bw serve": ((UNAVAILABLE, ("502",)), 2)},
    ),
    Scenario(
        "HTTP 429 Retry-After 1, then OK",
        lambda t: [Reply(429, headers=(("Retry-After", "1"),)), _ok(t)],
        "ok",
        2,
        retry_after=1.0,
    ),
    Scenario(
        "HTTP 429 Retry-After 3600",
        lambda t: [Reply(429, headers=(("Retry-After", "3600"),))],
        (UNAVAILABLE, ("429",)),
        1,
        overrides={"pull": ((VaultUnavailable, ("rate limiting",)), 1)},
    ),
    Scenario(
        "HTTP 429 without Retry-After",
        lambda t: [Reply(429)],
        (UNAVAILABLE, ("429",)),
        "attempts",
        overrides={"pull": ((VaultUnavailable, ("429",)), None)},
    ),
    Scenario(
        "connection reset every time",
        lambda t: [Reply(reset=True)],
        (UNAVAILABLE, CLOSED),
        "attempts",
        overrides={"pull": ((VaultUnavailable, ("reset",)), None)},
    ),
    Scenario("connection reset once, then OK", lambda t: [Reply(reset=True), _ok(t)], "ok", 2),
    Scenario(
        "reset in the middle of the body",
        lambda t: [Reply(200, t.ok_body, reset_mid=True)],
        (UNAVAILABLE, CLOSED),
        "attempts",
        overrides={"pull": ((VaultUnavailable, CLOSED), None)},
    ),
    Scenario(
        "closed without an answer",
        lambda t: [Reply(close=True)],
        (UNAVAILABLE, CLOSED),
        "attempts",
        overrides={"pull": ((VaultUnavailable, CLOSED), None)},
    ),
    Scenario(
        "answer later than the timeout",
        lambda t: [Reply(200, t.ok_body, delay=30)],
        (UNAVAILABLE, TIMED_OUT),
        1,
        overrides={"pull": ((VaultUnavailable, ("timed out",)), None)},
    ),
    Scenario(
        "answer trickled past the timeout",
        lambda t: [Reply(200, t.ok_body + b" " * 64, trickle=0.05)],
        (UNAVAILABLE, TIMED_OUT),
        1,
        overrides={"pull": ((VaultUnavailable, ("timed out",)), None)},
    ),
    Scenario(
        "body shorter than its Content-Length",
        lambda t: [Reply(200, t.ok_body, truncate=len(t.ok_body) // 2)],
        (UNAVAILABLE, (*CLOSED, "peer closed")),
        "attempts",
        overrides={"pull": ((VaultUnavailable, ("closed",)), None)},
    ),
    Scenario(
        "truncated JSON",
        lambda t: [Reply(200, t.ok_body[: len(t.ok_body) // 2])],
        (UNAVAILABLE, ("not JSON",)),
        1,
        overrides={"pull": ((CodeTimeout, ("not JSON",)), None)},
    ),
    Scenario(
        "HTML instead of JSON",
        lambda t: [
            Reply(200, b"<html>proxy login</html>", headers=(("Content-Type", "text/html"),))
        ],
        (UNAVAILABLE, ("not JSON",)),
        1,
        overrides={"pull": ((CodeTimeout, ("not JSON",)), None)},
    ),
    Scenario(
        "HTTP 401",
        lambda t: [Reply(401, b'{"status": 401, "message": "Invalid token"}')],
        (UNAVAILABLE, ("401",)),
        1,
        overrides={
            "Connect": ((AuthenticationFailed, ("401",)), 1),
            "pull": ((AuthenticationFailed, ("401",)), 1),
        },
    ),
    Scenario(
        "HTTP 403",
        lambda t: [Reply(403)],
        (UNAVAILABLE, ("403",)),
        1,
        overrides={
            "Connect": ((AuthenticationFailed, ("403",)), 1),
            "pull": ((AuthenticationFailed, ("403",)), 1),
        },
    ),
]


def _not_found_route(target: Target) -> Callable[[Seen], Reply]:
    def route(seen: Seen) -> Reply:
        if target.name == "bw serve":
            if seen.path.startswith("/list/"):
                return json_reply(200, {"success": True, "data": {"object": "list", "data": []}})
            return json_reply(400, {"success": False, "message": "Not found."})
        if seen.path.endswith("/items"):  # Connect: the title lookup finds nothing
            return json_reply(200, [])
        return json_reply(404, {"status": 404, "message": "item not found"})

    return route


def _expectation(scenario: Scenario, target: Target) -> tuple[Any, int | str | None]:
    return scenario.overrides.get(target.name, (scenario.expect, scenario.requests))


def _verdict(
    outcome: Any, expect: Any, requests: int | str | None, seen: list[Seen], target: Target
) -> str | None:
    """Why the outcome is wrong, or None."""
    if expect == "ok":
        if outcome.error is not None:
            return f"expected success, got {outcome.describe()}"
    else:
        kind, words = expect
        if not isinstance(outcome.error, kind):
            return f"expected {kind.__name__}, got {outcome.describe()}"
        message = str(outcome.error)
        if not any(word.lower() in message.lower() for word in words):
            return f"the error does not name the cause ({words}): {message}"
    want = target.attempts if requests == "attempts" else requests
    if want is not None and len(seen) != want:
        return f"expected {want} request(s), the server saw {len(seen)}"
    return None


def _run(
    target: Target, is_async: bool, server_url: str, bound: float, stretch: float = 0.0
) -> Any:
    return run_bounded(lambda: target.call(server_url, is_async, stretch), bound + 5)


MODES = [pytest.param(False, id="sync"), pytest.param(True, id="async")]


def _record(report: Any, target: Target, is_async: bool, hung: bool, wrong: bool) -> None:
    report.record(
        "faults",
        f"{target.name} ({'async' if is_async else 'sync'})",
        checked=1,
        failures={"hangs": int(hung), "wrong errors": int(wrong)},
        detail="5xx/429/Retry-After, resets, closes, slow, trickled, truncated, non-JSON, "
        "401/403, not found, nothing listening",
    )


@pytest.mark.parametrize("is_async", MODES)
@pytest.mark.parametrize("target_name", list(TARGETS))
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_fault(scenario: Scenario, target_name: str, is_async: bool, reliability_report) -> None:
    target = TARGETS[target_name]
    expect, requests = _expectation(scenario, target)
    bound = target.bound(scenario.retry_after)
    with MisbehavingServer(scenario.script(target)) as server:
        outcome = _run(target, is_async, server.url, bound, scenario.retry_after)
        seen = server.requests()
    hung = outcome.hung or outcome.seconds > bound
    problem = None if hung else _verdict(outcome, expect, requests, seen, target)
    if problem is None and scenario.retry_after and len(seen) >= 2:
        gap = seen[1].at - seen[0].at
        if gap < scenario.retry_after:
            problem = (
                f"Retry-After {scenario.retry_after:g} s not honoured: retried after {gap:.2f} s"
            )
    _record(reliability_report, target, is_async, hung, problem is not None)
    assert not hung, f"{target.name}: {outcome.describe()} (bound {bound:.1f} s)"
    assert problem is None, f"{target.name}: {problem}"


@pytest.mark.parametrize("is_async", MODES)
@pytest.mark.parametrize("target_name", ["bw serve", "Connect"])
def test_not_found_is_asked_once(target_name: str, is_async: bool, reliability_report) -> None:
    target = TARGETS[target_name]
    bound = target.bound()
    with MisbehavingServer(route=_not_found_route(target)) as server:
        outcome = _run(target, is_async, server.url, bound)
        seen = server.requests()
    hung = outcome.hung or outcome.seconds > bound
    asked = [(s.method, s.path, s.query) for s in seen]
    repeated = len(asked) != len(set(asked))
    wrong = not isinstance(outcome.error, ItemNotFound) or repeated
    _record(reliability_report, target, is_async, hung, wrong)
    assert not hung, outcome.describe()
    assert isinstance(outcome.error, ItemNotFound), outcome.describe()
    assert not repeated, f"a not-found request was retried: {asked}"


@pytest.mark.parametrize("is_async", MODES)
@pytest.mark.parametrize("target_name", list(TARGETS))
def test_nothing_listening(target_name: str, is_async: bool, reliability_report) -> None:
    target = TARGETS[target_name]
    with MisbehavingServer() as server:
        url = server.url
    bound = target.bound()
    outcome = _run(target, is_async, url, bound)
    hung = outcome.hung or outcome.seconds > bound
    words = ("connect", "reach")
    wrong = not isinstance(outcome.error, VaultUnavailable) or not any(
        w in str(outcome.error).lower() for w in words
    )
    _record(reliability_report, target, is_async, hung, wrong)
    assert not hung, outcome.describe()
    assert not wrong, outcome.describe()


def test_every_error_is_typed() -> None:
    # the scenarios' expectations are all VaultsError subclasses: no raw httpx error leaks
    kinds = {_expectation(s, t)[0] for s in SCENARIOS for t in TARGETS.values()}
    assert all(k == "ok" or issubclass(k[0], VaultsError) for k in kinds)


def test_not_found_routes_answer(reliability_report) -> None:
    # guard against a route that answers nothing useful (the not-found test would then pass
    # for the wrong reason): a healthy GitHub listing must resolve through the same plumbing
    with MisbehavingServer([Reply(200, TARGETS["bw serve"].ok_body)]) as server:
        assert _bw(server.url, False).username == "octo"
    with MisbehavingServer([Reply(200, TARGETS["Connect"].ok_body)]) as server:
        assert _op(server.url, False).username == "octo"
    started = time.monotonic()
    with MisbehavingServer([Reply(200, TARGETS["pull"].ok_body)]) as server:
        assert _pull(server.url, False).value == "482913"
    assert time.monotonic() - started < 2
