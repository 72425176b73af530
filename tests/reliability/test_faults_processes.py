"""Faults never hang and never lie: ``bw`` and ``op`` that hang, die or print garbage.

A stand-in executable (a shell script, via ``VAULTS_BITWARDEN_BW`` / ``VAULTS_ONEPASSWORD_OP``)
misbehaves in one way per scenario and writes the process ids it and its children get. Each
call must end within its timeout (plus the kill-and-reap allowance) with the right typed error
naming the cause, and afterwards none of those processes may still be running (checked in
/proc: gone, or a zombie awaiting its parent's reap, is not running).
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_onepassword.backend import OnePasswordBackend
from vaults_reliability_bounded import run_bounded

from vaults.errors import (
    AmbiguousItem,
    ItemNotFound,
    VaultLocked,
    VaultsError,
    VaultUnavailable,
)
from vaults.refs import parse_reference

TIMEOUT = 1.0
KILL_ALLOWANCE = 5.0 + 1.0  # a killed child's pipes held by an escaped grandchild: 5 s reap wait
SLACK = 1.5
BW_ID = "0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01"

BW_ITEM = (  # what `bw get item <id>` prints
    '{"object":"item","id":"' + BW_ID + '","type":1,"name":"GitHub",'
    '"login":{"username":"octo","password":"pw","totp":null,"uris":[]},"fields":[]}'
)
OP_ITEM = (
    '{"id":"abcdefghijklmnopqrstuvwxyz","title":"GitHub","category":"LOGIN",'
    '"vault":{"id":"zyxwvutsrqponmlkjihgfedcba","name":"Personal"},'
    '"fields":[{"id":"username","type":"STRING","purpose":"USERNAME","value":"octo"},'
    '{"id":"password","type":"CONCEALED","purpose":"PASSWORD","value":"pw"}]}'
)


@dataclass(frozen=True)
class Misbehaviour:
    """A stand-in's body (POSIX sh, after the pid bookkeeping) and what must come of it."""

    name: str
    body: Callable[[str], str]  # tool ("bw" | "op") -> script body
    expect: Any  # "ok" or (error type, words one of which the message must contain)
    runs: int | None = None  # exact number of runs (not-found: never retried)
    escapes: bool = False  # a grandchild leaves the process group on purpose
    extra_bound: float = 0.0
    tools: tuple[str, ...] = ("bw", "op")
    overrides: dict[str, Any] = field(default_factory=dict)


def _answer(tool: str) -> str:
    return BW_ITEM if tool == "bw" else OP_ITEM


KILLED = ("killed", "stopped", "did not finish", "did not answer")

MISBEHAVIOURS = [
    Misbehaviour(
        "hangs",
        lambda t: 'sleep 600 &\necho $! >> "$PIDS"\nwait\n',
        (VaultUnavailable, KILLED),
    ),
    Misbehaviour(
        "hangs and ignores SIGTERM",
        lambda t: "trap '' TERM INT HUP\nsleep 600 &\necho $! >> \"$PIDS\"\nwait\n",
        (VaultUnavailable, KILLED),
    ),
    Misbehaviour(
        "prints half an answer, then hangs",
        lambda t: f"printf '%s' '{_answer(t)[:40]}'\nexec sleep 600\n",
        (VaultUnavailable, KILLED),
    ),
    Misbehaviour(
        "closes its output and lingers",
        lambda t: "exec >/dev/null 2>&1\nexec sleep 600\n",
        (VaultUnavailable, KILLED),
    ),
    Misbehaviour(
        "dies by SIGKILL",
        lambda t: "kill -KILL $$\n",
        (VaultUnavailable, ("SIGKILL",)),
    ),
    Misbehaviour(
        "dies by SIGSEGV",
        lambda t: "kill -SEGV $$\n",
        (VaultUnavailable, ("SIGSEGV",)),
    ),
    Misbehaviour(
        "prints garbage, exit 0",
        lambda t: "printf 'garbage \\001\\002 <html>'\n",
        (VaultUnavailable, ("not JSON",)),
    ),
    Misbehaviour(
        "prints truncated JSON, exit 0",
        lambda t: f"printf '%s' '{_answer(t)[:40]}'\n",
        (VaultUnavailable, ("not JSON",)),
    ),
    Misbehaviour(
        "fails with an unknown message",
        lambda t: "echo 'Segmentation fault in the frobnicator' >&2\nexit 3\n",
        (VaultUnavailable, ("frobnicator",)),
    ),
    Misbehaviour(
        "answers, then idles",
        lambda t: f"printf '%s' '{_answer(t)}'\nexec sleep 600\n",
        "ok",
        tools=("bw",),  # op answers when it exits (communicate): for op this is "hangs"
    ),
    Misbehaviour(
        "not found",
        lambda t: (
            "echo 'Not found.' >&2\nexit 1\n"
            if t == "bw"
            else "echo '[ERROR] 2026/01/01 00:00:00 \"GitHub\" isn'\"'\"'t an item in the "
            '"Personal" vault. Specify the item with its UUID, name, or domain.\' >&2\nexit 1\n'
        ),
        (ItemNotFound, ("GitHub", BW_ID)),
        runs=1,
    ),
    Misbehaviour(
        "ambiguous",
        lambda t: (
            "echo 'More than one result was found. Try getting a specific object by "
            "`id` instead. The following objects were found:\n"
            f"{BW_ID}\n{BW_ID[:-1]}2' >&2\nexit 1\n"
            if t == "bw"
            else 'echo \'[ERROR] 2026/01/01 00:00:00 More than one item matches "GitHub". Try '
            'again and specify the item by its ID:\n\t* for the item "GitHub" in vault Personal: '
            'abcdefghijklmnopqrstuvwxyz\n\t* for the item "GitHub" in vault Personal: '
            "bcdefghijklmnopqrstuvwxyza' >&2\nexit 1\n"
        ),
        (AmbiguousItem, ("several", "match")),
        runs=1,
    ),
    Misbehaviour(
        "locked",
        lambda t: "echo 'Vault is locked.' >&2\nexit 1\n",
        (VaultLocked, ("locked",)),
        runs=1,
        tools=("bw",),
    ),
    Misbehaviour(
        "a grandchild escapes the group holding the pipes",
        lambda t: 'setsid sleep 600 &\necho $! >> "$PIDS"\nexec sleep 600\n',
        (VaultUnavailable, KILLED),
        escapes=True,
        extra_bound=KILL_ALLOWANCE,
    ),
]


def _write_tool(directory: Path, tool: str, case: Misbehaviour) -> tuple[Path, Path]:
    pids = directory / f"{tool}-pids"
    script = directory / tool
    script.write_text(f'#!/bin/sh\nPIDS="{pids}"\necho $$ >> "$PIDS"\n{case.body(tool)}')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, pids


def _state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (None: gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()[0]


def _running(pids: list[int]) -> list[int]:
    return [pid for pid in pids if _state(pid) not in (None, "Z", "X")]


def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _read_pids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split() if line.strip().isdigit()]


def _backend(tool: str, script: Path) -> Any:
    if tool == "bw":
        return BitwardenBackend.from_env(
            {
                "VAULTS_BITWARDEN_BW": str(script),
                "VAULTS_BITWARDEN_TIMEOUT": str(TIMEOUT),
                "BW_SESSION": "fault-session",
                "PATH": os.environ.get("PATH", ""),
            }
        )
    return OnePasswordBackend.from_env(
        {
            "VAULTS_ONEPASSWORD_OP": str(script),
            "VAULTS_ONEPASSWORD_TRANSPORT": "cli",
            "VAULTS_ONEPASSWORD_TIMEOUT": str(TIMEOUT),
            "OP_SERVICE_ACCOUNT_TOKEN": "ops_fault-token",
            "PATH": os.environ.get("PATH", ""),
        }
    )


def _call(tool: str, script: Path, is_async: bool) -> Any:
    backend = _backend(tool, script)
    ref = parse_reference(f"bitwarden://{BW_ID}" if tool == "bw" else "op://Personal/GitHub")
    if not is_async:
        try:
            return backend.fetch(ref)
        finally:
            backend.close()

    async def run() -> Any:
        try:
            return await backend.afetch(ref)
        finally:
            await backend.aclose()

    return anyio.run(run)


def _verdict(outcome: Any, case: Misbehaviour) -> str | None:
    if case.expect == "ok":
        return None if outcome.error is None else f"expected success: {outcome.describe()}"
    kind, words = case.expect
    if not isinstance(outcome.error, kind):
        return f"expected {kind.__name__}, got {outcome.describe()}"
    if not isinstance(outcome.error, VaultsError):
        return f"untyped error {outcome.describe()}"
    if not any(w.lower() in str(outcome.error).lower() for w in words):
        return f"the error does not name the cause ({words}): {outcome.error}"
    return None


CASES = [
    pytest.param(case, tool, is_async, id=f"{tool}-{case.name}{'-async' if is_async else ''}")
    for case in MISBEHAVIOURS
    for tool in case.tools
    for is_async in ((False, True) if case.name == "hangs" else (False,))
]


@pytest.mark.parametrize(("case", "tool", "is_async"), CASES)
def test_misbehaving_cli(
    case: Misbehaviour, tool: str, is_async: bool, tmp_path: Path, reliability_report
) -> None:
    script, pid_file = _write_tool(tmp_path, tool, case)
    bound = TIMEOUT + SLACK + case.extra_bound
    outcome = run_bounded(lambda: _call(tool, script, is_async), bound + 10)
    hung = outcome.hung or outcome.seconds > bound
    problem = None if hung else _verdict(outcome, case)
    pids = _read_pids(pid_file)
    escaped = pids[1:] if case.escapes else []
    try:
        if case.runs is not None and problem is None:
            started = [p for p in pids if p not in escaped]
            if len(started) != case.runs:
                problem = f"expected {case.runs} run(s), {tool} was started {len(started)} times"
        # an answered bw idles until its deadline, then is killed by its reaper
        wait_until = time.monotonic() + (TIMEOUT + 1.0 if case.expect == "ok" else 1.0)
        left: list[int] = []
        while time.monotonic() < wait_until:
            left = _running([p for p in pids if p not in escaped])
            left += [m for p in pids[:1] for m in _group_members(p) if m not in left]
            if not left:
                break
            time.sleep(0.05)
        if left and problem is None:
            problem = f"{tool} processes still running after the call: {left}"
    finally:
        for pid in _running(pids):  # never leave ours behind, whatever happened
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)
    reliability_report.record(
        "faults",
        f"{tool} CLI stand-in ({'async' if is_async else 'sync'})",
        checked=1,
        failures={"hangs": int(hung), "wrong errors": int(problem is not None)},
        detail="hangs (also ignoring SIGTERM), half answers, closed output, SIGKILL/SIGSEGV, "
        "garbage, truncated JSON, unknown errors, not found/ambiguous/locked (one run), "
        "escaped grandchild; every process gone afterwards",
    )
    assert not hung, f"{tool} {case.name}: {outcome.describe()} (bound {bound:.1f} s)"
    assert problem is None, f"{tool} {case.name}: {problem}"


@pytest.mark.parametrize("tool", ["bw", "op"])
def test_missing_or_unstartable_cli(tool: str, tmp_path: Path, reliability_report) -> None:
    wrong = 0
    for script, words in (
        (tmp_path / "missing" / tool, ("not found", "not be started")),
        (tmp_path / tool, ("not found", "not be started")),  # exists, not executable
    ):
        if script.parent == tmp_path:
            script.write_text("#!/bin/sh\necho hi\n")
        outcome = run_bounded(lambda s=script: _call(tool, s, False), 10)
        ok = isinstance(outcome.error, VaultUnavailable) and any(
            w in str(outcome.error) for w in words
        )
        wrong += not ok
        reliability_report.record(
            "faults",
            f"{tool} CLI stand-in (sync)",
            checked=1,
            failures={"hangs": int(outcome.hung), "wrong errors": int(not ok)},
        )
        assert ok, outcome.describe()
    assert wrong == 0
