"""``vaults totp``: the CLI fast path (subprocess and CliRunner)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from tests.core.conftest import CANARY, CANARY_SECRET, no_leak, one_error_line, run_vaults
from vaults.cli.main import cli
from vaults.totp import code_at

RFC_SHA512 = (
    "otpauth://totp/RFC6238:sha512?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNA&algorithm=SHA512&digits=8"
)


def test_plain_code_now() -> None:
    before = time.time()
    result = run_vaults("totp", "JBSWY3DPEHPK3PXP")
    after = time.time()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.strip() in {
        code_at("JBSWY3DPEHPK3PXP", before).code,
        code_at("JBSWY3DPEHPK3PXP", after).code,
    }
    assert result.stdout.endswith("\n") and len(result.stdout.strip()) == 6


def test_at_and_uri() -> None:
    result = run_vaults("totp", RFC_SHA512, "--at", "20000000000")
    assert (result.returncode, result.stdout) == (0, "47863826\n")


def test_json() -> None:
    result = run_vaults("totp", "--json", "--at", "59.5", "JBSWY3DPEHPK3PXP")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "code": "996554",
        "valid_from": 30,
        "valid_until": 60,
        "period": 30,
        "digits": 6,
    }


def test_secret_from_stdin() -> None:
    result = run_vaults(
        "totp", "-", "--at", "1672531200", stdin="steam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ\n"
    )
    assert (result.returncode, result.stdout) == (0, "7W6CJ\n")


@pytest.mark.parametrize(
    ("secret", "stdin"),
    [
        (f"{CANARY_SECRET}!!", None),
        (f"otpauth://totp/x?secret={CANARY_SECRET}&digits=3", None),
        (f"otpauth://totp/x?secret={CANARY_SECRET}&encoder=yandex", None),
        ("-", f"otpauth://hotp/x?secret={CANARY_SECRET}\n"),
        ("-", ""),
    ],
)
def test_bad_secret_exit_2_one_line(secret: str, stdin: str | None) -> None:
    result = run_vaults("totp", secret, stdin=stdin)
    assert result.returncode == 2
    assert result.stdout == ""
    line = one_error_line(result.stderr)
    assert "invalid TOTP secret" in line
    no_leak([result.stderr], [CANARY])


def test_bad_time_exit_2() -> None:
    result = run_vaults("totp", "JBSWY3DPEHPK3PXP", "--at", "-5")
    assert result.returncode == 2
    assert "--at" in one_error_line(result.stderr)


def test_debug_shows_the_traceback_without_the_secret() -> None:
    env = {"VAULTS_DEBUG": "1", "PATH": "/usr/bin:/bin"}
    result = run_vaults("totp", "-", env=env, stdin=f"{CANARY_SECRET}!!\n")
    assert result.returncode == 2
    assert "Traceback (most recent call last)" in result.stderr
    assert "InvalidTotpSecret" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith("error: invalid TOTP secret")
    no_leak([result.stderr], [CANARY])


def test_usage_error_exit_2() -> None:
    result = run_vaults("totp")
    assert result.returncode == 2
    assert "Missing argument" in result.stderr


# -- in process (CliRunner) --------------------------------------------------------------


def test_cli_runner_totp() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["totp", "--at", "59", "JBSWY3DPEHPK3PXP"])
    assert (result.exit_code, result.output) == (0, "996554\n")
    result = runner.invoke(
        cli, ["totp", "-", "--json", "--at", "59"], input="jbsw y3dp ehpk 3pxp\n"
    )
    assert result.exit_code == 0
    assert json.loads(result.stdout)["code"] == "996554"
    bad = runner.invoke(cli, ["totp", f"{CANARY_SECRET}!!"])
    assert bad.exit_code == 2
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: invalid TOTP secret")
    no_leak([bad.stderr], [CANARY])


def test_help_lists_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "Exit codes" in result.output
    for command in ("totp", "resolve", "plugins", "qr"):
        assert command in result.output


def test_fast_path_imports_neither_pydantic_nor_plugins() -> None:
    """Not a timing test: `vaults totp` must stay on the pydantic-free core."""
    probe = (
        "import sys\n"
        "from vaults.cli.main import main\n"
        "try:\n"
        "    main(['totp', '--at', '59', 'JBSWY3DPEHPK3PXP'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = sorted(m for m, mod in sys.modules.items() if mod is not None\n"
        "               and m.split('.')[0] in "
        "{'pydantic', 'pluggy', 'anyio', 'httpx', 'pykeepass', 'vaults_keepass'})\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["996554", "HEAVY []"]
