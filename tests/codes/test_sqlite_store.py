"""SQLite specifics: WAL mode, private files, threads, fork, and the polling fallback."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from vaults.codes.inbox import Inbox
from vaults.codes.sqlite_store import SqliteStore
from vaults.host import PluginHost

MESSAGE = "Your Acme verification code is {}."


def test_wal_mode_and_private_files(tmp_path: Path, codes_host: PluginHost) -> None:
    db = tmp_path / "data" / "codes.db"
    with Inbox(f"sqlite:///{db}", host=codes_host) as inbox:
        inbox.push("a@example.com", MESSAGE.format("482913"))
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert (db.stat().st_mode & 0o777) == 0o600
    assert (db.parent.stat().st_mode & 0o777) == 0o700


def test_one_inbox_shared_by_many_threads(tmp_path: Path, codes_host: PluginHost) -> None:
    inbox = Inbox(f"sqlite:///{tmp_path / 'codes.db'}", host=codes_host)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                inbox.push(f"user{n}@example.com", MESSAGE.format(f"{n}{i:02d}913"))
                inbox.list(f"user{n}@example.com", limit=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert len(inbox.list(limit=200)) == 120
    assert inbox.wait("user3@example.com", timeout=0).value == "319913"
    inbox.close()


def _push_in_child() -> None:
    inbox = _INHERITED.get("inbox")
    assert isinstance(inbox, Inbox)
    inbox.push("child@example.com", MESSAGE.format("771203"))


_INHERITED: dict[str, object] = {}


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_a_forked_child_can_use_the_parents_inbox(tmp_path: Path, codes_host: PluginHost) -> None:
    url = f"sqlite:///{tmp_path / 'codes.db'}"
    inbox = Inbox(url, host=codes_host)
    inbox.push("parent@example.com", MESSAGE.format("660412"))  # the parent has a connection
    _INHERITED["inbox"] = inbox
    try:
        child = multiprocessing.get_context("fork").Process(target=_push_in_child)
        child.start()
        child.join(20)
        assert child.exitcode == 0
    finally:
        _INHERITED.clear()
    assert inbox.wait("child@example.com", timeout=0).value == "771203"
    inbox.close()


def test_the_poll_interval_is_the_fallback(tmp_path: Path, codes_host: PluginHost) -> None:
    db = tmp_path / "codes.db"
    waiter = Inbox(f"sqlite:///{db}", host=codes_host)
    # a pusher whose wake-ups never arrive (as if the FIFO directory were unusable)
    silent = Inbox(store=SqliteStore(db, wakeups=False), host=codes_host)
    got: list[float] = []

    def wait() -> None:
        waiter.wait("a@example.com", timeout=10, interval=0.3)
        got.append(time.monotonic())

    thread = threading.Thread(target=wait)
    thread.start()
    wake_dir = tmp_path / "codes.db.wake"
    deadline = time.monotonic() + 10
    while not (wake_dir.is_dir() and any(wake_dir.glob("*.fifo"))):  # the waiter is asleep
        assert time.monotonic() < deadline
        time.sleep(0.01)
    pushed = time.monotonic()
    silent.push("a@example.com", MESSAGE.format("482913"))
    thread.join(10)
    assert got, "the waiter never found the code"
    assert 0 < got[0] - pushed < 1.0  # found on the next poll, not by a wake-up
    waiter.close()
    silent.close()


def test_waiting_without_a_usable_wake_directory_still_works(
    tmp_path: Path, codes_host: PluginHost
) -> None:
    db = tmp_path / "codes.db"
    (tmp_path / "codes.db.wake").write_text("a file where the directory should be")
    with Inbox(f"sqlite:///{db}", host=codes_host) as inbox:
        inbox.push("a@example.com", MESSAGE.format("482913"))
        assert inbox.wait("a@example.com", timeout=1, interval=0.05).value == "482913"
        with pytest.raises(Exception, match="no code"):
            inbox.wait("b@example.com", timeout=0.1, interval=0.05)


def test_many_first_uses_of_a_new_file_at_once(tmp_path: Path) -> None:
    # Switching a new file to WAL answers "database is locked" at once (no busy timeout)
    # when another connection is doing the same: first uses racing must all succeed.
    errors: list[BaseException] = []
    for trial in range(40):
        db = tmp_path / f"race{trial}.db"

        def first_use(store: SqliteStore) -> None:
            try:
                store.newest(key="k", since=None, now=time.time(), consume=False)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=first_use, args=(SqliteStore(db),)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert not errors, errors[0]
