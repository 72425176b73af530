"""Secrets never leak through the ``vaults`` CLI: stdout and stderr of real subprocess runs.

Every run has all credential variables a user may export set to canaries (``BW_SESSION``,
``BW_PASSWORD``, ``OP_CONNECT_TOKEN``, ``OP_SERVICE_ACCOUNT_TOKEN``, ``VAULTS_API_KEY``,
``VAULTS_KEEPASS_PASSWORD``), vaults seeded with canaries, and drives an error path (or a
success path without ``--reveal``) three ways: plain, ``--json``, and with ``VAULTS_DEBUG=1``
(tracebacks are printed by design: they must not carry secrets either, since exception
messages never hold one and Python tracebacks do not print local variables).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import vaults_reliability_canaries as c
from vaults_onepassword.connect import clear_vault_cache
from vaults_onepassword.testing.connect_server import ConnectServer
from vaults_onepassword.testing.fixtures import make_op_cli
from vaults_reliability_canaries import LeakLedger
from vaults_reliability_canary_vaults import (
    BW_SCRIPT,
    OP_ECHO_SCRIPT,
    bw_serve_route,
    executable,
    make_keepass_db,
    op_seed,
    pull_route,
)

from vaults.testing.misbehaving import MisbehavingServer, Reply

VAULTS = str(Path(sys.executable).with_name("vaults"))
JSON_COMMANDS = ("resolve", "totp", "wait", "push", "pull", "list")


@dataclass(frozen=True)
class Run:
    """One CLI path: arguments, extra environment, stdin, the exit codes allowed."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    stdin: str = ""
    exits: tuple[int, ...] = (1, 2, 3, 4)
    debug: bool = False  # also run with VAULTS_DEBUG=1


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The vaults and servers every CLI run can reach."""
    tmp = tmp_path_factory.mktemp("leaks-cli")
    clear_vault_cache()
    with (
        MisbehavingServer(route=bw_serve_route) as bw_serve,
        ConnectServer(op_seed()) as connect,
        MisbehavingServer([Reply(401, b'{"detail": "bad signature"}')]) as pull_401,
        MisbehavingServer(route=pull_route) as pulls,
    ):
        (tmp / "op").mkdir()
        op = make_op_cli(op_seed(), tmp / "op")
        yield {
            "tmp": tmp,
            "keepass": make_keepass_db(tmp / "canary.kdbx", pull_base=pulls.url),
            "bw_serve": bw_serve.url,
            "bw": executable(tmp / "bw", BW_SCRIPT),
            "connect": connect,
            "op_env": op.env,
            "op_echo": executable(tmp / "op-echo", OP_ECHO_SCRIPT),
            "pull_401": pull_401.url,
        }


def _runs(w: dict[str, Any]) -> list[Run]:
    kp = {"VAULTS_KEEPASS_DB": str(w["keepass"])}
    serve = {"VAULTS_BITWARDEN_URL": w["bw_serve"], "VAULTS_BITWARDEN_TIMEOUT": "1"}
    bw_cli = {"VAULTS_BITWARDEN_BW": str(w["bw"])}
    connect = {"OP_CONNECT_HOST": w["connect"].url, "VAULTS_ONEPASSWORD_TIMEOUT": "2"}
    op = {
        **{k: v for k, v in w["op_env"].items() if k.startswith(("OP_VAULTS", "PATH"))},
        "VAULTS_ONEPASSWORD_TRANSPORT": "cli",
    }
    store = f"sqlite:///{w['tmp'] / 'codes.db'}"
    host_port = w["pull_401"].removeprefix("http://")
    pull_url = f"http://user:{c.URL_TOKEN}@{host_port}/pull?token={c.URL_TOKEN}"
    ok = (0,)
    return [
        Run("keepass ok", ("resolve", "keepass://Canary Login"), kp, exits=ok, debug=True),
        Run(
            "keepass field",
            ("resolve", "keepass://Canary Login", "--field", "username"),
            kp,
            exits=ok,
        ),
        Run("keepass not found", ("resolve", "keepass://Missing"), kp, debug=True),
        Run("keepass ambiguous", ("resolve", "keepass://Twin"), kp),
        # an unusable TOTP keeps the login (totp_error, a warning, exit 0); code only: exit 1
        Run("keepass bad TOTP", ("resolve", "keepass://Bad TOTP"), kp, exits=ok, debug=True),
        Run("keepass bad TOTP URI", ("resolve", "keepass://Bad TOTP URI"), kp, exits=ok),
        Run(
            "keepass bad TOTP URI, code only",
            ("resolve", "keepass://Bad TOTP URI", "--field", "code"),
            kp,
            debug=True,
        ),
        Run("keepass no such field", ("resolve", "keepass://Canary Login", "--field", "nope"), kp),
        Run(
            "keepass wrong master password",
            ("resolve", "keepass://Canary Login"),
            {**kp, "VAULTS_KEEPASS_PASSWORD": c.WRONG_SECRET},
            debug=True,
        ),
        Run(
            "keepass pulled code",
            ("resolve", "keepass://Pull ok", "--timeout", "5", "--pull-interval", "0.1"),
            kp,
            exits=ok,
        ),
        Run(
            "keepass pull refused",
            ("resolve", "keepass://Pull 401", "--timeout", "1"),
            kp,
            debug=True,
        ),
        Run(
            "keepass pull failing",
            ("resolve", "keepass://Pull 500", "--timeout", "0.5", "--pull-interval", "0.1"),
            kp,
        ),
        Run(
            "keepass pull garbage",
            ("resolve", "keepass://Pull garbage", "--timeout", "0.5", "--pull-interval", "0.1"),
            kp,
        ),
        Run("bw serve ok", ("resolve", "bitwarden://Canary Login"), serve, exits=ok),
        Run("bw serve echoing 400", ("resolve", "bitwarden://Echo 400"), serve, debug=True),
        Run("bw serve echoing 500", ("resolve", "bitwarden://Echo 500"), serve),
        Run("bw serve unlock refused", ("resolve", "bitwarden://Locked"), serve, debug=True),
        Run("bw serve bad TOTP", ("resolve", "bitwarden://Bad TOTP"), serve, exits=ok),
        Run("bw serve truncated JSON", ("resolve", "bitwarden://Truncated"), serve),
        Run("bw serve timeout", ("resolve", "bitwarden://Slow"), serve),
        Run("bw CLI echoing its session", ("resolve", "bitwarden://Echo"), bw_cli, debug=True),
        Run("bw CLI unlock refused", ("resolve", "bitwarden://Locked"), bw_cli),
        Run("bw CLI crash", ("resolve", "bitwarden://Crash"), bw_cli),
        Run("Connect ok", ("resolve", "op://Personal/Canary Login"), connect, exits=ok),
        Run("Connect not found", ("resolve", "op://Personal/Missing"), connect),
        Run("Connect ambiguous", ("resolve", "op://Personal/Twin"), connect),
        Run("Connect bad TOTP", ("resolve", "op://Personal/Bad TOTP"), connect, exits=ok),
        Run(
            "Connect bad TOTP, code only",
            ("resolve", "op://Personal/Bad TOTP", "--field", "code"),
            connect,
        ),
        Run(
            "Connect wrong token",
            ("resolve", "op://Personal/Canary Login"),
            {**connect, "OP_CONNECT_TOKEN": c.WRONG_SECRET},
            debug=True,
        ),
        Run("op CLI ok", ("resolve", "op://Personal/Canary Login"), op, exits=ok),
        Run("op CLI ambiguous", ("resolve", "op://Personal/Twin"), op),
        Run(
            "op CLI wrong token",
            ("resolve", "op://Personal/Canary Login"),
            {**op, "OP_SERVICE_ACCOUNT_TOKEN": c.WRONG_SECRET},
        ),
        Run(
            "op CLI echoing its token",
            ("resolve", "op://Personal/X"),
            {**op, "VAULTS_ONEPASSWORD_OP": str(w["op_echo"])},
            debug=True,
        ),
        Run("totp bad secret", ("totp", c.BAD_TOTP), debug=True),
        Run(
            "totp bad secret on stdin",
            ("totp", "-"),
            stdin=f"otpauth://totp/x?secret={c.BAD_TOTP}\n",
        ),
        Run("totp bad parameters", ("totp", f"otpauth://totp/x?secret={c.TOTP_SECRET}&digits=99")),
        Run(
            "codes wait timeout",
            ("codes", "wait", "-i", "a@example.test", "--timeout", "0.1", "--store", store),
        ),
        Run(
            "codes push without a code",
            (
                "codes",
                "push",
                "-i",
                "a@example.test",
                "--store",
                store,
                "--content",
                f"password {c.PASSWORD}",
            ),
        ),
        Run(
            "codes push to an unreachable store",
            (
                "codes",
                "push",
                "-i",
                "a@example.test",
                "--content",
                "Your code is 482913",
                "--store",
                f"postgresql://u:{c.STORE_PASSWORD}@127.0.0.1:1/db?connect_timeout=1",
            ),
            debug=True,
        ),
        Run(
            "codes list from an unknown store",
            ("codes", "list", "--store", f"mysql://u:{c.STORE_PASSWORD}@127.0.0.1/db"),
        ),
        Run(
            "codes pull refused",
            ("codes", "pull", "--url", pull_url, "--timeout", "2", "--interval", "0.1"),
            {"VAULTS_PULL_API_KEY": c.PULL_API_KEY},
            debug=True,
        ),
    ]


def _base_env(tmp: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(c.ENV_CANARIES)
    env["HOME"] = str(tmp / "home")
    env["XDG_DATA_HOME"] = str(tmp / "data")
    env["VAULTS_STORE"] = f"sqlite:///{tmp / 'default-codes.db'}"
    env["PYTHONIOENCODING"] = "utf-8"
    env["VAULTS_PULL_ALLOW_PRIVATE"] = "1"  # the pull endpoints are on 127.0.0.1
    return env


def _variants(run: Run) -> list[tuple[str, list[str], bool]]:
    variants = [("plain", list(run.args), False)]
    if run.args[0] in JSON_COMMANDS or (len(run.args) > 1 and run.args[1] in JSON_COMMANDS):
        variants.append(("--json", [*run.args, "--json"], False))
    if run.debug:
        variants.append(("VAULTS_DEBUG=1", list(run.args), True))
    return variants


def _execute(run: Run, argv: list[str], debug: bool, base: dict[str, str]) -> tuple[int, str]:
    env = {**base, **run.env}
    if debug:
        env["VAULTS_DEBUG"] = "1"
    else:
        env.pop("VAULTS_DEBUG", None)
    done = subprocess.run(
        [VAULTS, *argv], input=run.stdin, env=env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"


def test_cli_runs(world: dict[str, Any], reliability_report) -> None:
    ledger = LeakLedger("vaults CLI (stdout and stderr)")
    base = _base_env(world["tmp"])
    jobs = [
        (run, name, argv, debug) for run in _runs(world) for name, argv, debug in _variants(run)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda j: _execute(j[0], j[2], j[3], base), jobs))
    unexpected = []
    for (run, name, _argv, _debug), (code, output) in zip(jobs, results, strict=True):
        ledger.texts(run.name, f"CLI {name}", output)
        # the path must be the one intended: an expected exit code, no internal error
        if code not in run.exits or "internal error" in output:
            unexpected.append(f"{run.name} [{name}]: exit {code}\n{output[-600:]}")
        if name == "VAULTS_DEBUG=1" and code != 0 and "Traceback" not in output:
            unexpected.append(f"{run.name} [{name}]: no traceback with VAULTS_DEBUG=1")
    ledger.record(reliability_report)
    ledger.assert_clean()
    assert not unexpected, "\n".join(unexpected)
