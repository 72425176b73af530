"""Nothing pushed is lost, under concurrency: 16 pusher processes and 16 waiter processes share
one store (SQLite with FIFO wake-ups; PostgreSQL with LISTEN/NOTIFY), waiting with one-time
consumption (``consume=True``).

Two identifiers, 8 waiters each, written differently by pushers and waiters (``Alice@…`` /
``alice@…``, ``+1 (555) 010-0199`` / ``+15550100199``). Each pusher pushes ``ROUNDS`` codes
alternating between them; each waiter waits ``ROUNDS`` times with a long timeout and a fallback
interval longer than that timeout, so only wake-ups (or the first look) can hand a code over.
There are exactly as many waits as codes, so:

- every wait gets a code (a wait that times out means a wake-up was lost, and a code is left);
- no code goes to two waiters, and no waiter gets the other identifier's code;
- then every waiter waits once more with a short timeout on an empty inbox: each must give up
  on time, not early and not past its timeout (plus ``SLACK``).

``VAULTS_CONCURRENCY_ROUNDS`` sets ``ROUNDS`` (default 3: 48 codes, 48 waits per store). This
file doubles as the worker script (``python test_concurrency_inbox.py waiter|pusher …``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

PUSHERS = 16
WAITERS = 16
ROUNDS = int(os.environ.get("VAULTS_CONCURRENCY_ROUNDS", "3"))
WAIT_TIMEOUT = 30.0
"""Timeout of the waits that must get a code (only reached when a wake-up is lost)."""
FINAL_TIMEOUT = 1.5
"""Timeout of the last wait, on an empty inbox: it must end within [this, this + SLACK]."""
SLACK = 1.0
IDENTIFIERS = [
    ("Alice@Example.com", "alice@example.com"),
    ("+1 (555) 010-0199", "+15550100199"),
]
"""(as pushed, as waited for): the same identifier written two ways."""


# -- workers ----------------------------------------------------------------------------------


def _emit(out: IO[str], **fields: Any) -> None:
    out.write(json.dumps(fields) + "\n")
    out.flush()


def waiter(store_url: str, identifier: str, rounds: int) -> None:
    from vaults.codes.inbox import Inbox
    from vaults.errors import CodeTimeout
    from vaults.testing.hosts import make_test_host

    inbox = Inbox(store_url, host=make_test_host())
    for timeout, expect in [(WAIT_TIMEOUT, "code")] * rounds + [(FINAL_TIMEOUT, "timeout")]:
        if expect == "timeout":
            _emit(sys.stdout, event="done")
            sys.stdin.readline()  # the parent says when every code has been handed out
        started = time.monotonic()
        try:
            code = inbox.wait(identifier, timeout=timeout, interval=3600, consume=True)
        except CodeTimeout:
            _emit(sys.stdout, event="timeout", expect=expect, waited=time.monotonic() - started,
                  timeout=timeout)  # fmt: skip
        else:
            _emit(sys.stdout, event="code", expect=expect, waited=time.monotonic() - started,
                  timeout=timeout, id=code.id, identifier=code.identifier)  # fmt: skip
    inbox.close()


def pusher(store_url: str, name: str, rounds: int) -> None:
    from vaults.codes.inbox import Inbox
    from vaults.testing.hosts import make_test_host

    inbox = Inbox(store_url, host=make_test_host())
    inbox.list(limit=1)  # connected and the table exists before the start signal
    _emit(sys.stdout, event="ready")
    sys.stdin.readline()
    for n in range(rounds):
        identifier = IDENTIFIERS[(n + int(name)) % len(IDENTIFIERS)][0]
        code = inbox.push(identifier, f"Your verification code is {int(name) * 1000 + n + 100000}")
        _emit(sys.stdout, event="pushed", id=code.id, identifier=identifier)
    inbox.close()


# -- parent side ----------------------------------------------------------------------------------


@dataclass
class Worker:
    name: str
    args: list[str]
    proc: subprocess.Popen[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.changed:
                self.events.append(json.loads(line))
                self.changed.notify_all()

    def wait_for(self, event: str, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(
                lambda: any(e["event"] == event for e in self.events), timeout
            )

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()


def _spawn(name: str, args: list[str], tmp: Path) -> Worker:
    proc = subprocess.Popen(
        [sys.executable, __file__, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp / f"{name}.err").open("w"),
        text=True,
        env={**os.environ, "VAULTS_LOAD_PLUGINS": ""},
    )
    worker = Worker(name, args, proc)
    threading.Thread(target=worker.pump, daemon=True).start()
    return worker


def _listeners(store_url: str) -> int:
    if store_url.startswith("sqlite:///"):
        wake = Path(store_url[len("sqlite:///") :] + ".wake")
        return len([p for p in wake.glob("*.fifo") if not p.name.startswith(".")])
    import psycopg

    from vaults.codes.postgres_store import LISTENER_APPLICATION_NAME

    with psycopg.connect(store_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
            "AND query ILIKE 'LISTEN %%'",
            (LISTENER_APPLICATION_NAME,),
        ).fetchone()
    return int(row[0]) if row else 0


def _errors(tmp: Path, workers: list[Worker]) -> str:
    return "\n".join(
        f"{w.name} (exit {w.proc.returncode}): {(tmp / f'{w.name}.err').read_text()[-1500:]}"
        for w in workers
        if (tmp / f"{w.name}.err").read_text().strip()
    )


@dataclass
class Outcome:
    pushed: dict[str, str]
    handed: list[tuple[str, str, str]]
    """(waiter's identifier key, code id, code's identifier) per successful main wait."""
    main_waits: int
    lost: int
    wrong_identifier: int
    late: list[float]
    early: list[float]
    final_codes: int


def _run(store_url: str, tmp: Path) -> Outcome:
    waiters = [
        _spawn(
            f"waiter{i}",
            ["waiter", store_url, IDENTIFIERS[i % len(IDENTIFIERS)][1], str(ROUNDS)],
            tmp,
        )
        for i in range(WAITERS)
    ]
    pushers = [
        _spawn(f"pusher{i}", ["pusher", store_url, str(i), str(ROUNDS)], tmp)
        for i in range(PUSHERS)
    ]
    everyone = waiters + pushers
    try:
        for p in pushers:
            assert p.wait_for("ready", 60), _errors(tmp, everyone)
        deadline = time.monotonic() + 60
        while _listeners(store_url) < WAITERS:  # every waiter asleep before the first push
            assert time.monotonic() < deadline, "waiters never registered\n" + _errors(
                tmp, everyone
            )
            time.sleep(0.02)
        for p in pushers:
            p.send("go")
        for w in waiters:
            assert w.wait_for("done", WAIT_TIMEOUT * ROUNDS + 30), _errors(tmp, everyone)
        for w in waiters:
            w.send("final")
        for worker in everyone:
            worker.proc.wait(60)
    finally:
        for worker in everyone:
            if worker.proc.poll() is None:
                worker.proc.kill()
                worker.proc.wait()
    assert all(w.proc.returncode == 0 for w in everyone), _errors(tmp, everyone)
    keys = {pushed: waited for pushed, waited in IDENTIFIERS}
    pushed = {e["id"]: keys[e["identifier"]] for p in pushers for e in p.events if e.get("id")}
    handed: list[tuple[str, str, str]] = []
    lost = wrong = final_codes = 0
    late: list[float] = []
    early: list[float] = []
    main_waits = 0
    for w in waiters:
        wanted = w.args[2]  # the identifier it waited for
        for e in w.events:
            if e["event"] not in ("code", "timeout"):
                continue
            if e["waited"] > e["timeout"] + SLACK:
                late.append(e["waited"])
            if e["expect"] == "code":
                main_waits += 1
                if e["event"] == "timeout":
                    lost += 1
                else:
                    handed.append((wanted, e["id"], e["identifier"]))
                    wrong += pushed.get(e["id"]) != wanted
            elif e["event"] == "code":
                final_codes += 1
            elif e["waited"] < e["timeout"]:
                early.append(e["waited"])
    return Outcome(pushed, handed, main_waits, lost, wrong, late, early, final_codes)


def _check(outcome: Outcome, store: str, report: Any) -> None:
    counts = Counter(code_id for _, code_id, _ in outcome.handed)
    doubles = sum(n - 1 for n in counts.values() if n > 1)
    left = sorted(set(outcome.pushed) - set(counts))
    report.record(
        "crash",
        f"16 pushers / 16 waiters, wake-ups ({store})",
        checked=outcome.main_waits,
        failures={"lost wake-ups": outcome.lost, "waits past timeout": len(outcome.late)},
        unit="wake-ups",
        detail=(
            f"{PUSHERS} pusher and {WAITERS} waiter processes, {len(outcome.pushed)} codes, "
            f"fallback poll 1 h (> timeout); +{WAITERS} empty-inbox waits of "
            f"{FINAL_TIMEOUT:g} s ended within {SLACK:g} s"
        ),
    )
    report.record(
        "crash",
        f"one-time consumption, hand-outs ({store})",
        checked=len(outcome.handed),
        failures={"double hand-outs": doubles + outcome.wrong_identifier},
        unit="hand-outs",
        detail="consume=True; also checked: no code handed to the other identifier's waiter",
    )
    assert len(outcome.pushed) == PUSHERS * ROUNDS
    assert outcome.main_waits == WAITERS * ROUNDS
    assert doubles == 0, f"{doubles} codes were handed to two waiters"
    assert outcome.wrong_identifier == 0, "a waiter got another identifier's code"
    assert outcome.lost == 0 and not left, (
        f"{outcome.lost} waits timed out while {len(left)} codes were never handed out"
    )
    assert outcome.final_codes == 0, "a code was handed out twice (found on an empty inbox)"
    assert not outcome.late, f"waits ran past their timeout: {outcome.late}"
    assert not outcome.early, f"waits gave up before their timeout: {outcome.early}"


def test_sqlite_16_pushers_16_waiters(reliability_report: Any, tmp_path: Path) -> None:
    outcome = _run(f"sqlite:///{tmp_path / 'codes.db'}", tmp_path)
    _check(outcome, "SQLite", reliability_report)


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from vaults.testing.pg_cluster import PostgresMissing, ThrowawayPostgres, wait_ready

    try:
        server = ThrowawayPostgres().start()
    except PostgresMissing as exc:
        if os.environ.get("VAULTS_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"VAULTS_REQUIRE_POSTGRES=1 but {exc}")
        pytest.skip(f"PostgreSQL concurrency test skipped: {exc}")
    try:
        wait_ready(server.url)
        yield server.url
    finally:
        server.stop()


def test_postgresql_16_pushers_16_waiters(
    reliability_report: Any, tmp_path: Path, pg_url: str
) -> None:
    outcome = _run(pg_url, tmp_path)
    _check(outcome, "PostgreSQL", reliability_report)


if __name__ == "__main__" and len(sys.argv) == 5:
    if sys.argv[1] == "waiter":
        waiter(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "pusher":
        pusher(sys.argv[2], sys.argv[3], int(sys.argv[4]))
