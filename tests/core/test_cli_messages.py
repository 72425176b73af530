"""Messages and conventions of the ``vaults`` CLI (issue 14): each bad input says what is
wrong (one line, exit 2), Ctrl-C is exit 130, --help is complete, JSON keys are stable."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import click
import pytest

from tests.core.conftest import VAULTS_BIN, one_error_line, run_vaults
from vaults.cli.help import summary
from vaults.cli.main import _human, cli
from vaults.cli.params import parse_since
from vaults.models import Credential, CustomField


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pytest.importorskip("vaults_keepass")
    from vaults_keepass.demo import main as write_demo

    path = tmp_path_factory.mktemp("demo") / "demo.kdbx"
    assert write_demo([str(path)]) == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
    return {**env, "VAULTS_KEEPASS_DB": str(path), "VAULTS_KEEPASS_PASSWORD": "demo"}


ACME = "keepass://Demo/Acme Cloud"


def test_field_uri_and_json_field(demo_env: dict[str, str]) -> None:
    done = run_vaults("resolve", ACME, "--field", "uri", env=demo_env)
    assert (done.returncode, done.stdout) == (0, "https://login.acme.example/\n")
    done = run_vaults("resolve", ACME, "--field", "username", "--json", env=demo_env)
    assert done.returncode == 0 and done.stdout.split() == [
        "{",
        '"username":',
        '"alice@acme.example"',
        "}",
    ]


def test_unknown_field_lists_the_valid_names(demo_env: dict[str, str]) -> None:
    done = run_vaults("resolve", ACME, "--field", "nope", env=demo_env)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "valid names: username, password, uri, code" in line and "totp_identifier" in line


def test_json_always_has_fields_and_totp_source(demo_env: dict[str, str]) -> None:
    import json

    done = run_vaults("resolve", "keepass://Demo/Intranet", "--json", env=demo_env)
    data = json.loads(done.stdout)
    assert data["fields"] == [] and data["totp_source"] is None and data["totp"] is None


def test_next_window_code_is_announced(demo_env: dict[str, str]) -> None:
    done = run_vaults("resolve", ACME, "--min-remaining", "30", env=demo_env)
    assert done.returncode == 0
    assert "next code, valid from " in done.stdout, done.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (
            ["resolve", "keepass://Demo/Acme", "Cloud"],
            "quote it: vaults resolve 'keepass://Demo/Acme Cloud'",
        ),
        (["resolve", "keepass:/Demo/Intranet"], "did you mean 'keepass://Demo/Intranet'"),
        (["resolve", ACME, "--timeout", "inf"], "not a finite number of seconds"),
        (["resolve", ACME, "--since", "yesterday"], "ISO 8601"),
        (["totp", "JBSWY3DPEHPK3PXP", "--at", "1e20"], "out of range"),
    ],
)
def test_bad_input_says_what_is_wrong(
    args: list[str], needle: str, demo_env: dict[str, str]
) -> None:
    done = run_vaults(*args, env=demo_env)
    assert done.returncode == 2
    assert needle in one_error_line(done.stderr)


def test_keepass_title_not_found_suggests_close_titles(demo_env: dict[str, str]) -> None:
    done = run_vaults("resolve", "keepass://Demo/Acme Clod", env=demo_env)
    assert done.returncode == 1
    assert "did you mean keepass://Demo/Acme Cloud?" in one_error_line(done.stderr)


def test_totp_type_from_the_command_line_is_not_called_the_items(demo_env: dict[str, str]) -> None:
    done = run_vaults(
        "resolve", "keepass://Demo/Intranet", "--totp-type", "authenticator", env=demo_env
    )
    line = one_error_line(done.stderr)
    assert "was asked for" in line and "has totp_type" not in line


def test_since_forms() -> None:
    now = 1_800_000_000.0
    assert parse_since("-5m", now) == now - 300
    assert parse_since("-90s", now) == now - 90
    assert parse_since("-2h", now) == now - 7200
    assert parse_since("1700000000", now) == 1_700_000_000
    assert parse_since("2026-05-01T09:30:00Z", now) == 1_777_627_800
    assert parse_since("2026-05-01T11:30:00+02:00", now) == 1_777_627_800
    with pytest.raises(ValueError, match="not a time"):
        parse_since("1e20", now)


def test_short_secret_warns() -> None:
    done = run_vaults("totp", "JBSWY3DP", "--at", "59")
    assert done.returncode == 0 and done.stdout.strip().isdigit()
    assert "only 40 bits" in done.stderr
    assert "bits" not in run_vaults("totp", "JBSWY3DPEHPK3PXP", "--at", "59").stderr


def test_human_output_has_no_empty_field_lines() -> None:
    cred = Credential(
        vault="op",
        id="1",
        name="GitHub",
        fields=[CustomField(name="notesPlain"), CustomField(name="region", value="eu")],
    )
    text = _human(cred, False, time.time())
    assert "notesPlain" not in text and "region: eu" in text


def _commands(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append((f"{path} {name}", command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, f"{path} {name}"))
    return found


def test_help_is_complete_and_never_cut() -> None:
    for path, command in _commands(cli, "vaults"):
        assert not summary(command).endswith("..."), path
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{path} {param.opts[0]} has no help text"


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell: str) -> None:
    done = run_vaults("completion", shell)
    assert done.returncode == 0 and "_VAULTS_COMPLETE" in done.stdout


def test_completion_completes_commands() -> None:
    env = {
        **os.environ,
        "_VAULTS_COMPLETE": "bash_complete",
        "COMP_WORDS": "vaults res",
        "COMP_CWORD": "1",
    }
    done = subprocess.run([VAULTS_BIN], env=env, capture_output=True, text=True, check=False)
    assert "resolve" in done.stdout


def test_ctrl_c_is_exit_130_without_aborted(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
    env["VAULTS_STORE"] = f"sqlite:///{tmp_path / 'codes.db'}"
    proc = subprocess.Popen(
        [VAULTS_BIN, "codes", "wait", "--identifier", "x@example.com", "--timeout", "60"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a shell without job control starts background jobs with SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler: give the child the default, as a terminal
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(1.5)  # inside the wait
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Aborted" not in stderr and "Traceback" not in stderr


def test_serve_on_a_port_in_use_is_exit_4(tmp_path: Path) -> None:
    pytest.importorskip("uvicorn")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
        env.update(VAULTS_API_KEY="k" * 40, VAULTS_STORE=f"sqlite:///{tmp_path / 'c.db'}")
        done = run_vaults("serve", "--port", str(port), env=env)
    assert done.returncode == 4
    assert f"port {port} is in use" in one_error_line(done.stderr)


def test_store_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    done = run_vaults("codes", "list", "--store", f"sqlite:///{missing}/codes.db")
    assert done.returncode == 2 and "does not exist" in one_error_line(done.stderr)
    assert not missing.exists()
    done = run_vaults("codes", "list", "--store", "garbage")
    assert done.returncode == 2 and "postgresql://" in one_error_line(done.stderr)
