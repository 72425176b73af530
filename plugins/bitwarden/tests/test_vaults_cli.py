"""End to end: the installed ``vaults`` command resolves ``bitwarden://`` references with the
plugin found through its entry point, over ``bw serve`` or ``bw`` + ``BW_SESSION``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from vaults_bitwarden.testing.cli import BwCli
from vaults_bitwarden.testing.seed import (
    CANARY,
    CANARY_PASSWORD,
    OTPAUTH_SHA256,
    SHARED_NAME,
    STEAM,
)

from vaults.totp import code_for_entry, parse_secret

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)

VAULTS = Path(sys.executable).with_name("vaults")


def vaults_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "BW_"))}
    return subprocess.run(
        [str(VAULTS), *args],
        env={**base, "VAULTS_LOAD_PLUGINS": "bitwarden", **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_path() -> Path:
    if not VAULTS.exists():
        pytest.skip(f"the vaults console script is not installed next to {sys.executable}")
    return VAULTS


def test_resolve_over_bw_serve(cli_path: Path, bw_serve: str) -> None:
    done = vaults_cli(
        "resolve", f"bitwarden://{OTPAUTH_SHA256.name}", "--json",
        env={"VAULTS_BITWARDEN_URL": bw_serve},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["vault"], data["id"], data["username"]) == (
        "bitwarden", OTPAUTH_SHA256.id, OTPAUTH_SHA256.username,
    )  # fmt: skip
    assert data["password"] == "********"
    secret = parse_secret(OTPAUTH_SHA256.totp or "")
    window = data["totp"]
    assert (window["digits"], window["period"]) == (8, 60)
    expected = code_for_entry(secret, window["valid_from"] + 1, min_remaining=0)
    assert window["code"] == expected.code


def test_field_output_and_errors_over_bw_serve(cli_path: Path, bw_serve: str) -> None:
    env = {"VAULTS_BITWARDEN_URL": bw_serve}
    totp = vaults_cli("resolve", f"bitwarden://{STEAM.id}", "--field", "totp", env=env)
    assert totp.returncode == 0 and len(totp.stdout.strip()) == 5
    password = vaults_cli("resolve", f"bitwarden://{CANARY.name}", "--field", "password", env=env)
    assert password.stdout.strip() == CANARY_PASSWORD
    missing = vaults_cli("resolve", "bitwarden://No Such Item", env=env)
    assert missing.returncode == 1 and "No Such Item" in missing.stderr
    ambiguous = vaults_cli("resolve", f"bitwarden://{SHARED_NAME}", env=env)
    assert ambiguous.returncode == 1 and "candidates" in ambiguous.stderr
    assert "Traceback" not in missing.stderr + ambiguous.stderr


def test_unavailable_serve_exit_code(cli_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = vaults_cli(
        "resolve", "bitwarden://GitHub", env={"VAULTS_BITWARDEN_URL": f"http://127.0.0.1:{port}"}
    )
    assert done.returncode == 4 and "cannot connect" in done.stderr
    assert "Traceback" not in done.stderr


def test_resolve_with_bw_and_session(cli_path: Path, bw_cli: BwCli) -> None:
    env = {**bw_cli.env, "VAULTS_BITWARDEN_BW": str(bw_cli.binary)}
    done = vaults_cli("resolve", f"bitwarden://{CANARY.id}", "--json", env=env)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["id"] == CANARY.id and data["totp"]["digits"] == 6
    assert CANARY_PASSWORD not in done.stdout + done.stderr
    locked = vaults_cli(
        "resolve", f"bitwarden://{CANARY.id}", env={**env, "BW_SESSION": "c3RhbGUtY2FuYXJ5"}
    )
    assert locked.returncode == 3 and "locked" in locked.stderr
    assert "c3RhbGUtY2FuYXJ5" not in locked.stderr


def test_resolve_over_bw_serve_imports_no_pydantic(cli_path: Path, bw_serve: str) -> None:
    """The CLI's fast path: the plain credential is printed; pydantic and the async HTTP
    stack (httpx, anyio) are never imported."""
    from vaults.testing.imports import run_and_list_imports

    base = {k: v for k, v in os.environ.items() if not k.startswith(("VAULTS_", "BW_"))}
    env = {**base, "VAULTS_LOAD_PLUGINS": "bitwarden", "VAULTS_BITWARDEN_URL": bw_serve}
    ref = f"bitwarden://{OTPAUTH_SHA256.name}"
    done, imported = run_and_list_imports(cli_path, ["resolve", ref, "--json"], env)
    assert done.returncode == 0, done.stderr
    assert "vaults_bitwarden.serve_api" in imported  # the list is real
    assert not {"pydantic", "pydantic_core", "httpx", "httpcore", "anyio"} & imported
    data = json.loads(done.stdout)
    assert (data["id"], data["username"], data["totp_source"]) == (
        OTPAUTH_SHA256.id, OTPAUTH_SHA256.username, "vault",
    )  # fmt: skip
