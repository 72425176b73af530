"""CLI cold start: whole ``vaults`` processes against ``python -c pass``, as a markdown table.

Every command is a whole process started the same way (the venv's interpreter / console
script); all are run round-robin (the order rotating) so machine noise hits them alike; the
figure is the median wall time. Targets (issue 14), each as a ratio in this one run:

- ``vaults totp SECRET``: at most 6x ``python -c pass``;
- ``vaults plugins``: at most 5x;
- ``vaults resolve bitwarden://GitHub`` over a local ``bw serve`` (the Bitwarden test server and
  the real ``bw``; skipped when ``bw`` is missing): at most 4x. ``bw serve`` answers its
  first search after about a second of quiet in 100-400 ms (it re-reads its data file under a
  file lock), whoever asks; each timed run is preceded by an untimed search so that the row
  measures the CLI, and that pause is reported on its own;
- ``vaults resolve keepass://Demo/Acme Cloud`` (the demo vault): at most pykeepass's own open of
  the same file (``python -c "PyKeePass(...)"``) + 3x ``python -c pass``.

Reference rows: importing click alone (the CLI framework every command starts with) and
pydantic alone (what the CLI's fast path, ``VaultBackend.fetch_plain``, keeps out of
``vaults plugins`` and of a resolve the vault answers).

Exits 1 when a target is missed. Run: ``.venv/bin/python bench/core_cold_start.py [--runs 30]``
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SECRET = "JBSWY3DPEHPK3PXP"
KEEPASS_REF = "keepass://Demo/Acme Cloud"
BITWARDEN_REF = "bitwarden://GitHub"


@dataclass
class Command:
    label: str
    argv: list[str]
    env: dict[str, str]
    samples: list[float] = field(default_factory=list)
    before: Callable[[], None] | None = None
    """Run, untimed, right before each timed run."""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def vaults_script() -> Path:
    """The ``vaults`` console script next to this interpreter (what a host shells out to)."""
    script = Path(sys.executable).with_name("vaults")
    if not script.exists():
        raise SystemExit(f"no vaults console script next to {sys.executable}: pip install -e .")
    return script


def wall_time(command: Command) -> float:
    if command.before is not None:
        command.before()
    start = time.perf_counter()
    done = subprocess.run(command.argv, env=command.env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(
            f"{command.label} failed ({done.returncode}): {done.stderr.decode()[:300]}"
        )
    return elapsed


@contextlib.contextmanager
def bitwarden_serve(work: Path) -> Iterator[str | None]:
    """``http://127.0.0.1:PORT`` of a real ``bw serve`` over the test server, or None."""
    try:
        from vaults_bitwarden.testing.cli import BwCli, BwServe, find_bw_binary
        from vaults_bitwarden.testing.seed import DEFAULT_SEED
        from vaults_bitwarden.testing.server import BitwardenTestServer
    except ImportError:
        yield None
        return
    binary = find_bw_binary()
    if binary is None:
        yield None
        return
    server = BitwardenTestServer.create(work / "tls", items=DEFAULT_SEED)
    with server:
        cli = BwCli(binary=binary, appdata_dir=work / "bw", ca_cert=server.ca_cert)
        cli.config_server(server.url)
        cli = cli.login_password(server.email, server.master_password)
        serve = BwServe.start(cli.clone(work / "serve"), log_path=work / "serve.log")
        try:
            yield serve.url
        finally:
            serve.stop()


BW_IDLE_PAUSE = 1.5
"""Seconds of quiet after which ``bw serve`` answers its next search slowly (see below)."""


def bw_search(url: str) -> float:
    """One ``bw serve`` search, in-process: its answer time in seconds."""
    from vaults.small_http import HttpClient

    client = HttpClient(base_url=url, timeout=10.0)
    try:
        start = time.perf_counter()
        client.request("GET", "/list/object/items", params={"search": "GitHub"})
        return time.perf_counter() - start
    finally:
        client.close()


def bw_idle_pause(url: str, rounds: int = 5) -> tuple[float, float]:
    """Median answer time of a search after ``BW_IDLE_PAUSE`` s of quiet, and right after
    another search (``bw serve`` re-reads its data file, waiting on its file lock, when it
    has been idle for about a second)."""
    idle, warm = [], []
    for _ in range(rounds):
        time.sleep(BW_IDLE_PAUSE)
        idle.append(bw_search(url))
        warm.append(bw_search(url))
    return statistics.median(idle), statistics.median(warm)


def measure(commands: list[Command], runs: int, warmup: int = 3) -> None:
    for _ in range(warmup):  # fill the OS page cache; bytecode is already compiled
        for command in commands:
            wall_time(command)
    for index in range(runs):
        shift = index % len(commands)
        for command in commands[shift:] + commands[:shift]:
            command.samples.append(wall_time(command))


def row(command: Command, base: float, target: str = "", ok: bool | None = None) -> str:
    result = "" if ok is None else ("PASS" if ok else "FAIL")
    return (
        f"| {command.label} | {command.median * 1000:.1f} ms "
        f"| {min(command.samples) * 1000:.1f} ms | {len(command.samples)} "
        f"| {command.median / base:.2f}x | {target} | {result} |"
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="whole-process runs of each")
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "PYTHON", "BW_"))}
    vaults = str(vaults_script())
    with (
        tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp,
        bitwarden_serve(Path(tmp)) as bw_url,
    ):
        from vaults_keepass.demo import DEMO_PASSWORD
        from vaults_keepass.demo import main as write_demo

        demo = Path(tmp) / "demo.kdbx"
        with contextlib.redirect_stdout(sys.stderr):
            write_demo([str(demo)])
        kp_env = {**env, "VAULTS_KEEPASS_DB": str(demo), "VAULTS_KEEPASS_PASSWORD": DEMO_PASSWORD}
        base = Command("`python -c pass` (baseline)", [sys.executable, "-c", "pass"], env)
        totp = Command("`vaults totp SECRET`", [vaults, "totp", SECRET], env)
        plugins = Command("`vaults plugins`", [vaults, "plugins"], env)
        kp_open = Command(
            "pykeepass opens the demo vault",
            [
                sys.executable,
                "-c",
                "import sys, pykeepass; pykeepass.PyKeePass(sys.argv[1], password=sys.argv[2])",
                str(demo),
                DEMO_PASSWORD,
            ],
            env,
        )
        keepass = Command(
            f'`vaults resolve "{KEEPASS_REF}"`', [vaults, "resolve", KEEPASS_REF], kp_env
        )
        floor = Command(  # what the fast path avoids
            "`python -c 'import pydantic …'` (not imported by the rows below)",
            [sys.executable, "-c", "from pydantic import BaseModel, SecretStr"],
            env,
        )
        click_floor = Command(  # every command starts with it
            "`python -c 'import click'` (the CLI framework)",
            [sys.executable, "-c", "import click"],
            env,
        )
        commands = [base, click_floor, floor, totp, plugins, kp_open, keepass]
        bitwarden = None
        if bw_url is not None:
            url = bw_url
            bitwarden = Command(
                f"`vaults resolve {BITWARDEN_REF}` (bw serve, warm)",
                [vaults, "resolve", BITWARDEN_REF],
                {**env, "VAULTS_BITWARDEN_URL": bw_url},
                before=lambda: bw_search(url),
            )
            commands.append(bitwarden)
        measure(commands, max(1, args.runs))
        pause = bw_idle_pause(bw_url) if bw_url is not None else None
    b = base.median
    checks = [
        (totp, 6.0 * b, "<= 6x"),
        (plugins, 5.0 * b, "<= 5x"),
        (keepass, kp_open.median + 3 * b, "<= pykeepass + 3x"),
    ]
    if bitwarden is not None:
        checks.append((bitwarden, 4.0 * b, "<= 4x"))
    lines = [
        "| benchmark | median | min | runs | ratio | target | result |",
        "|---|---:|---:|---:|---:|---:|---|",
        row(base, b),
        row(click_floor, b),
        row(floor, b),
        row(kp_open, b),
    ]
    ok_all = True
    for command, limit, target in checks:
        ok = command.median <= limit
        ok_all &= ok
        lines.append(row(command, b, target, ok))
    print("### CLI cold start (whole processes vs the bare interpreter)")
    print()
    print("\n".join(lines))
    if bitwarden is None:
        print("\n(`vaults resolve bitwarden://…` not measured: the Bitwarden CLI is missing)")
    elif pause is not None:
        idle, warm = pause
        print(
            f"\n`bw serve` itself answers a search in {warm * 1000:.1f} ms right after another "
            f"one, but in {idle * 1000:.1f} ms after {BW_IDLE_PAUSE:g} s of quiet (it re-reads "
            "its data file, waiting on its file lock, once idle for about a second): each timed "
            "run of the `bw serve` row is preceded by an untimed search, so the row measures "
            "the CLI, not that pause (medians of 5, in-process)."
        )
    if not ok_all:
        print("TARGET MISSED", file=sys.stderr)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
