"""TOTP generation per code: ``vaults.totp.code_at`` against plain pyotp, as a markdown table.

Steady state on both sides: pyotp gets a prebuilt ``pyotp.TOTP(secret)`` and calls
``.at(t)``; vaults gets a parsed ``TotpSecret`` and calls ``code_at(secret, t)`` (which also
returns the validity window as a pydantic ``TotpCode``). Each round times ``--iterations``
codes for successive 30 s windows; rounds alternate between the two and the figure is the
median per-code time over ``--rounds``. Target: at most 1.2x pyotp. Exits 1 when missed.
Run: ``.venv/bin/python bench/core_totp_speed.py [--rounds 9] [--iterations 20000]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402

from vaults.totp import code_at, code_for_entry, parse_secret  # noqa: E402
from vaults.totp_core import code_for_counter, parse_params  # noqa: E402

TARGET = 1.2
SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's SHA-1 seed (160 bits)
START = 1_700_000_000


def per_code(run: Callable[[Sequence[int]], object], times: Sequence[int]) -> float:
    start = time.perf_counter()
    run(times)
    return (time.perf_counter() - start) / len(times)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--iterations", type=int, default=20000)
    args = parser.parse_args(argv)
    times = [START + 30 * i for i in range(max(1, args.iterations))]

    totp = pyotp.TOTP(SECRET)
    secret = parse_secret(SECRET)
    params = parse_params(SECRET)

    def run_pyotp(ts: Sequence[int]) -> None:
        at = totp.at
        for t in ts:
            at(t)

    def run_ours(ts: Sequence[int]) -> None:
        for t in ts:
            code_at(secret, t)

    def run_entry(ts: Sequence[int]) -> None:
        for t in ts:
            code_for_entry(secret, t)

    def run_core(ts: Sequence[int]) -> None:
        for t in ts:
            code_for_counter(params, t // 30)

    for t in times[:: max(1, len(times) // 200)]:  # same codes, or the timing means nothing
        if code_at(secret, t).code != totp.at(t):
            raise SystemExit(f"code mismatch at {t}")

    runners = {"pyotp": run_pyotp, "ours": run_ours, "entry": run_entry, "core": run_core}
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for run in runners.values():  # warm-up: caches, branch predictors, CPU frequency
        run(times[:2000])
    for index in range(max(1, args.rounds)):
        order = list(runners.items())
        if index % 2:
            order.reverse()
        for name, run in order:
            samples[name].append(per_code(run, times))

    us = {name: statistics.median(values) * 1e6 for name, values in samples.items()}
    ratio = us["ours"] / us["pyotp"]
    ok = ratio <= TARGET
    print("### TOTP generation per code (steady state)")
    print()
    print("| implementation | per code | codes/s | ratio to pyotp | target | result |")
    print("|---|---:|---:|---:|---:|---|")
    print(
        f"| `pyotp.TOTP(s).at(t)` (prebuilt) | {us['pyotp']:.2f} µs "
        f"| {1e6 / us['pyotp']:,.0f} | 1.00x | | |"
    )
    print(
        f"| `vaults.totp.code_at(parsed, t)` | {us['ours']:.2f} µs | {1e6 / us['ours']:,.0f} "
        f"| {ratio:.2f}x | <= {TARGET:g}x | {'PASS' if ok else 'FAIL'} |"
    )
    print(
        f"| `code_for_entry(parsed, t)` (skip rule) | {us['entry']:.2f} µs "
        f"| {1e6 / us['entry']:,.0f} | {us['entry'] / us['pyotp']:.2f}x | | info |"
    )
    print(
        f"| `totp_core.code_for_counter` (CLI path, str only) | {us['core']:.2f} µs "
        f"| {1e6 / us['core']:,.0f} | {us['core'] / us['pyotp']:.2f}x | | info |"
    )
    print()
    print(f"{args.rounds} rounds x {len(times)} codes each; median round.")
    if not ok:
        print("TARGET MISSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
