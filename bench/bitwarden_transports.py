"""Bitwarden: our plugin over ``bw serve`` vs over the ``bw`` subprocess vs a typical script.

Same item, same machine, one run, against the local Bitwarden test server (HTTPS on
127.0.0.1) with the REAL official CLI (``node_modules/.bin/bw``):

(a) our plugin over ``bw serve``, in-process (``Vaults.resolve``, warm connection pool);
(b) our plugin over the ``bw`` subprocess (``bw get item`` per lookup; the plugin returns
    once ``bw`` has printed its answer; the idle tail is ended between lookups, untimed);
(c) what a typical integration runs per lookup: ``bw login --apikey``, ``bw unlock``,
    ``bw sync``, ``bw get item``, ``bw logout`` (five subprocesses);

plus ``resolve_many`` of 500 items over ``bw serve`` (request count, wall time) and over
``bw`` (one ``bw list items``). Prints markdown tables; exits 1 when a target is missed:

- (a) is at least 500x faster than (b) (medians);
- (a) resolves 500 items with at most 2 HTTP requests.

Run: ``.venv/bin/python bench/bitwarden_transports.py [--fast N] [--slow N] [--items 500]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.testing.cli import PASSWORD_ENV, BwCli, BwServe, find_bw_binary
from vaults_bitwarden.testing.items import VaultItem
from vaults_bitwarden.testing.seed import DEFAULT_SEED, GITHUB
from vaults_bitwarden.testing.server import BitwardenTestServer

from vaults import Credential, Vaults
from vaults.host import make_host

RATIO_TARGET = 500.0
BATCH_REQUEST_TARGET = 2


@dataclass
class Timing:
    label: str
    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def timed(label: str, runs: int, action: Callable[[], object], after: Callable[[], None]) -> Timing:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
        after()
    return Timing(label, samples)


def fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"


def bulk_items(count: int) -> list[VaultItem]:
    return [
        VaultItem(
            name=f"Bench Login {n:04d}",
            username=f"user{n:04d}@bench.example.test",
            password=f"bench-password-{n:04d}",
            totp="JBSWY3DPEHPK3PXP",
            uris=(f"https://site{n:04d}.bench.example.test/login",),
        )
        for n in range(count)
    ]


def typical_integration(cli: BwCli, server: BitwardenTestServer, item_id: str) -> None:
    """One lookup the way many scripts do it: log in, unlock, sync, get, log out."""
    keys = {"BW_CLIENTID": server.client_id, "BW_CLIENTSECRET": server.client_secret}
    cli.run("login", "--apikey", extra_env=keys)
    session = cli.run(
        "unlock", "--passwordenv", PASSWORD_ENV, "--raw",
        extra_env={PASSWORD_ENV: server.master_password},
    ).stdout.strip()  # fmt: skip
    unlocked = cli.with_session(session)
    unlocked.run("sync")
    unlocked.run("get", "item", item_id)
    unlocked.run("logout")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", type=int, default=300, help="lookups over bw serve")
    parser.add_argument("--slow", type=int, default=7, help="lookups over the bw subprocess")
    parser.add_argument("--typical", type=int, default=3, help="typical-integration lookups")
    parser.add_argument("--items", type=int, default=500, help="items for resolve_many")
    args = parser.parse_args(argv)

    binary = find_bw_binary()
    if binary is None:
        print("the Bitwarden CLI is missing: run `npm ci` at the repository root", file=sys.stderr)
        return 1
    work = Path(tempfile.mkdtemp(prefix="bench-bitwarden-"))
    bulk = bulk_items(args.items)
    server = BitwardenTestServer.create(work / "tls", items=[*DEFAULT_SEED, *bulk])
    with server:
        cli = BwCli(binary=binary, appdata_dir=work / "bw", ca_cert=server.ca_cert)
        cli.config_server(server.url)
        cli = cli.login_password(server.email, server.master_password)
        serve = BwServe.start(cli.clone(work / "serve"), log_path=work / "serve.log")
        try:
            return run_all(args, cli, serve, server, bulk)
        finally:
            serve.stop()


def run_all(
    args: argparse.Namespace,
    cli: BwCli,
    serve: BwServe,
    server: BitwardenTestServer,
    bulk: list[VaultItem],
) -> int:
    ref = f"bitwarden://{GITHUB.name}"
    serve_backend = BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": serve.url})
    cli_backend = BitwardenBackend.from_env({**cli.env, "VAULTS_BITWARDEN_BW": str(cli.binary)})
    host = make_host(load_entrypoints=False)
    fast = Vaults(host=host, env={}, backends=[serve_backend])
    slow = Vaults(host=host, env={}, backends=[cli_backend])
    for vaults in (fast, slow):  # warm up: the pool, bw's caches, the page cache
        assert vaults.resolve(ref).id == GITHUB.id
    cli_backend.close()

    a = timed("(a) plugin over `bw serve`, in-process", args.fast, lambda: fast.resolve(ref),
              lambda: None)  # fmt: skip
    b = timed("(b) plugin over the `bw` subprocess", args.slow, lambda: slow.resolve(ref),
              cli_backend.close)  # fmt: skip
    raw = timed("(b') `bw get item` subprocess until it exits (reference)", 3,
                lambda: cli.run("get", "item", GITHUB.id), lambda: None)  # fmt: skip
    typical_cli = BwCli(binary=cli.binary, appdata_dir=cli.appdata_dir.parent / "typical",
                        ca_cert=cli.ca_cert)  # fmt: skip
    typical_cli.config_server(server.url)
    c = timed("(c) typical integration: login, unlock, sync, get, logout", args.typical,
              lambda: typical_integration(typical_cli, server, GITHUB.id),
              lambda: None)  # fmt: skip

    ratio_b = b.median / a.median
    print("### One lookup, same item (`bitwarden://GitHub`), medians\n")
    print("| path | median | min | max | runs | vs (a) | target | result |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for timing in (a, b, raw, c):
        ratio = timing.median / a.median
        target = result = ""
        if timing is b:
            target = f"(a) >= {RATIO_TARGET:.0f}x faster"
            result = "PASS" if ratio_b >= RATIO_TARGET else "FAIL"
        print(
            f"| {timing.label} | {fmt(timing.median)} | {fmt(min(timing.samples))} | "
            f"{fmt(max(timing.samples))} | {len(timing.samples)} | {ratio:,.0f}x | "
            f"{target} | {result} |"
        )
    print(f"\n(c) / (b) = {c.median / b.median:.1f}x; (b') / (b) = {raw.median / b.median:.1f}x\n")

    refs = [f"bitwarden://{item.name}" for item in bulk]
    many_times: list[float] = []
    many_requests = many_ok = 0
    for _ in range(5):  # the first after a pause: bw serve decrypts its cache again
        before = serve_backend.transport.requests
        started = time.perf_counter()
        results = fast.resolve_many(refs)
        many_times.append(time.perf_counter() - started)
        many_requests = max(many_requests, serve_backend.transport.requests - before)
        many_ok = sum(1 for r in results if isinstance(r, Credential) and r.totp is not None)
    many_seconds = statistics.median(many_times)

    cli_before = cli_backend.transport.requests
    started = time.perf_counter()
    cli_results = slow.resolve_many(refs)
    cli_seconds = time.perf_counter() - started
    cli_runs = cli_backend.transport.requests - cli_before
    cli_ok = sum(1 for r in cli_results if isinstance(r, Credential) and r.totp is not None)
    cli_backend.close()
    serve_backend.close()

    batch_pass = many_requests <= BATCH_REQUEST_TARGET and many_ok == len(refs)
    print(f"### `resolve_many` of {len(refs)} items (by name, each with a TOTP code)\n")
    print(
        "| transport | round trips | wall time (median of 5) | first call | per item "
        "| with code | target | result |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| `bw serve` | {many_requests} HTTP request(s) | {fmt(many_seconds)} | "
        f"{fmt(many_times[0])} | {fmt(many_seconds / len(refs))} | {many_ok}/{len(refs)} | "
        f"<= {BATCH_REQUEST_TARGET} requests | {'PASS' if batch_pass else 'FAIL'} |"
    )
    print(
        f"| `bw` subprocess | {cli_runs} `bw` run(s) | {fmt(cli_seconds)} (1 run) | | "
        f"{fmt(cli_seconds / len(refs))} | {cli_ok}/{len(refs)} | | |"
    )
    return 0 if ratio_b >= RATIO_TARGET and batch_pass else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
