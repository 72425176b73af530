"""How the CLI reports errors: one line on stderr, a documented exit code, no traceback.

Exit codes: 0 ok; 1 not found, ambiguous or no code; 2 usage or bad input; 3 vault locked
or authentication failed; 4 vault unavailable; 70 internal error (a bug: please report it).
``VAULTS_DEBUG=1`` prints the traceback as well.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import NoReturn

import click

from vaults.errors import VaultsError

EXIT_INTERNAL = 70
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


def debug_enabled() -> bool:
    return os.environ.get("VAULTS_DEBUG", "").strip().lower() not in ("", "0", "false", "no")


def fail(exc: BaseException) -> NoReturn:
    """Report ``exc`` and exit with its code."""
    if debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, VaultsError):
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    click.echo(
        f"internal error: {type(exc).__name__} (set VAULTS_DEBUG=1 to see the traceback)",
        err=True,
    )
    sys.exit(EXIT_INTERNAL)


def fail_usage(message: str) -> NoReturn:
    """A usage error found by a command itself: one line, exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)
