"""CLI cold start: ``vaults totp SECRET`` against ``python -c pass``, as a markdown table.

Both are whole processes started the same way (the venv's interpreter / console script),
run interleaved so machine noise hits both alike; the figure is the median wall time.
Target: ``vaults totp`` at most 6x the bare interpreter. Exits 1 when the target is missed.
Run: ``.venv/bin/python bench/core_cold_start.py [--runs 30]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

TARGET = 6.0
SECRET = "JBSWY3DPEHPK3PXP"


def vaults_script() -> Path:
    """The ``vaults`` console script next to this interpreter (what a host shells out to)."""
    script = Path(sys.executable).with_name("vaults")
    if not script.exists():
        raise SystemExit(f"no vaults console script next to {sys.executable}: pip install -e .")
    return script


def wall_time(argv: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr.decode()[:300]}")
    return elapsed


def measure(runs: int, warmup: int = 3) -> tuple[list[float], list[float]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "PYTHON"))}
    baseline_cmd = [sys.executable, "-c", "pass"]
    ours_cmd = [str(vaults_script()), "totp", SECRET]
    for _ in range(warmup):  # fill the OS page cache; bytecode is already compiled
        wall_time(baseline_cmd, env)
        wall_time(ours_cmd, env)
    baseline: list[float] = []
    ours: list[float] = []
    for index in range(runs):
        pair = [(baseline_cmd, baseline), (ours_cmd, ours)]
        if index % 2:  # alternate which one goes first
            pair.reverse()
        for argv, into in pair:
            into.append(wall_time(argv, env))
    return baseline, ours


def table(baseline: list[float], ours: list[float]) -> tuple[str, bool]:
    base_ms = statistics.median(baseline) * 1000
    ours_ms = statistics.median(ours) * 1000
    ratio = ours_ms / base_ms
    ok = ratio <= TARGET
    rows = [
        "| benchmark | median | min | runs | ratio | target | result |",
        "|---|---:|---:|---:|---:|---:|---|",
        f"| `python -c pass` (baseline) | {base_ms:.1f} ms | {min(baseline) * 1000:.1f} ms "
        f"| {len(baseline)} | 1.00x | | |",
        f"| `vaults totp SECRET` | {ours_ms:.1f} ms | {min(ours) * 1000:.1f} ms "
        f"| {len(ours)} | {ratio:.2f}x | <= {TARGET:g}x | {'PASS' if ok else 'FAIL'} |",
    ]
    return "\n".join(rows), ok


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="whole-process runs of each")
    args = parser.parse_args(argv)
    baseline, ours = measure(max(1, args.runs))
    text, ok = table(baseline, ours)
    print("### CLI cold start (`vaults totp` vs bare interpreter)")
    print()
    print(text)
    if not ok:
        print("TARGET MISSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
