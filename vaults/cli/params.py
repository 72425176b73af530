"""Option types shared by the ``vaults`` commands: each says what is wrong with a bad value.

* :data:`SECONDS` — a finite number of seconds, zero or more (``--timeout``);
* :data:`EPOCH` — a time as epoch seconds within a sane range (``--at``);
* :data:`SINCE` — a past moment: epoch seconds, ISO 8601 (``2026-05-01T09:30:00Z``; no zone:
  local time) or relative to now (``-5m``, ``-90s``, ``-2h``, ``-1d``) (``--since``).
"""

from __future__ import annotations

import math
import re
import time
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # click >= 8.2 types its ParamType by value and input
    _FloatType = click.ParamType[float, Any]
else:
    _FloatType = click.ParamType

__all__ = ["EPOCH", "SECONDS", "SINCE", "parse_since"]

MAX_EPOCH = 1e12  # about the year 33658: anything later is a typo, not a time
_RELATIVE = re.compile(r"-\s*(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>s|sec|m|min|h|d)?", re.I)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Seconds(_FloatType):
    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: float | None = float(value)
        else:
            number = _number(str(value).strip())
        if number is None or math.isnan(number):
            self.fail(f"{value!r} is not a number of seconds (e.g. 300)", param, ctx)
        if math.isinf(number):
            self.fail(
                f"{value!r} is not a finite number of seconds: give one, e.g. 3600", param, ctx
            )
        if number < 0:
            self.fail(f"{value!r} is negative: give zero or more seconds", param, ctx)
        return number


class _Epoch(_FloatType):
    name = "epoch"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = value if isinstance(value, float) else _number(str(value).strip())
        if number is None or not math.isfinite(number):
            self.fail(f"{value!r} is not a time in epoch seconds (e.g. 1700000000)", param, ctx)
        if not 0 <= number < MAX_EPOCH:
            self.fail(
                f"{value!r} is out of range: epoch seconds from 0 to {MAX_EPOCH:.0e} "
                f"(now is about {time.time():.0f})",
                param,
                ctx,
            )
        return float(number)


def parse_since(text: str, now: float | None = None) -> float:
    """Epoch seconds for ``text`` (epoch, ISO 8601 or ``-5m``); ValueError says why not."""
    from datetime import datetime

    raw = text.strip()
    current = time.time() if now is None else now
    relative = _RELATIVE.fullmatch(raw)
    if relative is not None:
        return current - float(relative["n"]) * _UNIT[(relative["unit"] or "s").lower()]
    number = _number(raw)
    if number is not None:
        if not math.isfinite(number) or not 0 <= number < MAX_EPOCH:
            raise ValueError(f"{text!r} is not a time: epoch seconds from 0 to {MAX_EPOCH:.0e}")
        return number
    try:
        moment = datetime.fromisoformat(raw.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: give epoch seconds (1700000000), ISO 8601 "
            "(2026-05-01T09:30:00Z) or a time relative to now (-5m, -90s, -2h)"
        ) from None
    return moment.timestamp()  # naive: local time, as a user typing it means


class _Since(_FloatType):
    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, float):
            return value
        try:
            return parse_since(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


SECONDS = _Seconds()
EPOCH = _Epoch()
SINCE = _Since()
