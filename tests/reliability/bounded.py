"""Run a call that must not hang: in a daemon thread, waited for at most ``limit`` seconds.

A call still running at the limit is reported as hung (and left behind in its daemon thread:
the test fails, the suite goes on).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Outcome", "run_bounded"]


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None
    seconds: float = 0.0
    hung: bool = False

    def describe(self) -> str:
        if self.hung:
            return f"still running after {self.seconds:.1f} s"
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error} ({self.seconds:.2f} s)"
        return f"returned {type(self.value).__name__} ({self.seconds:.2f} s)"


def run_bounded(call: Callable[[], Any], limit: float) -> Outcome:
    outcome = Outcome()
    done = threading.Event()

    def target() -> None:
        try:
            outcome.value = call()
        except BaseException as exc:
            outcome.error = exc
        finally:
            done.set()

    started = time.monotonic()
    thread = threading.Thread(target=target, name="bounded-call", daemon=True)
    thread.start()
    finished = done.wait(limit)
    outcome.seconds = time.monotonic() - started
    outcome.hung = not finished
    return outcome
