"""``make bench``: run every ``bench/*.py`` script (except this one) and collect their tables.

Each script runs as its own process with this interpreter, from the repository root, and
prints a markdown table (and exits non-zero when it misses its target). Their outputs are
printed one after the other; with ``--record`` they are also written to
``bench/RESULTS.md`` with the date and the machine (CPU count, Python version, platform);
sections of scripts that did not run this time (``--only``) are kept as recorded.
Exits 1 when any script failed or missed its target.

    .venv/bin/python bench/run.py [--record] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
MARKER = "<!-- bench:"
TIMEOUT = 60 * 60


@dataclass
class Outcome:
    name: str
    returncode: int
    seconds: float
    stdout: str
    stderr: str

    @property
    def status(self) -> str:
        if self.returncode == 0:
            return "PASS"
        return "TIMEOUT" if self.returncode == -1 else f"FAIL (exit {self.returncode})"


def scripts(only: Sequence[str]) -> list[Path]:
    found = sorted(p for p in BENCH.glob("*.py") if p.name != Path(__file__).name)
    if only:
        wanted = {name.removesuffix(".py") for name in only}
        found = [p for p in found if p.stem in wanted]
        missing = wanted - {p.stem for p in found}
        if missing:
            raise SystemExit(f"no such benchmark: {', '.join(sorted(missing))}")
    return found


def run(script: Path) -> Outcome:
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(script)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        code, out, err = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as exc:
        code = -1
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err = f"timed out after {TIMEOUT} s"
    return Outcome(script.stem, code, time.perf_counter() - start, out, err)


def machine() -> str:
    return (
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"{platform.system()} {platform.release()} {platform.machine()}"
        if hasattr(os, "sched_getaffinity")
        else f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}"
    )


def section(outcome: Outcome, when: str = "") -> str:
    stamp = f", {when}" if when else ""
    lines = [f"{MARKER}{outcome.name} -->", f"## {outcome.name}", ""]
    lines.append(f"`bench/{outcome.name}.py` — {outcome.status}, {outcome.seconds:.1f} s{stamp}")
    lines.append("")
    lines.append(outcome.stdout.strip() or "(no output)")
    if outcome.returncode != 0 and outcome.stderr.strip():
        lines += ["", "```", outcome.stderr.strip()[-2000:], "```"]
    return "\n".join(lines)


def recorded_sections(text: str) -> dict[str, str]:
    """The sections of an existing RESULTS.md (kept when only some scripts ran); each starts
    with a ``<!-- bench:NAME -->`` marker, as scripts may print headings of their own."""
    sections: dict[str, str] = {}
    for chunk in text.split(MARKER)[1:]:
        name, _, rest = chunk.partition(" -->")
        sections[name.strip()] = f"{MARKER}{name.strip()} -->{rest}".strip()
    return sections


def report(outcomes: Sequence[Outcome], previous: str = "") -> str:
    """RESULTS.md: these outcomes, plus earlier sections of scripts that did not run now
    (each section says when and on which machine it was recorded)."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    where = machine()
    sections = recorded_sections(previous)
    current = {p.stem for p in BENCH.glob("*.py")}
    sections = {name: text for name, text in sections.items() if name in current}
    for outcome in outcomes:
        sections[outcome.name] = section(outcome, f"recorded {now} on {where}")
    head = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python bench/run.py --record`); do not edit by hand.",
        "",
        f"- Last recorded: {now}",
        f"- Machine: {where}",
    ]
    body = [sections[name] for name in sorted(sections)]
    return "\n".join(head) + "\n\n" + "\n\n".join(body) + "\n"


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help=f"rewrite {RESULTS.name}")
    parser.add_argument("--only", nargs="+", default=[], metavar="NAME", help="run only these")
    args = parser.parse_args(argv)

    outcomes: list[Outcome] = []
    for script in scripts(args.only):
        print(f"-- running bench/{script.name} ...", file=sys.stderr, flush=True)
        outcome = run(script)
        outcomes.append(outcome)
        print(section(outcome).split("\n", 1)[1], flush=True)
        print(flush=True)
    if args.record:
        previous = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else ""
        RESULTS.write_text(report(outcomes, previous), encoding="utf-8")
        print(f"recorded in {RESULTS.relative_to(ROOT)}", file=sys.stderr)
    failed = [o.name for o in outcomes if o.returncode != 0]
    summary = ", ".join(f"{o.name} {o.status}" for o in outcomes) or "no benchmarks found"
    print(f"summary: {summary}", file=sys.stderr)
    return 1 if failed or not outcomes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
