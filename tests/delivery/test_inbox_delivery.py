"""Codes from the pushed-codes inbox: only fresh codes, one-time consumption between
concurrent logins, magic links, timeouts, ``wait=False``, ``since``, ``on_wait`` and the
async variant — on SQLite and PostgreSQL where the store matters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future

import anyio
import pytest

from tests.delivery.conftest import (
    BOTH_STORES,
    CANARY,
    FieldItem,
    listener_count,
    no_leak,
    wait_for_listeners,
)
from vaults.codes.inbox import Inbox
from vaults.delivery import Waiting
from vaults.errors import CodeTimeout
from vaults.models import Credential
from vaults.resolver import Vaults

MakeVaults = Callable[..., Vaults]
Background = Callable[[Callable[[], Credential]], "Future[Credential]"]

EMAIL = "user@example.com"
ACME = FieldItem(
    id="acme-1",
    name="Acme",
    username="alice",
    password=f"pw-{CANARY}",
    fields={"totp_identifier": EMAIL},
)
LINK_MAIL = (
    "Hi Alice,\n\nClick to sign in to Acme:\n"
    "https://login.acme.example/magic?token=abcDEF123456789xyz\n\n"
    "If you did not ask for this, ignore this e-mail.\n"
    "Unsubscribe: https://acme.example/unsubscribe"
)


@BOTH_STORES
def test_a_stale_code_is_ignored(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    pusher.push(EMAIL, "Your code is 100001")  # from an earlier login
    time.sleep(0.01)
    vaults = make_vaults(ACME)
    future = background(lambda: vaults.resolve("fields://Acme", timeout=20))
    wait_for_listeners(store_url)
    time.sleep(0.2)
    assert not future.done()  # the stale code was not taken
    pusher.push(EMAIL, "Your code is 200002")
    assert future.result(20).totp.code == "200002"  # type: ignore[union-attr]


@BOTH_STORES
def test_stale_only_times_out_naming_item_and_source(
    make_vaults: MakeVaults, pusher: Inbox
) -> None:
    pusher.push(EMAIL, "Your code is 100001")
    vaults = make_vaults(ACME)
    started = time.monotonic()
    with pytest.raises(CodeTimeout) as caught:
        vaults.resolve("fields://Acme", timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 5
    message = str(caught.value)
    assert message.startswith("'Acme' (fields): no code for 'user@example.com' arrived within")
    assert caught.value.exit_code == 1
    no_leak([message])


def test_since_accepts_a_code_pushed_before_the_call(
    make_vaults: MakeVaults, pusher: Inbox
) -> None:
    clicked = time.time()  # the host pressed "send me a code" here
    pusher.push(EMAIL, "Your code is 300003")
    cred = make_vaults(ACME).resolve("fields://Acme", since=clicked, timeout=5)
    assert cred.totp.code == "300003"  # type: ignore[union-attr]


@BOTH_STORES
def test_two_concurrent_logins_never_share_a_code(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    first, second = make_vaults(ACME), make_vaults(ACME)
    one = background(lambda: first.resolve("fields://Acme", timeout=20))
    two = background(lambda: second.resolve("fields://Acme", timeout=20))
    wait_for_listeners(store_url, 2)
    pusher.push(EMAIL, "Your code is 400004")
    time.sleep(0.3)
    done = [f for f in (one, two) if f.done()]
    assert len(done) == 1  # one code, one login; the other keeps waiting
    pusher.push(EMAIL, "Your code is 500005")
    codes = {one.result(20).totp.code, two.result(20).totp.code}  # type: ignore[union-attr]
    assert codes == {"400004", "500005"}
    assert {c.status() for c in pusher.list(EMAIL)} == {"consumed"}


def test_without_consumption_both_get_the_code(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    first, second = make_vaults(ACME, consume=False), make_vaults(ACME, consume=False)
    one = background(lambda: first.resolve("fields://Acme", timeout=20))
    two = background(lambda: second.resolve("fields://Acme", timeout=20))
    wait_for_listeners(store_url, 2)
    pusher.push(EMAIL, "Your code is 600006")
    assert one.result(20).totp.code == two.result(20).totp.code == "600006"  # type: ignore[union-attr]
    assert [c.status() for c in pusher.list(EMAIL)] == ["active"]


def test_a_magic_link_is_returned_instead_of_a_code(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    vaults = make_vaults(ACME)
    future = background(lambda: vaults.resolve("fields://Acme", timeout=20))
    wait_for_listeners(store_url)
    pusher.push(EMAIL, LINK_MAIL, source="email")
    cred = future.result(20)
    assert cred.magic_link == "https://login.acme.example/magic?token=abcDEF123456789xyz"
    assert cred.totp is None and cred.totp_source == "inbox"
    data = cred.public_dict()
    assert data["magic_link"] == cred.magic_link and data["totp"] is None


def test_wait_false_looks_once_and_returns_the_login(
    make_vaults: MakeVaults, pusher: Inbox
) -> None:
    vaults = make_vaults(ACME)
    started = time.monotonic()
    cred = vaults.resolve("fields://Acme", wait=False)
    assert time.monotonic() - started < 2
    assert (cred.totp, cred.magic_link, cred.totp_source) == (None, None, None)
    assert cred.username == "alice"  # the host can fill the form, then wait for the code
    since = time.time()
    pusher.push(EMAIL, "Your code is 700007")
    later = vaults.resolve("fields://Acme", wait=False, since=since)
    assert (later.totp_source, later.totp.code) == ("inbox", "700007")  # type: ignore[union-attr]
    again = vaults.resolve("fields://Acme", wait=False, since=since)
    assert again.totp is None  # consumed by the first look


def test_timeout_zero_is_one_look_then_code_timeout(make_vaults: MakeVaults) -> None:
    started = time.monotonic()
    with pytest.raises(CodeTimeout, match="within 0 s"):
        make_vaults(ACME).resolve("fields://Acme", timeout=0)
    assert time.monotonic() - started < 2


def test_on_wait_says_what_is_awaited(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    seen: list[Waiting] = []
    vaults = make_vaults(ACME, code_timeout=42)
    future = background(lambda: vaults.resolve("fields://Acme", on_wait=seen.append))
    wait_for_listeners(store_url)
    pusher.push(EMAIL, "Your code is 800008")
    future.result(20)
    assert seen == [Waiting(source="inbox", target=EMAIL, timeout=42.0)]
    assert seen[0].describe() == "a code for user@example.com (inbox)"
    vaults.resolve("fields://Acme", wait=False, on_wait=seen.append)
    assert len(seen) == 1  # not called when nothing blocks


def test_the_inbox_is_opened_once_and_closed_with_vaults(
    make_vaults: MakeVaults, pusher: Inbox
) -> None:
    vaults = make_vaults(ACME)
    vaults.resolve("fields://Acme", wait=False)
    inbox = vaults._inbox
    assert inbox is not None
    vaults.resolve("fields://Acme", wait=False)
    assert vaults._inbox is inbox
    vaults.close()
    assert vaults._inbox is None


def test_a_given_inbox_is_used_and_left_open(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str
) -> None:
    vaults = make_vaults(ACME, inbox=pusher)
    since = time.time()
    pusher.push(EMAIL, "Your code is 900009")
    assert vaults.resolve("fields://Acme", since=since, timeout=5).totp.code == "900009"  # type: ignore[union-attr]
    vaults.close()
    assert pusher.list(EMAIL)[0].value == "900009"  # still open


def test_the_store_comes_from_vaults_store(pusher: Inbox, store_url: str) -> None:
    from tests.delivery.conftest import FieldsBackend
    from vaults.testing.hosts import make_test_host

    with Vaults(
        make_test_host(), env={"VAULTS_STORE": store_url}, backends=[FieldsBackend([ACME])]
    ) as vaults:
        since = time.time()
        pusher.push(EMAIL, "Your code is 123987")
        cred = vaults.resolve("fields://Acme", since=since, timeout=5)
    assert cred.totp.code == "123987"  # type: ignore[union-attr]


# -- async --------------------------------------------------------------------------------
@BOTH_STORES
def test_aresolve_waits_without_a_thread_and_wakes_on_push(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str
) -> None:
    vaults = make_vaults(ACME)
    results: list[Credential] = []
    # A thread limiter of 1: a waiter that held a worker thread would block every other
    # thread hop, and the second resolve could not even fetch its item.
    limiter = anyio.CapacityLimiter(1)

    async def one(out: list[Credential]) -> None:
        out.append(await vaults.aresolve("fields://Acme", timeout=20))

    async def main() -> float:
        anyio.to_thread.current_default_thread_limiter().total_tokens = 1
        async with anyio.create_task_group() as group:
            group.start_soon(one, results)
            group.start_soon(one, results)
            await anyio.to_thread.run_sync(wait_for_listeners, store_url, 2, limiter=limiter)
            await anyio.to_thread.run_sync(
                pusher.push, EMAIL, "Your code is 246810", limiter=limiter
            )
            await anyio.to_thread.run_sync(
                pusher.push, EMAIL, "Your code is 135791", limiter=limiter
            )
            pushed = time.monotonic()
        return time.monotonic() - pushed

    latency = anyio.run(main)
    assert sorted(c.totp.code for c in results) == ["135791", "246810"]  # type: ignore[union-attr]
    assert all(c.totp_source == "inbox" for c in results)
    assert latency < 2


def test_aresolve_is_cancellable(make_vaults: MakeVaults, store_url: str) -> None:
    vaults = make_vaults(ACME)

    async def main() -> float:
        started = time.monotonic()
        with anyio.move_on_after(0.3):
            await vaults.aresolve("fields://Acme", timeout=60)
        return time.monotonic() - started

    assert anyio.run(main) < 3
    deadline = time.monotonic() + 5
    while listener_count(store_url) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert listener_count(store_url) == 0  # the cancelled waiter stopped listening


def test_aresolve_timeout_and_wait_false(make_vaults: MakeVaults, pusher: Inbox) -> None:
    vaults = make_vaults(ACME)

    async def main() -> Credential:
        with pytest.raises(CodeTimeout, match=r"'Acme' \(fields\)"):
            await vaults.aresolve("fields://Acme", timeout=0.2)
        return await vaults.aresolve("fields://Acme", wait=False)

    cred = anyio.run(main)
    assert cred.totp is None and cred.username == "alice"


def test_threads_resolving_concurrently_share_one_inbox(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str
) -> None:
    vaults = make_vaults(ACME)
    got: list[str] = []

    def run() -> None:
        cred = vaults.resolve("fields://Acme", timeout=20)
        assert cred.totp is not None
        got.append(cred.totp.code)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    wait_for_listeners(store_url, 3)
    for code in ("111001", "111002", "111003"):
        pusher.push(EMAIL, f"Your code is {code}")
    for thread in threads:
        thread.join(20)
    assert sorted(got) == ["111001", "111002", "111003"]
