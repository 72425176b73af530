"""vaults.bounded_http against a real misbehaving server: deadlines, bounded retries, backoff
with jitter, Retry-After, and no retry of answers (404) or of non-idempotent requests."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import anyio
import httpx
import pytest

from vaults.bounded_http import Backoff, asend, retry_after, send
from vaults.testing.misbehaving import MisbehavingServer, Reply, json_reply

OK = json_reply(200, {"ok": True})
FAST = Backoff(attempts=3, base=0.05, cap=0.2, max_retry_after=5)


def gaps(server: MisbehavingServer) -> list[float]:
    times = [s.at for s in server.requests()]
    return [b - a for a, b in itertools.pairwise(times)]


def call(server: MisbehavingServer, method: str = "GET", timeout: float = 2.0) -> httpx.Response:
    with httpx.Client(base_url=server.url) as client:
        return send(client, method, "/x", timeout=timeout, backoff=FAST)


def acall(server: MisbehavingServer, method: str = "GET", timeout: float = 2.0) -> httpx.Response:
    async def run() -> httpx.Response:
        async with httpx.AsyncClient(base_url=server.url) as client:
            return await asend(client, method, "/x", timeout=timeout, backoff=FAST)

    return anyio.run(run)


CALLS = [pytest.param(call, id="sync"), pytest.param(acall, id="async")]


@pytest.mark.parametrize("go", CALLS)
def test_a_passing_5xx_is_retried_with_growing_jittered_waits(go) -> None:
    with MisbehavingServer([Reply(503), Reply(502), OK]) as server:
        response = go(server)
        assert response.status_code == 200 and response.json() == {"ok": True}
        first, second = gaps(server)
    assert 0.025 <= first < 0.05 + 0.15  # [base/2, base] plus scheduling slack
    assert 0.05 <= second < 0.1 + 0.15


@pytest.mark.parametrize("go", CALLS)
def test_retries_are_bounded_and_the_last_answer_returned(go) -> None:
    with MisbehavingServer([Reply(500, b'{"message":"down"}')]) as server:
        response = go(server)
        assert response.status_code == 500 and response.json() == {"message": "down"}
        assert len(server.requests()) == FAST.attempts


@pytest.mark.parametrize("go", CALLS)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_answers_are_never_retried(go, status: int) -> None:
    with MisbehavingServer([Reply(status)]) as server:
        assert go(server).status_code == status
        assert len(server.requests()) == 1


@pytest.mark.parametrize("go", CALLS)
def test_post_is_tried_once(go) -> None:
    with MisbehavingServer([Reply(503), OK]) as server:
        assert go(server, "POST").status_code == 503
        assert len(server.requests()) == 1


@pytest.mark.parametrize("go", CALLS)
def test_retry_after_is_waited_for(go) -> None:
    with MisbehavingServer([Reply(429, headers=(("Retry-After", "1"),)), OK]) as server:
        assert go(server).status_code == 200
        [gap] = gaps(server)
    assert 1.0 <= gap < 1.6


@pytest.mark.parametrize("go", CALLS)
def test_a_retry_after_past_the_cap_ends_the_retries(go) -> None:
    with MisbehavingServer([Reply(429, headers=(("Retry-After", "3600"),)), OK]) as server:
        started = time.monotonic()
        response = go(server)
        assert response.status_code == 429 and retry_after(response) == 3600
        assert len(server.requests()) == 1
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("go", CALLS)
def test_resets_are_retried_then_raised(go) -> None:
    with MisbehavingServer([Reply(reset=True)]) as server:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            go(server)
        assert len(server.requests()) == FAST.attempts
    with MisbehavingServer([Reply(reset=True), Reply(close=True), OK]) as server:
        assert go(server).status_code == 200


@pytest.mark.parametrize("go", CALLS)
@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(200, b'{"ok": true}', delay=5), id="slow-headers"),
        pytest.param(
            Reply(200, b'{"ok": true, "pad": "' + b"x" * 40 + b'"}', trickle=0.1), id="trickle"
        ),
    ],
)
def test_one_try_is_bounded_by_the_timeout_and_not_retried(go, reply: Reply) -> None:
    with MisbehavingServer([reply]) as server:
        started = time.monotonic()
        with pytest.raises(httpx.TimeoutException):
            go(server, timeout=0.5)
        elapsed = time.monotonic() - started
        assert len(server.requests()) == 1
    # sync: the deadline is checked between reads (at most one read timeout more)
    assert 0.45 <= elapsed < 1.3


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    request = httpx.Request("GET", "http://127.0.0.1/")
    response = httpx.Response(503, headers={"Retry-After": later}, request=request)
    assert retry_after(response, now=now.timestamp()) == pytest.approx(7)
    assert retry_after(httpx.Response(503, headers={"Retry-After": "soon"})) is None
    assert retry_after(httpx.Response(500, headers={"Retry-After": "5"})) is None


def test_backoff_draws_are_jittered_and_capped() -> None:
    policy = Backoff(attempts=10, base=0.2, cap=1.0)
    draws = [policy.delay(3) for _ in range(50)]
    assert all(0.4 <= d <= 0.8 for d in draws)  # ceiling 0.8: [0.4, 0.8]
    assert len({round(d, 6) for d in draws}) > 40  # not in lock step
    assert all(0.5 <= policy.delay(9) <= 1.0 for _ in range(20))  # capped
    assert policy.delay(1, rand=lambda: 0.0) == pytest.approx(0.1)
    assert policy.wait_before(10, None) is None  # attempts used up
