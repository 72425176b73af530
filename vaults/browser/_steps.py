"""One algorithm for Playwright's sync and async APIs.

The helpers in :mod:`vaults.browser` are written once, as generators that *yield* the
Playwright calls they need (:class:`Call`) and get each result sent back. :func:`run_sync`
performs the calls directly, :func:`run_async` awaits them: both APIs name their methods
alike, so the same plan drives either.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Call", "Plan", "call", "run_async", "run_sync"]

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """``getattr(target, method)(*args, **kwargs)``, awaited under the async API."""

    target: Any
    method: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:  # arguments may be secret: never shown
        return f"Call({type(self.target).__name__}.{self.method})"


Plan = Generator[Call, Any, T]


def call(target: Any, method: str, *args: Any, **kwargs: Any) -> Call:
    return Call(target, method, args, kwargs)


def run_sync(plan: Plan[T]) -> T:
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = plan.throw(error) if error is not None else plan.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            value = getattr(step.target, step.method)(*step.args, **step.kwargs)
        except Exception as exc:  # handed to the plan, which decides
            error = exc


async def run_async(plan: Plan[T]) -> T:
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = plan.throw(error) if error is not None else plan.send(value)
        except StopIteration as stop:
            result: T = stop.value
            return result
        value, error = None, None
        try:
            value = await getattr(step.target, step.method)(*step.args, **step.kwargs)
        except Exception as exc:  # handed to the plan, which decides
            error = exc
