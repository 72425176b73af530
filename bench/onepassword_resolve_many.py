"""1Password over Connect: ``resolve_many`` of 200 items vs resolving them one by one.

Runs the local Connect test server (127.0.0.1, in its own process so that it does not share
the GIL with the client; injected latency per request, default 5 ms) with one vault of 200
logins, each with a TOTP secret, and prints a markdown table of request counts and wall
time. Targets (exit 1 when missed):

- a batch never repeats a vault lookup or a request: requests = distinct vaults (name
  lookup) + one item listing per vault (titles -> ids) + distinct items; by ids: = items;
- the concurrent batch is at least 5x faster than one by one.

Run: ``.venv/bin/python bench/onepassword_resolve_many.py [--items 200] [--latency-ms 5]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import anyio
from vaults_onepassword.connect import clear_vault_cache
from vaults_onepassword.testing.connect_server_process import ConnectServerProcess
from vaults_onepassword.testing.seed import bulk_seed, find_vault, token_for

from vaults import Credential, Vaults
from vaults.errors import VaultsError

SPEEDUP_TARGET = 5.0


@dataclass
class Run:
    mode: str
    refs: str
    requests: int
    seconds: float
    ok: int


def measure(
    server: ConnectServerProcess,
    mode: str,
    refs_label: str,
    action: Callable[[], Sequence[object]],
    repeat: int = 1,
) -> Run:
    """Best wall time of ``repeat`` cold runs (empty vault cache, fresh Vaults each time);
    requests and results of the last run."""
    best = float("inf")
    for _ in range(repeat):
        clear_vault_cache()
        server.reset_requests()
        started = time.perf_counter()
        results = action()
        best = min(best, time.perf_counter() - started)
    ok = sum(1 for r in results if isinstance(r, Credential) and r.totp is not None)
    return Run(mode, refs_label, server.request_count, best, ok)


def one_by_one(vaults: Vaults, refs: Sequence[str]) -> list[Credential | VaultsError]:
    results: list[Credential | VaultsError] = []
    for ref in refs:
        try:
            results.append(vaults.resolve(ref))
        except VaultsError as exc:
            results.append(exc)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="batch runs per mode (best)")
    args = parser.parse_args(argv)

    seed = bulk_seed(args.items)
    vault = find_vault(seed, "Bench")
    by_title = [f"op://Bench/Login {n:04d}" for n in range(args.items)]
    by_id = [f"op://{vault['id']}/{item['id']}" for item in vault["items"]]
    runs: list[Run] = []
    with ConnectServerProcess(seed, latency=args.latency_ms / 1000) as server:
        env = {
            "OP_CONNECT_HOST": server.url,
            "OP_CONNECT_TOKEN": token_for(seed, "connect"),
            "VAULTS_ONEPASSWORD_CONCURRENCY": str(args.concurrency),
        }
        for label, refs in (("titles", by_title), ("ids", by_id)):

            def sequential(refs: Sequence[str] = refs) -> list[Credential | VaultsError]:
                with Vaults(env=env, concurrency=args.concurrency) as vaults:
                    return one_by_one(vaults, refs)

            def batch(refs: Sequence[str] = refs) -> list[Credential | VaultsError]:
                with Vaults(env=env, concurrency=args.concurrency) as vaults:
                    return vaults.resolve_many(refs)

            async def concurrent(refs: Sequence[str] = refs) -> list[Credential | VaultsError]:
                async with Vaults(env=env, concurrency=args.concurrency) as vaults:
                    return await vaults.aresolve_many(refs)

            runs.append(measure(server, "one by one", label, sequential))
            runs.append(measure(server, "resolve_many", label, batch, args.repeat))
            runs.append(
                measure(server, "aresolve_many", label, lambda: anyio.run(concurrent), args.repeat)
            )

    print(
        f"## 1Password Connect: {args.items} items, 1 vault, {args.latency_ms:g} ms latency "
        f"per request, concurrency {args.concurrency}; batch times: best of {args.repeat}\n"
    )
    print("| refs | mode | requests | wall time | requests vs one by one | speed-up | resolved |")
    print("|---|---|---:|---:|---:|---:|---:|")
    failures: list[str] = []
    for label in ("titles", "ids"):
        base = next(r for r in runs if r.refs == label and r.mode == "one by one")
        target = args.items + (2 if label == "titles" else 0)  # + vault lookup + listing
        for run in (r for r in runs if r.refs == label):
            ratio = run.requests / base.requests
            speedup = base.seconds / run.seconds
            print(
                f"| {label} | {run.mode} | {run.requests} | {run.seconds * 1000:.0f} ms | "
                f"{ratio:.2f} | {speedup:.1f}x | {run.ok}/{args.items} |"
            )
            if run.ok != args.items:
                failures.append(f"{label}/{run.mode}: resolved {run.ok} of {args.items}")
            if run.mode != "one by one":
                if run.requests != target:
                    failures.append(f"{label}/{run.mode}: {run.requests} requests, want {target}")
                if speedup < SPEEDUP_TARGET:
                    failures.append(
                        f"{label}/{run.mode}: {speedup:.1f}x, want >= {SPEEDUP_TARGET}x"
                    )
    print(
        "\nBatch target: requests = 1 vault lookup + 1 listing + "
        f"{args.items} items (titles), {args.items} (ids); speed-up >= {SPEEDUP_TARGET:g}x."
    )
    if failures:
        print("\nMISSED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
