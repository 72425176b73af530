"""Running ``bw``: a timeout on every run, the whole process group killed on expiry.

``bw`` prints its answer (``bw get item``: ~1.3 s) and then idles about two more seconds on
internal timers before it exits; it opens, writes or connects nothing after the answer
(checked with ``strace`` on ``@bitwarden/cli`` 2026.6.0). With ``answer="json"`` a run
returns as soon as stdout holds one complete JSON document; the idle process
is left to exit by itself, watched by a reaper thread that still enforces the deadline,
and is ended by :func:`end_lingering` (at interpreter exit at the latest). Nothing outlives
the deadline or the interpreter.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Run", "RunTimeout", "end_lingering", "lingering_count", "run"]

Answer = Literal["exit", "json"]


class RunTimeout(Exception):
    """The run did not finish before its deadline; the process group was killed."""


@dataclass(frozen=True)
class Run:
    """The outcome of one run. ``code`` is ``None`` when the run returned on a complete
    JSON answer while the process was still idling (``data`` then holds the document)."""

    code: int | None
    out: str = field(repr=False)
    err: str = field(repr=False)
    data: Any = field(default=None, repr=False)
    answered: bool = False
    seconds: float = 0.0


_LINGERING: dict[subprocess.Popen[bytes], threading.Thread] = {}
_LINGERING_LOCK = threading.Lock()


def kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the process and its group (it leads one), then reap it."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            process.kill()
    except (ProcessLookupError, PermissionError):
        pass
    try:
        process.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError, OSError):  # pragma: no cover
        process.kill()
        process.wait(timeout=5)


def _reap(process: subprocess.Popen[bytes], deadline: float) -> None:
    try:
        process.communicate(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill(process)
    except (ValueError, OSError):  # pipes closed by end_lingering
        pass
    finally:
        with _LINGERING_LOCK:
            _LINGERING.pop(process, None)


def _linger(process: subprocess.Popen[bytes], deadline: float) -> None:
    thread = threading.Thread(
        target=_reap, args=(process, deadline), name=f"bw-reaper-{process.pid}", daemon=True
    )
    with _LINGERING_LOCK:
        _LINGERING[process] = thread
    thread.start()


def lingering_count() -> int:
    """How many answered ``bw`` processes are still idling (for tests)."""
    with _LINGERING_LOCK:
        return len(_LINGERING)


def end_lingering() -> None:
    """End every answered ``bw`` process still idling, and reap it."""
    with _LINGERING_LOCK:
        entries = list(_LINGERING.items())
    for process, thread in entries:
        if process.poll() is None:
            try:
                if os.name == "posix":
                    os.killpg(process.pid, signal.SIGTERM)
                else:  # pragma: no cover - Windows
                    process.terminate()
            except (ProcessLookupError, PermissionError):
                pass
        thread.join(timeout=10)
        if thread.is_alive():  # pragma: no cover - did not stop on SIGTERM
            kill(process)


atexit.register(end_lingering)


def _complete_json(buffer: bytearray) -> tuple[bool, Any]:
    """Whether ``buffer`` is one whole JSON object or array (``bw`` prints its last line
    without a newline when stdout is not a terminal)."""
    end = buffer.rstrip()
    if not end.endswith((b"}", b"]")):
        return False, None
    try:
        return True, json.loads(end)
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        return False, None


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace")


def _feed(process: subprocess.Popen[bytes], data: bytes) -> None:
    """Write ``data`` to the child's stdin and close it (a child that exits first is fine)."""
    pipe = process.stdin
    if pipe is None:  # pragma: no cover
        return
    try:
        pipe.write(data)
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            pipe.close()


def run(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    timeout: float,
    answer: Answer = "exit",
    stdin: bytes | None = None,
) -> Run:
    """Run ``command`` with piped output, at most ``timeout`` seconds; ``stdin`` is written
    to its standard input (from a thread, then closed), else it has none.

    Raises :class:`FileNotFoundError`/:class:`OSError` when it cannot start and
    :class:`RunTimeout` when the deadline passes (the process group is killed first).
    """
    started = time.monotonic()
    deadline = started + timeout
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env),
        start_new_session=os.name == "posix",
    )
    try:
        if answer == "json" and os.name == "posix":
            if stdin is not None:
                threading.Thread(target=_feed, args=(process, stdin), daemon=True).start()
            answered, out, err, data = _read_until_answer(process, deadline)
            if answered:
                _linger(process, deadline)
                return Run(None, out, err, data, True, time.monotonic() - started)
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        else:
            out_b, err_b = process.communicate(
                input=stdin, timeout=max(0.0, deadline - time.monotonic())
            )
            out, err = _decode(out_b), _decode(err_b)
    except subprocess.TimeoutExpired:
        kill(process)
        raise RunTimeout(" ".join(command[1:3])) from None
    except BaseException:
        kill(process)
        raise
    return Run(process.returncode, out, err, seconds=time.monotonic() - started)


def _read_until_answer(
    process: subprocess.Popen[bytes], deadline: float
) -> tuple[bool, str, str, Any]:
    """Read both pipes until stdout holds a complete JSON answer (``True``, …) or both
    close (``False``, …: the process is exiting). Raises ``TimeoutExpired``."""
    assert process.stdout is not None and process.stderr is not None
    out, err = bytearray(), bytearray()
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, out)
        selector.register(process.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise subprocess.TimeoutExpired(process.args, 0)
            for key, _ in selector.select(remaining):
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if key.data is out:
                    complete, data = _complete_json(out)
                    if complete:
                        return True, _decode(out), _decode(err), data
    return False, _decode(out), _decode(err), None
