"""The ``vaults`` console script: early hooks, the CLI, then a quick exit.

Kept apart from :mod:`vaults.cli.main` so that nothing heavy is imported before the
``vaults.early`` entry points run: a plugin may begin slow work there (the Bitwarden
plugin starts deriving the master key) while the CLI framework and the host load.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import NoReturn

__all__ = ["EARLY_GROUP", "console", "run_early_hooks"]

EARLY_GROUP = "vaults.early"
"""Entry points called as ``hook(argv, environ)`` before the CLI loads (see
``docs/writing-a-plugin.md``)."""


def run_early_hooks(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """Call every ``vaults.early`` entry point with the command line (without the program
    name) and the environment. A hook that fails to load or raises is skipped silently: it
    may only start work early, never change what the command does, and the command reports
    the same problem when it meets it."""
    from vaults.entry_points import entry_points

    try:
        found = entry_points([EARLY_GROUP])
    except Exception:
        return
    for entry in found:
        try:
            entry.load()(argv, env)
        except Exception:  # noqa: S112 - see the docstring
            continue


def console() -> NoReturn:
    """The ``vaults`` console script: the ``vaults.early`` hooks, then
    :func:`vaults.cli.main.main`, then a quick exit.

    The process ends as the interpreter would end it, minus its teardown: non-daemon threads
    are waited for, ``atexit`` handlers run (plugins end their child processes and close
    their connections there, logging flushes), stdout and stderr are flushed; then
    :func:`os._exit` skips destroying every imported module and collecting their objects,
    which costs a native Bitwarden resolve about as much as starting the interpreter.
    In-process callers use :func:`vaults.cli.main.main`, which raises :class:`SystemExit`
    as usual."""
    run_early_hooks(sys.argv[1:], os.environ)
    from vaults.cli.main import main

    try:
        main()
        code = 0
    except SystemExit as exc:
        code = _exit_status(exc.code)
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()  # what the interpreter runs at exit (stable since Python 2)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (BrokenPipeError, ValueError):  # the reader went away, or the stream is closed
            code = code or 120  # what the interpreter exits with when this flush fails
    os._exit(code)


def _exit_status(code: object) -> int:
    """:class:`SystemExit`'s code as the interpreter turns it into an exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":  # pragma: no cover
    console()
