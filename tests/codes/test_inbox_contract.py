"""One contract, run against both stores: a SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

from vaults.codes.inbox import Inbox
from vaults.errors import CodeTimeout, InvalidInput, NoCode
from vaults.testing.leaks import assert_no_leak, error_texts

EMAIL = "Your verification code is 482913. It expires in 10 minutes."


def test_push_then_wait_returns_the_code(inbox: Inbox) -> None:
    pushed = inbox.push("user@example.com", EMAIL, source="email", task_id="t1")
    assert (pushed.otp_type, pushed.value, pushed.source, pushed.task_id) == (
        "totp",
        "482913",
        "email",
        "t1",
    )
    assert pushed.expires_at - pushed.created_at == pytest.approx(600)
    got = inbox.wait("user@example.com", timeout=0, interval=0.05)
    assert got == pushed


def test_magic_links_are_stored_as_links(inbox: Inbox) -> None:
    link = "https://app.example.com/login/magic?token=Zx81kQ2mN4pL7vR9"
    inbox.push("user@example.com", f"Click to sign in: {link}\nIgnore if it wasn't you.")
    got = inbox.wait("user@example.com", timeout=0)
    assert (got.otp_type, got.value) == ("magic_link", link)


def test_email_identifiers_match_case_insensitively(inbox: Inbox) -> None:
    inbox.push("User.Name@Example.COM", EMAIL)
    assert inbox.wait("user.name@example.com", timeout=0).value == "482913"
    assert inbox.wait("  USER.NAME@EXAMPLE.COM ", timeout=0).value == "482913"
    assert inbox.list("user.name@EXAMPLE.com")[0].identifier == "User.Name@Example.COM"


def test_other_identifiers_match_exactly(inbox: Inbox) -> None:
    inbox.push("AcmeUser", EMAIL)
    with pytest.raises(CodeTimeout):
        inbox.wait("acmeuser", timeout=0)
    assert inbox.wait("AcmeUser", timeout=0).value == "482913"


def test_phone_numbers_match_without_punctuation(inbox: Inbox) -> None:
    inbox.push("+1 (555) 010-0199", "Your Acme code: 845 201", source="sms")
    got = inbox.wait("+15550100199", timeout=0)
    assert (got.value, got.source) == ("845201", "phone")


def test_wait_returns_the_newest_unexpired_code(
    make_inbox: Callable[..., Inbox], clock: Any
) -> None:
    inbox = make_inbox(clock=clock)
    inbox.push("user@example.com", "Your code is 418207")
    clock.now += 5
    inbox.push("user@example.com", "Your code is 529318")
    clock.now += 5
    inbox.push("someone@example.com", "Your code is 630429")
    assert inbox.wait("user@example.com", timeout=0).value == "529318"


def test_codes_expire_after_their_lifespan(make_inbox: Callable[..., Inbox], clock: Any) -> None:
    inbox = make_inbox(clock=clock)
    inbox.push("user@example.com", "Your code is 418207")
    clock.now += 599
    assert inbox.wait("user@example.com", timeout=0).value == "418207"
    clock.now += 1
    with pytest.raises(CodeTimeout, match=r"user@example\.com"):
        inbox.wait("user@example.com", timeout=0)
    # ... but the history keeps it
    assert [c.value for c in inbox.list("user@example.com")] == ["418207"]
    assert inbox.list()[0].is_expired(clock.now)


def test_lifespan_is_configurable(make_inbox: Callable[..., Inbox], clock: Any) -> None:
    inbox = make_inbox(clock=clock, lifespan_minutes=1)
    inbox.push("user@example.com", "Your code is 418207")
    clock.now += 61
    with pytest.raises(CodeTimeout):
        inbox.wait("user@example.com", timeout=0)


def test_since_skips_older_codes(make_inbox: Callable[..., Inbox], clock: Any) -> None:
    inbox = make_inbox(clock=clock)
    inbox.push("user@example.com", "Your code is 418207")
    mark = clock.now
    with pytest.raises(CodeTimeout):
        inbox.wait("user@example.com", since=mark, timeout=0)
    clock.now += 1
    inbox.push("user@example.com", "Your code is 529318")
    assert inbox.wait("user@example.com", since=mark, timeout=0).value == "529318"


def test_list_is_newest_first_with_filters(make_inbox: Callable[..., Inbox], clock: Any) -> None:
    inbox = make_inbox(clock=clock)
    for n, (ident, run) in enumerate(
        [("a@example.com", "wr_1"), ("b@example.com", "wr_1"), ("a@example.com", "wr_2")]
    ):
        clock.now += 1
        inbox.push(ident, f"Your code is {n + 1}00000", workflow_run_id=run)
    clock.now += 1
    inbox.push("a@example.com", "Sign in here: https://example.com/magic/abcdefgh48291378")
    assert [c.value for c in inbox.list()][:3] == [
        "https://example.com/magic/abcdefgh48291378",
        "300000",
        "200000",
    ]
    assert [c.value for c in inbox.list("A@example.com", otp_type="totp")] == ["300000", "100000"]
    assert [c.value for c in inbox.list(workflow_run_id="wr_1")] == ["200000", "100000"]
    assert [c.value for c in inbox.list("a@example.com", workflow_run_id="wr_1")] == ["100000"]
    assert [c.otp_type for c in inbox.list(otp_type="magic_link")] == ["magic_link"]
    assert len(inbox.list(limit=2)) == 2
    assert inbox.list("nobody@example.com") == []


@pytest.mark.parametrize("limit", [0, 201, -1])
def test_list_limit_is_1_to_200(inbox: Inbox, limit: int) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        inbox.list(limit=limit)


def test_list_limit_200_is_allowed(inbox: Inbox) -> None:
    assert inbox.list(limit=200) == []


def test_consumed_codes_go_to_one_waiter_only(inbox: Inbox) -> None:
    inbox.push("user@example.com", EMAIL)
    first = inbox.wait("user@example.com", timeout=0, consume=True)
    assert first.value == "482913"
    with pytest.raises(CodeTimeout):
        inbox.wait("user@example.com", timeout=0, consume=True)
    with pytest.raises(CodeTimeout):  # nor to a non-consuming waiter
        inbox.wait("user@example.com", timeout=0)
    [stored] = inbox.list()
    assert stored.consumed_at is not None
    assert stored.status() == "consumed"


def test_peeking_does_not_consume(inbox: Inbox) -> None:
    inbox.push("user@example.com", EMAIL)
    assert inbox.wait("user@example.com", timeout=0).value == "482913"
    assert inbox.wait("user@example.com", timeout=0, consume=True).value == "482913"


def test_concurrent_consumers_never_share_a_code(
    make_inbox: Callable[..., Inbox], wait_for_listener: Callable[..., None]
) -> None:
    waiters = 6
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def consume() -> None:
        inbox = make_inbox()  # each waiter its own inbox, as separate processes would have
        try:
            got = inbox.wait("user@example.com", timeout=5, interval=0.2, consume=True)
        except BaseException as exc:
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(got.value)

    threads = [threading.Thread(target=consume) for _ in range(waiters)]
    for thread in threads:
        thread.start()
    pusher = make_inbox()
    wait_for_listener(waiters)
    for n in range(waiters):
        pusher.push("user@example.com", f"Your code is {n + 1}{n + 1}{n + 1}999")
    for thread in threads:
        thread.join(10)
    assert not errors
    assert sorted(results) == sorted(f"{n + 1}{n + 1}{n + 1}999" for n in range(waiters))


def test_waiter_wakes_on_push_not_at_the_next_poll(
    make_inbox: Callable[..., Inbox], wait_for_listener: Callable[..., None]
) -> None:
    waiter, pusher = make_inbox(), make_inbox()
    woke: list[float] = []

    def wait() -> None:
        waiter.wait("user@example.com", timeout=10, interval=30)
        woke.append(time.monotonic())

    thread = threading.Thread(target=wait)
    thread.start()
    wait_for_listener()
    pushed = time.monotonic()
    pusher.push("user@example.com", EMAIL)
    thread.join(5)
    assert woke, "the waiter did not wake up"
    assert woke[0] - pushed < 0.5


def test_pushes_for_someone_else_do_not_end_the_wait(
    make_inbox: Callable[..., Inbox], wait_for_listener: Callable[..., None]
) -> None:
    waiter, pusher = make_inbox(), make_inbox()
    outcome: list[object] = []

    def wait() -> None:
        try:
            outcome.append(waiter.wait("user@example.com", timeout=0.3, interval=30))
        except CodeTimeout as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait)
    started = time.monotonic()
    thread.start()
    wait_for_listener()
    pusher.push("other@example.com", EMAIL)
    thread.join(5)
    assert isinstance(outcome[0], CodeTimeout)
    assert time.monotonic() - started >= 0.3


def test_wait_times_out_with_code_timeout(inbox: Inbox) -> None:
    started = time.monotonic()
    with pytest.raises(CodeTimeout) as caught:
        inbox.wait("user@example.com", timeout=0.15, interval=0.05)
    assert 0.15 <= time.monotonic() - started < 2
    assert caught.value.exit_code == 1


def test_async_wait_wakes_on_push(
    make_inbox: Callable[..., Inbox], wait_for_listener: Callable[..., None]
) -> None:
    waiter, pusher = make_inbox(), make_inbox()

    async def main() -> tuple[str, float]:
        result: dict[str, Any] = {}

        async def wait() -> None:
            got = await waiter.await_wait("user@example.com", timeout=10, interval=30)
            result["value"] = got.value
            result["at"] = time.monotonic()

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.to_thread.run_sync(wait_for_listener)
            pushed = time.monotonic()
            await pusher.apush("user@example.com", EMAIL)
        return result["value"], result["at"] - pushed

    value, latency = anyio.run(main)
    assert value == "482913"
    assert latency < 0.5


def test_async_wait_times_out_and_can_be_cancelled(
    inbox: Inbox, count_listeners: Callable[[], int]
) -> None:
    async def main() -> None:
        with pytest.raises(CodeTimeout):
            await inbox.await_wait("user@example.com", timeout=0.1, interval=0.05)
        with anyio.move_on_after(0.1) as scope:
            await inbox.await_wait("user@example.com", timeout=30, interval=30)
        assert scope.cancelled_caught
        assert count_listeners() == 0  # the cancelled waiter stopped listening
        await inbox.apush("user@example.com", EMAIL)
        got = await inbox.await_wait("user@example.com", timeout=0, consume=True)
        assert got.value == "482913"
        assert [c.consumed_at is not None for c in await inbox.alist()] == [True]

    anyio.run(main)


def test_waiters_stop_listening(inbox: Inbox, count_listeners: Callable[[], int]) -> None:
    with pytest.raises(CodeTimeout):
        inbox.wait("user@example.com", timeout=0.05, interval=0.01)
    inbox.push("user@example.com", EMAIL)
    inbox.wait("user@example.com", timeout=1)
    assert count_listeners() == 0


CONTENT_CANARY = "content-canary-q7Zr"


def test_pushed_content_is_neither_stored_nor_echoed(inbox: Inbox, store_url: str) -> None:
    with pytest.raises(NoCode) as caught:
        inbox.push("user@example.com", f"Thanks for your order {CONTENT_CANARY}!")
    assert_no_leak(error_texts("push error", caught.value), [CONTENT_CANARY])
    pushed = inbox.push("user@example.com", f"Your code is 482913 ({CONTENT_CANARY})")
    assert CONTENT_CANARY not in repr(pushed)
    assert CONTENT_CANARY not in str(pushed.public_dict())
    if store_url.startswith("sqlite:///"):
        inbox.close()
        database = Path(store_url[len("sqlite:///") :])
        for path in database.parent.glob(database.name + "*"):
            if path.is_file():
                assert CONTENT_CANARY.encode() not in path.read_bytes()


def test_a_message_without_a_code_is_refused(inbox: Inbox) -> None:
    with pytest.raises(NoCode, match="no one-time code"):
        inbox.push("user@example.com", "Thanks for your order! It ships tomorrow.")
    assert inbox.list() == []


@pytest.mark.parametrize(
    ("identifier", "content", "match"),
    [
        ("", EMAIL, "identifier is empty"),
        ("   ", EMAIL, "identifier is empty"),
        ("x" * 321, EMAIL, "longer than"),
        ("user@example.com", "", "content is empty"),
        ("user@example.com", "   \n", "content is empty"),
    ],
)
def test_bad_push_input(inbox: Inbox, identifier: str, content: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match) as caught:
        inbox.push(identifier, content)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "kwargs",
    [{"timeout": -1}, {"interval": 0}, {"interval": float("nan")}, {"since": "yesterday"}],
)
def test_bad_wait_input(inbox: Inbox, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        inbox.wait("user@example.com", **kwargs)


def test_expired_and_consumed_codes_are_deleted_after_the_retention(
    make_inbox: Callable[..., Inbox], clock: Any
) -> None:
    inbox = make_inbox(clock=clock, retention=30, lifespan_minutes=1)
    inbox.push("user@example.com", "Your code is 418207")
    inbox.push("other@example.com", "Your code is 529318")
    assert inbox.wait("other@example.com", timeout=0, consume=True).value == "529318"
    inbox.push("user@example.com", "Your code is 630429")
    assert {c.value for c in inbox.list()} == {"418207", "529318", "630429"}
    clock.now += 29  # consumed 29 s ago: kept for the history
    assert inbox.sweep() == 0
    clock.now += 2  # consumed 31 s ago: gone; the others still valid
    assert inbox.sweep() == 1
    assert {c.value for c in inbox.list()} == {"418207", "630429"}
    clock.now += 60 + 30  # both expired 30+ s ago
    assert inbox.sweep() == 2
    assert inbox.list() == []


def test_pushes_sweep_by_themselves(make_inbox: Callable[..., Inbox], clock: Any) -> None:
    inbox = make_inbox(clock=clock, retention=0, lifespan_minutes=1)
    inbox.push("user@example.com", "Your code is 418207")
    clock.now += 120
    inbox.push("user@example.com", "Your code is 529318")
    assert [c.value for c in inbox.list()] == ["529318"]


def test_list_active_only_hides_expired_and_consumed(
    make_inbox: Callable[..., Inbox], clock: Any
) -> None:
    inbox = make_inbox(clock=clock, retention=3600, lifespan_minutes=1)
    inbox.push("user@example.com", "Your code is 418207")
    clock.now += 61
    inbox.push("user@example.com", "Your code is 529318")
    inbox.push("user@example.com", "Your code is 630429")
    assert inbox.wait("user@example.com", timeout=0, consume=True).value == "630429"
    assert [c.value for c in inbox.list("user@example.com")] == ["630429", "529318", "418207"]
    assert [c.value for c in inbox.list("user@example.com", active_only=True)] == ["529318"]


def test_rows_per_identifier_are_capped(make_inbox: Callable[..., Inbox], clock: Any) -> None:
    inbox = make_inbox(clock=clock, max_codes_per_identifier=3)
    for n in range(5):
        clock.now += 1
        inbox.push("user@example.com", f"Your code is 71000{n}")
    inbox.push("other@example.com", "Your code is 829301")
    assert [c.value for c in inbox.list("user@example.com")] == ["710004", "710003", "710002"]
    assert [c.value for c in inbox.list("other@example.com")] == ["829301"]


def test_a_refused_code_is_skipped_and_the_wait_goes_on(
    make_inbox: Callable[..., Inbox], clock: Any
) -> None:
    inbox = make_inbox(clock=clock)
    inbox.push("user@example.com", "Your code is 418207")
    clock.now += 1
    inbox.push("user@example.com", "Your code is 999000")
    for consume in (False, True):
        code = inbox.wait(
            "user@example.com", timeout=0, consume=consume, accept=lambda c: c.value != "999000"
        )
        assert code.value == "418207"
