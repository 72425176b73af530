"""The report machinery: recording (JSON lines, summed rows) and the Markdown it renders."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import vaults_reliability_report as report

HERE = Path(__file__).resolve().parent


def _run_module():
    spec = importlib.util.spec_from_file_location("vaults_reliability_run", HERE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_recording_is_off_without_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv(report.ENV, raising=False)
    report.record("leaks", "x", checked=1)  # no file, no error
    assert not list(tmp_path.iterdir())


def test_rows_are_summed_and_kinds_kept(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    out = tmp_path / "figures.jsonl"
    monkeypatch.setenv(report.ENV, str(out))
    report.record("faults", "bw", checked=2, failures={"hangs": 0, "wrong errors": 1}, detail="a")
    report.record("faults", "bw", checked=3, failures={"hangs": 1}, detail="a")
    report.record("leaks", "cli", checked=5, detail="b", test="t::x")
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["pid"] for line in lines)
    faults, leaks = report.read_rows(out)
    assert (faults.checked, faults.failures, faults.details) == (
        5,
        {"hangs": 1, "wrong errors": 1},
        ["a"],
    )
    assert faults.failed == 2
    assert (leaks.checked, leaks.failures, leaks.unit, leaks.tests) == (
        5,
        {"leaks": 0},
        "paths checked",
        ["t::x"],
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"section": "nope", "name": "x", "checked": 1},
        {"section": "leaks", "name": "x", "checked": -1},
        {"section": "leaks", "name": "x", "checked": 1, "failures": -2},
    ],
)
def test_bad_records_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        report.record(**kwargs)


def test_render_shows_every_section_and_not_run(monkeypatch, tmp_path) -> None:
    run = _run_module()
    out = tmp_path / "figures.jsonl"
    monkeypatch.setenv(report.ENV, str(out))
    report.record("leaks", "CLI | pipes", checked=7)
    report.record(
        "crash",
        "kills",
        checked=4,
        unit="pushes killed mid-write",
        failures={"acknowledged codes lost": 0},
    )
    outcome = run.Outcome(exit_code=0, seconds=12.0, tests=3, skipped=1)
    text = run.render(report.read_rows(out), outcome, "make reliability", dt.datetime(2026, 1, 1))
    assert "| Secrets never leak | 7 paths checked | 0 leaks |" in text
    assert "| Parsers never crash | not run | not run |" in text
    assert "| Faults never hang and never lie | not run | not run |" in text
    assert "4 pushes killed mid-write" in text and "0 acknowledged codes lost" in text
    assert "CLI \\| pipes" in text  # table cells escaped
    assert "2 passed, 0 failed, 0 errors, 1 skipped" in text
