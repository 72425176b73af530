"""Nothing pushed is lost: writer processes pushing codes into the SQLite store are killed with
SIGKILL at random points; afterwards every push they acknowledged is there and the database
opens cleanly (``PRAGMA integrity_check``), round after round on the same file.

A writer (this file run as a script) pushes codes through :class:`vaults.codes.inbox.Inbox` in a
loop and prints each acknowledged id, flushed, only after ``push`` returned. Two writers share
the file, so kills also land while one holds the write lock or the WAL is being checkpointed.
``VAULTS_CRASH_ROUNDS`` sets the rounds (default 16 under ``make reliability``, 6 otherwise).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

WRITERS = 2


def writer(db: str, name: str) -> None:
    """Push codes forever; print each id once ``push`` has returned (the acknowledgement)."""
    from vaults.codes.inbox import Inbox
    from vaults.testing.hosts import make_test_host

    # no row cap: every acknowledged code must stay (the cap would trim the oldest of each
    # identifier's codes past 100, by design)
    inbox = Inbox(f"sqlite:///{db}", host=make_test_host(), max_codes_per_identifier=10**9)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    n = 0
    while True:
        code = inbox.push(
            f"user{n % 7}@example.com",
            f"Subject: sign-in\n\nYour verification code is {100000 + (n * 7919) % 900000}.",
            source="email",
            task_id=f"{name}-{n}",
            workflow_run_id=f"run-{n % 3}",
        )
        out.write(code.id + "\n")
        out.flush()
        n += 1


@dataclass
class Writer:
    proc: subprocess.Popen[str]
    acked: list[str] = field(default_factory=list)
    ready: threading.Event = field(default_factory=threading.Event)
    reader: threading.Thread | None = None

    def read(self, stream: IO[str]) -> None:
        for line in stream:
            if not line.endswith("\n"):  # a line cut by the kill: never acknowledged
                break
            text = line.strip()
            if text == "ready":
                self.ready.set()
            elif text:
                self.acked.append(text)


def _start(db: Path, name: str, tmp: Path) -> Writer:
    env = {**os.environ, "VAULTS_LOAD_PLUGINS": ""}
    proc = subprocess.Popen(
        [sys.executable, __file__, "writer", str(db), name],
        stdout=subprocess.PIPE,
        stderr=(tmp / f"{name}.err").open("w"),
        text=True,
        env=env,
    )
    w = Writer(proc)
    assert proc.stdout is not None
    w.reader = threading.Thread(target=w.read, args=(proc.stdout,), daemon=True)
    w.reader.start()
    return w


def _check(db: Path) -> tuple[str, set[str]]:
    """(integrity_check verdict, stored ids) of a fresh connection to the file."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        verdict = "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))
        tables = {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master")}
        # writers killed before their first push has made the schema: nothing stored yet
        query = "SELECT code_id FROM codes"
        ids = {str(row[0]) for row in conn.execute(query)} if "codes" in tables else set()
    finally:
        conn.close()
    return verdict, ids


def test_pushes_killed_mid_write_lose_nothing_acknowledged(
    reliability_report: Any, tmp_path: Path
) -> None:
    rounds = int(os.environ.get("VAULTS_CRASH_ROUNDS", "16" if reliability_report.enabled else "6"))
    rng = random.Random()
    db = tmp_path / "codes.db"
    acked: set[str] = set()
    lost: set[str] = set()
    unclean: list[str] = []
    kills = 0
    in_flight_committed = 0
    stored: set[str] = set()
    for round_no in range(rounds):
        writers = [_start(db, f"w{round_no}-{i}", tmp_path) for i in range(WRITERS)]
        for w in writers:
            assert w.ready.wait(30), (tmp_path / f"w{round_no}-0.err").read_text()
        # kill each writer at its own random moment within ~0.4 s of pushing
        deadlines = sorted((rng.uniform(0.01, 0.4), i) for i in range(WRITERS))
        started = time.monotonic()
        for at, index in deadlines:
            time.sleep(max(0.0, started + at - time.monotonic()))
            os.kill(writers[index].proc.pid, signal.SIGKILL)
            kills += 1
        for w in writers:
            w.proc.wait(10)
            assert w.reader is not None
            w.reader.join(10)
            assert w.proc.returncode == -signal.SIGKILL
            acked.update(w.acked)
        before = stored
        verdict, stored = _check(db)
        if verdict != "ok":
            unclean.append(f"round {round_no}: {verdict[:200]}")
        lost |= acked - stored
        # a push killed between its commit and its acknowledgement: stored, unacknowledged
        in_flight_committed += len(stored - before - acked)
    # the store still works after all that: one more push is found by a fresh inbox
    from vaults.codes.inbox import Inbox
    from vaults.testing.hosts import make_test_host

    with Inbox(f"sqlite:///{db}", host=make_test_host()) as inbox:
        inbox.push("after@example.com", "Your code is 482913")
        assert inbox.wait("after@example.com", timeout=0).value == "482913"
    acknowledged = len(acked)
    reliability_report.record(
        "crash",
        "push killed mid-write (SQLite, WAL)",
        checked=kills,
        failures={"acknowledged codes lost": len(lost), "unclean opens": len(unclean)},
        unit="pushes killed mid-write",
        detail=(
            f"{WRITERS} writer processes per round x {rounds} rounds, SIGKILL at random "
            f"points; {acknowledged} acknowledged codes checked, PRAGMA integrity_check after "
            f"every round; {in_flight_committed} kills fell between commit and acknowledgement"
        ),
    )
    assert not unclean, unclean
    assert not lost, f"{len(lost)} acknowledged codes are gone: {sorted(lost)[:5]}"
    assert acknowledged > rounds, "the writers hardly pushed anything"


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "writer":
    writer(sys.argv[2], sys.argv[3])
