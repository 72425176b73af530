"""``vaults resolve``'s countdown while it waits for a pulled or pushed code.

On a terminal (stderr) one line is rewritten in place every second::

    waiting for a code for user@example.com (inbox) — 14:52 left

and erased when the wait ends. Nothing is written when stderr is not a terminal.
"""

from __future__ import annotations

import math
import threading
import time
from typing import IO

from vaults.delivery import Waiting

__all__ = ["Countdown", "countdown_text"]


def countdown_text(waiting: Waiting, seconds_left: float) -> str:
    """``waiting for a code for ID (inbox) — M:SS left``."""
    minutes, seconds = divmod(max(0, math.ceil(seconds_left)), 60)
    return f"waiting for {waiting.describe()} — {minutes}:{seconds:02d} left"


class Countdown:
    """``on_wait`` for :meth:`vaults.Vaults.resolve`: starts the line when the wait starts;
    :meth:`stop` erases it (safe to call when no wait ever started)."""

    def __init__(self, stream: IO[str], tick: float = 1.0) -> None:
        self._stream = stream
        self._tick = tick
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, waiting: Waiting) -> None:
        if self._thread is not None:
            return
        deadline = time.monotonic() + waiting.timeout
        self._thread = threading.Thread(
            target=self._run, args=(waiting, deadline), name="vaults-countdown", daemon=True
        )
        self._thread.start()

    def _run(self, waiting: Waiting, deadline: float) -> None:
        while not self._stop.is_set():
            self._stream.write("\r\033[K" + countdown_text(waiting, deadline - time.monotonic()))
            self._stream.flush()
            self._stop.wait(self._tick)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._stream.write("\r\033[K")
            self._stream.flush()
