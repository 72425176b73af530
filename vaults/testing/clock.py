"""A deterministic clock for TOTP tests: pass it as ``Vaults(clock=...)``."""

from __future__ import annotations

from typing import Final

__all__ = ["FROZEN_TIME", "FrozenClock"]

FROZEN_TIME: Final = 1_750_000_022.0
"""Two seconds into a 30-second TOTP window (so the default 20-second skip rule keeps it)."""


class FrozenClock:
    """A callable returning a fixed epoch time until moved with :meth:`set` or :meth:`advance`."""

    def __init__(self, now: float = FROZEN_TIME) -> None:
        self.now = float(now)

    def __call__(self) -> float:
        return self.now

    def set(self, now: float) -> None:
        self.now = float(now)

    def advance(self, seconds: float) -> float:
        """Move forward (or back, if negative) and return the new time."""
        self.now += seconds
        return self.now

    def __repr__(self) -> str:
        return f"FrozenClock({self.now!r})"
