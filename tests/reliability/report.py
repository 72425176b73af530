"""Figures for ``docs/reliability.md``: reliability tests record what they checked here.

Each call to :func:`record` appends one JSON line to the file named by the environment variable
``VAULTS_RELIABILITY_OUT`` (``tests/reliability/run.py`` sets it); without it, recording does
nothing, so the tests run the same under a plain ``pytest``. Appends are single ``write`` calls
on an ``O_APPEND`` file, so tests, subprocesses and threads may record at once.

A row is ``(section, name)``: what was tried (``checked``) and how many of those tries went wrong
(``failures``, one count or one count per kind). Rows with the same section and name are summed
(a parametrized test may record once per case).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ENV", "SECTIONS", "Recorder", "Row", "Section", "read_rows", "record"]

ENV = "VAULTS_RELIABILITY_OUT"


@dataclass(frozen=True)
class Section:
    """One section of the report: what ``checked`` counts and the failure kinds it shows."""

    key: str
    title: str
    unit: str
    failure_kinds: tuple[str, ...]
    about: str = ""


SECTIONS: dict[str, Section] = {
    s.key: s
    for s in (
        Section(
            "leaks",
            "Secrets never leak",
            "paths checked",
            ("leaks",),
            "Every vault, the codes inbox and pull endpoints are seeded with canaries, one per "
            "kind (item password, TOTP secret, BW_SESSION, BW_PASSWORD, OP_CONNECT_TOKEN, "
            "OP_SERVICE_ACCOUNT_TOKEN, VAULTS_API_KEY, pull API key, KeePass master password, "
            "store password, URL token, magic-link token, wrong passwords typed). A path is one "
            "error (or success) path seen through one surface: exception str/repr/traceback, "
            "log records of every logger at DEBUG, CLI stdout+stderr (plain, --json, "
            "VAULTS_DEBUG=1), HTTP error body, credential repr/str/JSON. A leak is a canary "
            "found in any of them.",
        ),
        Section(
            "parsers",
            "Parsers never crash",
            "inputs tried",
            ("crashes",),
            "Inputs tried per parser (property-based and coverage-guided); a crash is any "
            "exception other than the documented typed errors.",
        ),
        Section(
            "faults",
            "Faults never hang and never lie",
            "scenarios",
            ("hangs", "wrong errors"),
            "Real misbehaving servers on 127.0.0.1 (500, 429 + Retry-After, resets, slow and "
            "trickled answers, truncated bodies and JSON) and bw/op stand-ins that hang, die by "
            "a signal or print garbage. A hang is a call not finished within its bound (tries x "
            "timeout + backoff + Retry-After); a wrong error is a wrong type, a message not "
            "naming the cause, an unbounded or missing retry, a retried not-found, or a child "
            "process left running.",
        ),
        Section(
            "crash",
            "Crashes and concurrency",
            "tries",
            ("acknowledged codes lost", "lost wake-ups", "double hand-outs"),
            "Pushes killed mid-write, concurrent pushers and waiters across processes, one-time "
            "hand-outs.",
        ),
        Section(
            "exposed",
            "Exposed to the internet",
            "attacks",
            ("got through",),
            "Attacks on a real `vaults serve` process and on signed pulls, as an attacker on the "
            "internet would make them: slowloris connections (headers or body trickled), wrong-key "
            "guessing, push floods for one identifier, replayed, cross-URL and future-dated "
            "signatures, forged magic links and origin-bound codes for other sites, and codes left "
            "on disk after they expired or were used. 'Got through' counts attacks that "
            "succeeded: a connection still held past its timeout, a guess answered 401 instead "
            "of 429 past the limit, a push past the quota, a signature accepted, a forged link "
            "handed to a login, a file still holding a code.",
        ),
    )
}


@dataclass
class Row:
    """Aggregated figures of one ``(section, name)``."""

    section: str
    name: str
    unit: str
    checked: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())


def _failures(section: Section, failures: int | Mapping[str, int]) -> dict[str, int]:
    if isinstance(failures, Mapping):
        counts = {str(kind): int(n) for kind, n in failures.items()}
    else:
        counts = {section.failure_kinds[0]: int(failures)}
    if any(n < 0 for n in counts.values()):
        raise ValueError(f"negative failure count: {counts}")
    return counts


def record(
    section: str,
    name: str,
    *,
    checked: int,
    failures: int | Mapping[str, int] = 0,
    unit: str | None = None,
    detail: str = "",
    test: str = "",
) -> None:
    """Record that ``checked`` things of ``name`` were tried and ``failures`` went wrong.

    ``section``: one of ``SECTIONS`` (``leaks``, ``parsers``, ``faults``, ``crash``,
    ``exposed``).
    ``failures``: an int counts the section's first failure kind (leaks / crashes / hangs /
    acknowledged codes lost); a mapping names the kinds, e.g. ``{"hangs": 0, "wrong errors": 1}``.
    ``unit``: what ``checked`` counts when not the section's default (e.g. ``"pushes killed
    mid-write"``). ``detail``: one short line for the report. Never put a secret in any of these.
    """
    try:
        sect = SECTIONS[section]
    except KeyError:
        raise ValueError(f"unknown section {section!r}; one of {sorted(SECTIONS)}") from None
    if checked < 0:
        raise ValueError(f"negative checked count: {checked}")
    counts = _failures(sect, failures)
    target = os.environ.get(ENV)
    if not target:
        return
    line = json.dumps(
        {
            "section": section,
            "name": name,
            "unit": unit or sect.unit,
            "checked": int(checked),
            "failures": counts,
            "detail": detail,
            "test": test,
            "pid": os.getpid(),
            "time": time.time(),
        },
        ensure_ascii=False,
    )
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


class Recorder:
    """What the ``reliability_report`` fixture yields: :func:`record` tagged with the test id."""

    def __init__(self, test: str = "") -> None:
        self.test = test

    @property
    def enabled(self) -> bool:
        """True when figures are being collected (``make reliability``)."""
        return bool(os.environ.get(ENV))

    def record(
        self,
        section: str,
        name: str,
        *,
        checked: int,
        failures: int | Mapping[str, int] = 0,
        unit: str | None = None,
        detail: str = "",
    ) -> None:
        record(
            section,
            name,
            checked=checked,
            failures=failures,
            unit=unit,
            detail=detail,
            test=self.test,
        )


def read_rows(path: Path) -> list[Row]:
    """The recorded lines of ``path`` summed per ``(section, name)``, in first-recorded order."""
    rows: dict[tuple[str, str], Row] = {}
    if not path.exists():
        return []
    for raw in path.read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        entry = json.loads(raw)
        key = (entry["section"], entry["name"])
        row = rows.get(key)
        if row is None:
            row = rows[key] = Row(entry["section"], entry["name"], entry["unit"])
        row.checked += int(entry["checked"])
        for kind, n in entry["failures"].items():
            row.failures[kind] = row.failures.get(kind, 0) + int(n)
        if entry.get("detail") and entry["detail"] not in row.details:
            row.details.append(entry["detail"])
        if entry.get("test") and entry["test"] not in row.tests:
            row.tests.append(entry["test"])
    return list(rows.values())
