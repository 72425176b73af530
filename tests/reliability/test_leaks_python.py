"""Secrets never leak through the Python API: canaries in every vault, every error path driven.

Each path is checked through its exception (str, repr, formatted traceback with causes) and
the log records of every logger at DEBUG; success paths through the credential's repr, str
and JSON forms. Vaults: a real KeePass file; ``bw serve`` and ``bw`` stand-ins that echo the
configured secrets back in their errors; the 1Password Connect test server and ``op`` double
seeded with canaries; the codes inbox; a pull endpoint; the TOTP parser.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import anyio
import pytest
import vaults_reliability_canaries as c
from vaults_onepassword.connect import clear_vault_cache
from vaults_onepassword.testing.connect_server import ConnectServer
from vaults_onepassword.testing.fixtures import make_op_cli
from vaults_reliability_canaries import LeakLedger
from vaults_reliability_canary_vaults import (
    BW_SCRIPT,
    OTP_URI,
    PULL_PATHS,
    bw_serve_route,
    executable,
    make_keepass_db,
    op_seed,
    pull_route,
)

from vaults import Vaults
from vaults.codes import Inbox, pull
from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    CodeTimeout,
    ConfigurationError,
    InvalidInput,
    InvalidTotpSecret,
    ItemNotFound,
    NoCode,
    VaultLocked,
    VaultsError,
    VaultUnavailable,
)
from vaults.testing.misbehaving import MisbehavingServer, Reply
from vaults.totp import parse_secret


def _finish(ledger: LeakLedger, report: Any) -> None:
    ledger.record(report)
    ledger.assert_clean()


def _resolve(env: dict[str, str], ref: str) -> Any:
    with Vaults(env=env) as vaults:
        return vaults.resolve(ref)


def _aresolve(env: dict[str, str], ref: str) -> Any:
    async def run() -> Any:
        vaults = Vaults(env=env)
        try:
            return await vaults.aresolve(ref)
        finally:
            vaults.close()

    return anyio.run(run)


def _resolve_many(env: dict[str, str], refs: list[str]) -> list[Any]:
    with Vaults(env=env) as vaults:
        return vaults.resolve_many(refs)


# -- KeePass: a real KDBX file -------------------------------------------------------------


@pytest.fixture(scope="module")
def keepass_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keepass_db(tmp_path_factory.mktemp("leaks-keepass") / "canary.kdbx")


def test_keepass(keepass_db: Path, tmp_path: Path, debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("KeePass (Python API)")
    env = {"VAULTS_KEEPASS_DB": str(keepass_db), "VAULTS_KEEPASS_PASSWORD": c.KEEPASS_MASTER}
    log = debug_caplog
    ledger.ok("keepass ok", lambda: _resolve(env, "keepass://Canary Login"), log)
    ledger.error("keepass not found", lambda: _resolve(env, "keepass://Missing"), log, ItemNotFound)
    ledger.error("keepass ambiguous", lambda: _resolve(env, "keepass://Twin"), log, AmbiguousItem)
    # an unusable TOTP keeps the login: a credential with totp_error, checked like any other
    ledger.ok("keepass bad TOTP secret", lambda: _resolve(env, "keepass://Bad TOTP"), log)
    bad_uri = ledger.ok(
        "keepass bad TOTP parameters", lambda: _resolve(env, "keepass://Bad TOTP URI"), log
    )
    assert bad_uri.totp is None and bad_uri.totp_error
    wrong = {**env, "VAULTS_KEEPASS_PASSWORD": c.WRONG_SECRET}
    ledger.error(
        "keepass wrong master password",
        lambda: _resolve(wrong, "keepass://Canary Login"),
        log,
        AuthenticationFailed,
    )
    broken = tmp_path / "broken.kdbx"
    data = bytearray(keepass_db.read_bytes())
    data[len(data) // 2 :] = os.urandom(len(data) - len(data) // 2)
    broken.write_bytes(bytes(data))
    ledger.error(
        "keepass corrupted file",
        lambda: _resolve({**env, "VAULTS_KEEPASS_DB": str(broken)}, "keepass://Canary Login"),
        log,
        VaultsError,
    )
    ledger.error(
        "keepass missing file",
        lambda: _resolve({**env, "VAULTS_KEEPASS_DB": str(tmp_path / "nope.kdbx")}, "keepass://X"),
        log,
        ConfigurationError,
    )
    ledger.error(
        "keepass missing key file",
        lambda: _resolve(
            {**env, "VAULTS_KEEPASS_KEYFILE": str(tmp_path / "nope.key")}, "keepass://X"
        ),
        log,
        ConfigurationError,
    )
    ledger.error("keepass async not found", lambda: _aresolve(env, "keepass://Missing"), log)
    log.clear()
    ledger.errors(
        "keepass resolve_many",
        _resolve_many(
            env,
            ["keepass://Canary Login", "keepass://Twin", "keepass://Missing", "keepass://Bad TOTP"],
        ),
        log,
    )
    _finish(ledger, reliability_report)


def test_keepass_item_with_a_pull_endpoint(
    tmp_path: Path, debug_caplog: Any, reliability_report
) -> None:
    """An item's code from its own pull endpoint (totp_url, signed with its totp_api_key)."""
    ledger = LeakLedger("KeePass item with a pull endpoint (Python API)")
    with MisbehavingServer(route=pull_route) as server:
        db = make_keepass_db(tmp_path / "pull.kdbx", pull_base=server.url)
        env = {"VAULTS_KEEPASS_DB": str(db), "VAULTS_KEEPASS_PASSWORD": c.KEEPASS_MASTER}

        def resolve(ref: str) -> Any:
            with Vaults(env=env, code_timeout=0.5, pull_interval=0.1) as vaults:
                return vaults.resolve(ref)

        for name in PULL_PATHS:
            if name == "ok":
                cred = ledger.ok("pulled code", lambda: resolve("keepass://Pull ok"), debug_caplog)
                assert cred.totp is not None and cred.totp.code == "482913"
            else:
                ledger.error(
                    f"pull endpoint {name}",
                    lambda n=name: resolve(f"keepass://Pull {n}"),
                    debug_caplog,
                    VaultsError,
                )
    _finish(ledger, reliability_report)


# -- Bitwarden: bw serve speaking the API, echoing secrets in its errors ---------------------


def test_bitwarden_serve(debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("Bitwarden bw serve (Python API)")
    log = debug_caplog
    with MisbehavingServer(route=bw_serve_route) as server:
        env = {
            "VAULTS_BITWARDEN_URL": server.url,
            "VAULTS_BITWARDEN_TIMEOUT": "0.5",
            "BW_SESSION": c.BW_SESSION,
            "BW_PASSWORD": c.BW_PASSWORD,
        }
        ledger.ok("bw serve ok", lambda: _resolve(env, "bitwarden://Canary Login"), log)
        ledger.ok("bw serve bad TOTP", lambda: _resolve(env, "bitwarden://Bad TOTP"), log)
        for name, kind in (
            ("Missing", ItemNotFound),
            ("Twin", AmbiguousItem),
            ("Locked", AuthenticationFailed),  # unlock with BW_PASSWORD fails
            ("Echo 400", VaultUnavailable),
            ("Echo 500", VaultUnavailable),
            ("Echo 401", VaultUnavailable),
            ("Truncated", VaultUnavailable),
            ("Slow", VaultUnavailable),
        ):
            ledger.error(
                f"bw serve {name}", lambda n=name: _resolve(env, f"bitwarden://{n}"), log, kind
            )
        ledger.either(
            "bw serve odd item shape", lambda: _resolve(env, "bitwarden://Odd Shape"), log
        )
        no_unlock = {k: v for k, v in env.items() if k != "BW_PASSWORD"}
        ledger.error(
            "bw serve locked, no BW_PASSWORD",
            lambda: _resolve(no_unlock, "bitwarden://Locked"),
            log,
            VaultLocked,
        )
        ledger.error("bw serve async", lambda: _aresolve(env, "bitwarden://Echo 500"), log)
        log.clear()
        ledger.errors(
            "bw serve resolve_many",
            _resolve_many(
                env,
                [
                    "bitwarden://Canary Login",
                    "bitwarden://Twin",
                    "bitwarden://Missing",
                    "bitwarden://Bad TOTP",
                ],
            ),
            log,
        )
    with MisbehavingServer() as gone:
        url = gone.url
    ledger.error(
        "bw serve unreachable",
        lambda: _resolve({**env, "VAULTS_BITWARDEN_URL": url}, "bitwarden://X"),
        log,
        VaultUnavailable,
    )
    _finish(ledger, reliability_report)


# -- Bitwarden: a bw stand-in that echoes its secrets ----------------------------------------


def test_bitwarden_cli(tmp_path: Path, debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("Bitwarden bw CLI stand-in (Python API)")
    log = debug_caplog
    bw = executable(tmp_path / "bw", BW_SCRIPT)
    env = {
        "VAULTS_BITWARDEN_BW": str(bw),
        "VAULTS_BITWARDEN_TIMEOUT": "5",
        "BW_SESSION": c.BW_SESSION,
        "BW_PASSWORD": c.BW_PASSWORD,
        "PATH": os.environ.get("PATH", ""),
    }
    for name in ("Missing", "Echo", "Garbage", "Locked", "Crash"):
        ledger.error(f"bw cli {name}", lambda n=name: _resolve(env, f"bitwarden://{n}"), log)
    ledger.error("bw cli async", lambda: _aresolve(env, "bitwarden://Echo"), log)
    _finish(ledger, reliability_report)


# -- 1Password: Connect test server and op double, seeded with canaries ----------------------


OP_PATHS = [
    ("Missing", "op://Personal/Missing", ItemNotFound),
    ("ambiguous", "op://Personal/Twin", AmbiguousItem),
    ("bad TOTP, code only", "op://Personal/Bad TOTP?attribute=otp", NoCode),
    ("no such vault", "op://Nowhere/Canary Login", ItemNotFound),
    ("restricted vault", "op://Restricted/Root", VaultsError),
    ("no such field", "op://Personal/Canary Login/nofield", VaultsError),
]


def test_onepassword_connect(debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("1Password Connect (Python API)")
    log = debug_caplog
    clear_vault_cache()
    with ConnectServer(op_seed()) as server:
        env = {
            "OP_CONNECT_HOST": server.url,
            "OP_CONNECT_TOKEN": c.OP_CONNECT_TOKEN,
            "VAULTS_ONEPASSWORD_TIMEOUT": "0.5",
        }
        ledger.ok("connect ok", lambda: _resolve(env, "op://Personal/Canary Login"), log)
        for name, ref, kind in OP_PATHS:
            ledger.error(f"connect {name}", lambda r=ref: _resolve(env, r), log, kind)
        ledger.ok("connect bad TOTP", lambda: _resolve(env, "op://Personal/Bad TOTP"), log)
        wrong = {**env, "OP_CONNECT_TOKEN": c.WRONG_SECRET}
        ledger.error(
            "connect wrong token",
            lambda: _resolve(wrong, "op://Personal/Canary Login"),
            log,
            AuthenticationFailed,
        )
        server.inject_fault(500, message=f"token {c.OP_CONNECT_TOKEN} broke", times=10)
        ledger.error(
            "connect 500 echoing the token",
            lambda: _resolve(env, "op://Personal/Canary Login"),
            log,
            VaultUnavailable,
        )
        server.latency = 2.0
        ledger.error(
            "connect timeout",
            lambda: _resolve(env, "op://Personal/Twin"),
            log,
            VaultUnavailable,
        )
        server.latency = 0.0
        ledger.error("connect async", lambda: _aresolve(env, "op://Personal/Missing"), log)
    with MisbehavingServer(
        [Reply(200, json.dumps({"id": "x", "password": c.PASSWORD}).encode()[:30])]
    ) as server:
        env = {**env, "OP_CONNECT_HOST": server.url}
        ledger.error(
            "connect truncated JSON",
            lambda: _resolve(env, f"op://{'v' * 26}/{'i' * 26}"),
            log,
            VaultUnavailable,
        )
    _finish(ledger, reliability_report)


def test_onepassword_op_cli(tmp_path: Path, debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("1Password op CLI double (Python API)")
    log = debug_caplog
    op = make_op_cli(op_seed(), tmp_path)
    env = {**op.env, "VAULTS_ONEPASSWORD_TRANSPORT": "cli", "VAULTS_ONEPASSWORD_TIMEOUT": "10"}
    ledger.ok("op ok", lambda: _resolve(env, "op://Personal/Canary Login"), log)
    for name, ref, kind in OP_PATHS:
        ledger.error(f"op {name}", lambda r=ref: _resolve(env, r), log, kind)
    ledger.ok("op bad TOTP", lambda: _resolve(env, "op://Personal/Bad TOTP"), log)
    wrong = {**env, "OP_SERVICE_ACCOUNT_TOKEN": c.WRONG_SECRET}
    ledger.error(
        "op wrong token", lambda: _resolve(wrong, "op://Personal/Canary Login"), log, VaultsError
    )
    echo = tmp_path / "echo-op"
    echo.write_text(
        '#!/bin/sh\necho "[ERROR] 2026/01/01 00:00:00 bad token $OP_SERVICE_ACCOUNT_TOKEN" >&2\n'
        "exit 1\n"
    )
    echo.chmod(echo.stat().st_mode | stat.S_IXUSR)
    ledger.error(
        "op stderr echoing the token",
        lambda: _resolve({**env, "VAULTS_ONEPASSWORD_OP": str(echo)}, "op://Personal/X"),
        log,
        VaultsError,
    )
    _finish(ledger, reliability_report)


# -- the codes inbox and pull endpoints ------------------------------------------------------


def test_codes_inbox(tmp_path: Path, debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("Codes inbox and pull endpoint (Python API)")
    log = debug_caplog
    with Inbox(f"sqlite:///{tmp_path / 'codes.db'}") as inbox:
        link = f"https://acme.co/l/{c.MAGIC_TOKEN}"
        pushed = inbox.push("alice@example.test", f"Tap to sign in to Acme: {link} (10 min)")
        assert pushed.value == link
        ledger.texts("inbox repr", "repr", repr(inbox))
        ledger.error(
            "inbox push without a code",
            lambda: inbox.push("bob@example.test", f"Your password is {c.PASSWORD}, keep it"),
            log,
            VaultsError,
        )
        ledger.error(
            "inbox push to a bad identifier",
            lambda: inbox.push("x" * 5000, f"Your code is 482913 {c.PASSWORD}"),
            log,
            InvalidInput,
        )
        ledger.error(
            "inbox wait times out",
            lambda: inbox.wait("carol@example.test", timeout=0.05),
            log,
            CodeTimeout,
        )
    blocker = tmp_path / "a-file"  # a directory path through a file: cannot be created
    blocker.write_text("")
    for url in (
        f"postgresql://vaults:{c.STORE_PASSWORD}@127.0.0.1:1/vaults",
        f"postgresql://127.0.0.1:1/vaults?password={c.STORE_PASSWORD}",
        f"mysql://vaults:{c.STORE_PASSWORD}@127.0.0.1/vaults",
        f"sqlite:///{blocker}/x.db?key={c.STORE_PASSWORD}",
    ):
        scheme = url.split(":", 1)[0]

        def push_to(u: str = url) -> None:
            with Inbox(u) as box:
                box.push("alice@example.test", "Your code is 482913")

        ledger.error(f"inbox store {scheme} unreachable or invalid", push_to, log, VaultsError)
    # pull endpoints: the key signs, never travels; URL credentials and queries never shown
    for name, reply in (
        ("401", Reply(401, json.dumps({"detail": c.PULL_API_KEY}).encode())),
        ("500", Reply(500, json.dumps({"detail": c.PULL_API_KEY}).encode())),
        ("not JSON", Reply(200, f"<html>{c.PULL_API_KEY}".encode())),
        ("slow", Reply(200, b"{}", delay=5)),
        ("reset", Reply(reset=True)),
        ("429", Reply(429, headers=(("Retry-After", "3600"),))),
    ):
        with MisbehavingServer([reply]) as server:
            host_port = server.url.removeprefix("http://")
            url = f"http://user:{c.URL_TOKEN}@{host_port}/pull?token={c.URL_TOKEN}#{c.URL_TOKEN}"
            ledger.error(
                f"pull {name}",
                lambda u=url: pull(
                    u, c.PULL_API_KEY, interval=0.05, timeout=0.4, request_timeout=0.2
                ),
                log,
                VaultsError,
            )
    _finish(ledger, reliability_report)


# -- TOTP parsing ----------------------------------------------------------------------------

BAD_SECRETS = [
    c.BAD_TOTP,
    f"otpauth://totp/x?secret={c.BAD_TOTP}",
    f"otpauth://totp/x?secret={c.TOTP_SECRET}&digits=99",
    f"otpauth://totp/x?secret={c.TOTP_SECRET}&algorithm=MD5",
    f"otpauth://totp/x?secret={c.TOTP_SECRET}&period=0",
    f"otpauth://hotp/x?secret={c.TOTP_SECRET}&counter=1",
    f"steam://{c.BAD_TOTP}",
    f"otpauth-migration://offline?data={c.TOTP_SECRET}",
    f" {c.TOTP_SECRET[:-3]}1 ",
    f"{c.TOTP_SECRET}\x00",
    c.TOTP_SECRET + "1",
]


def test_totp_parser(debug_caplog: Any, reliability_report) -> None:
    ledger = LeakLedger("TOTP secrets (Python API)")
    for n, raw in enumerate(BAD_SECRETS):
        ledger.error(
            f"parse_secret bad #{n}", lambda r=raw: parse_secret(r), debug_caplog, InvalidTotpSecret
        )
    ledger.either(
        "parse_secret repeated secret",
        lambda: parse_secret(f"otpauth://totp/x?secret={c.TOTP_SECRET}&secret={c.BAD_TOTP}"),
        debug_caplog,
    )
    ledger.texts(
        "parsed secret repr", "repr", repr(parse_secret(OTP_URI)), str(parse_secret(OTP_URI))
    )
    _finish(ledger, reliability_report)
