"""A code handed to the boxes of one form: :class:`CodeLease` (``TotpCode.lease()``).

Its own module so that :mod:`vaults.models` and :mod:`vaults.totp` do not import each other.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vaults.errors import TotpExpired

if TYPE_CHECKING:
    from vaults.models import TotpCode

__all__ = ["CodeLease"]


class CodeLease:
    """Hands one code to every digit box of one form, and refuses once it expired.

    >>> lease = code.lease()  # doctest: +SKIP
    >>> for i, box in enumerate(boxes): box.fill(lease.digit(i))  # doctest: +SKIP
    """

    def __init__(self, code: TotpCode, clock: Callable[[], float] = time.time) -> None:
        self._code = code
        self._clock = clock

    @property
    def valid_until(self) -> int:
        return self._code.valid_until

    def _check(self) -> str:
        if self._clock() >= self._code.valid_until:
            raise TotpExpired("the one-time code expired before the form was filled; resolve again")
        return self._code.code

    @property
    def code(self) -> str:
        """The whole code; raises :class:`~vaults.errors.TotpExpired` after ``valid_until``."""
        return self._check()

    def digit(self, index: int) -> str:
        """The character for box ``index`` (0-based)."""
        code = self._check()
        if not 0 <= index < len(code):
            raise IndexError(f"the code has {len(code)} characters, box {index} does not exist")
        return code[index]

    def __len__(self) -> int:
        return len(self._code.code)

    def __repr__(self) -> str:
        return f"CodeLease(digits={len(self._code.code)}, valid_until={self._code.valid_until})"
