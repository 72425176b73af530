"""The console script's quick exit (``vaults.cli.console:console``) ends a process as the
interpreter would: same exit statuses, atexit handlers and non-daemon threads honoured,
output flushed whole, also into a pipe whose reader left."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_console(setup: str, *argv: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    probe = (
        "import sys\n"
        f"{setup}\n"
        f"sys.argv = ['vaults', *{list(argv)!r}]\n"
        "from vaults.cli.console import console\n"
        "console()\n"
        "print('NOT REACHED')\n"
    )
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, **kwargs
    )


def test_the_console_script_is_the_quick_exit() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["vaults"] == "vaults.cli.console:console"


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (("totp", "--at", "59", "JBSWY3DPEHPK3PXP"), 0),
        (("resolve", "nosuch://item"), 2),
        (("totp", "not base32 !!"), 2),
        (("no-such-command",), 2),
    ],
)
def test_exit_statuses_are_the_commands(argv: tuple[str, ...], status: int) -> None:
    done = run_console("", *argv)
    assert done.returncode == status, done.stderr
    assert "NOT REACHED" not in done.stdout and "Traceback" not in done.stderr


def test_atexit_handlers_and_threads_are_honoured_and_output_flushed() -> None:
    setup = (
        "import atexit, threading, time\n"
        "atexit.register(lambda: print('atexit ran', flush=True))\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    sys.stdout.write('thread done\\n')\n"
        "threading.Thread(target=late).start()\n"
        "sys.stdout.write('x' * 100_000)  # left in the buffer, no newline"
    )
    done = run_console(setup, "totp", "--at", "59", "JBSWY3DPEHPK3PXP")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "x" * 100_000 + "996554\nthread done\natexit ran\n"


def test_a_system_exit_message_is_printed_with_status_1() -> None:
    setup = (
        "import vaults.cli.main as m\n"
        "def boom(argv=None):\n"
        "    raise SystemExit('a message for the user')\n"
        "m.main = boom"
    )
    done = run_console(setup)
    assert done.returncode == 1
    assert done.stderr.strip() == "a message for the user"


def test_a_reader_that_left_does_not_raise() -> None:
    probe = (
        "import sys\n"
        "sys.argv = ['vaults', 'totp', '--at', '59', 'JBSWY3DPEHPK3PXP']\n"
        "from vaults.cli.console import console\n"
        "console()\n"
    )
    shell = f'{sys.executable} -c "$PROBE" | head -c 0'
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", shell],
        env={"PROBE": probe, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Traceback" not in done.stderr


def test_early_hooks_get_the_command_line_first_and_cannot_break_it(tmp_path: Path) -> None:
    """``vaults.early`` entry points run before the CLI loads, with argv and the
    environment; one that fails to import or raises is skipped."""
    from vaults.testing.fakedist import write_dist_info

    (tmp_path / "early_probe.py").write_text(
        "import sys\n"
        "def hook(argv, env):\n"
        "    print('early', list(argv), env.get('PROBE_VALUE'),\n"
        "          'click' in sys.modules, flush=True)\n"
        "def broken(argv, env):\n"
        "    raise RuntimeError('boom')\n",
        encoding="utf-8",
    )
    write_dist_info(
        tmp_path,
        "early-probe",
        entry_points={
            "vaults.early": {
                "a": "early_probe:broken",
                "b": "early_probe_missing:hook",
                "c": "early_probe:hook",
            }
        },
    )
    setup = f"sys.path.insert(0, {str(tmp_path)!r})"
    done = run_console(
        setup,
        "totp",
        "--at",
        "59",
        "JBSWY3DPEHPK3PXP",
        env={**os.environ, "PROBE_VALUE": "v1"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "early ['totp', '--at', '59', 'JBSWY3DPEHPK3PXP'] v1 False",
        "996554",
    ]
    assert "boom" not in done.stderr and "Traceback" not in done.stderr
