"""The storage contract every code store (SQLite, PostgreSQL) fulfils.

A store keeps :class:`~vaults.codes.records.PushedCode` rows and wakes waiters: a listener
is registered *before* the waiter's first look at the table and the pusher notifies *after*
its commit, so a push can never slip between a waiter's check and its sleep.

The SQL stores also share the column list, the row mapping and the ``history`` filters.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import anyio

from vaults.codes.records import OtpType, PushedCode

__all__ = [
    "COLUMNS",
    "AsyncListener",
    "AsyncSleepListener",
    "CodeStore",
    "Listener",
    "SleepListener",
    "code_values",
    "exclude_filter",
    "history_filter",
    "row_to_code",
]

COLUMNS = (
    "code_id, identifier, otp_type, value, origin, source, task_id, workflow_run_id, "
    "created_at, expires_at, consumed_at"
)
"""The columns of a :class:`PushedCode` in a SQL store, in the order :func:`row_to_code`
reads them and :func:`code_values` gives them."""


def row_to_code(row: tuple[Any, ...]) -> PushedCode:
    """The code in a row selected as :data:`COLUMNS`."""
    return PushedCode(
        id=row[0],
        identifier=row[1],
        otp_type=row[2],
        value=row[3],
        origin=row[4],
        source=row[5],
        task_id=row[6],
        workflow_run_id=row[7],
        created_at=row[8],
        expires_at=row[9],
        consumed_at=row[10],
    )


def code_values(code: PushedCode, key: str) -> tuple[Any, ...]:
    """The parameters of an INSERT into ``(identifier_key, COLUMNS)``."""
    return (
        key,
        code.id,
        code.identifier,
        code.otp_type,
        code.value,
        code.origin,
        code.source,
        code.task_id,
        code.workflow_run_id,
        code.created_at,
        code.expires_at,
        code.consumed_at,
    )


def history_filter(
    placeholder: str,
    *,
    key: str | None,
    workflow_run_id: str | None,
    otp_type: OtpType | None,
    active_at: float | None = None,
) -> tuple[str, list[Any]]:
    """The ``WHERE`` clause (empty without filters) and its parameters for
    :meth:`CodeStore.history`; ``placeholder`` is the driver's (``?`` or ``%s``)."""
    where: list[str] = []
    params: list[Any] = []
    if active_at is not None:
        where.append(f"consumed_at IS NULL AND expires_at > {placeholder}")
        params.append(active_at)
    for column, value in (
        ("identifier_key", key),
        ("workflow_run_id", workflow_run_id),
        ("otp_type", otp_type),
    ):
        if value is not None:
            where.append(f"{column} = {placeholder}")
            params.append(value)
    return (f"WHERE {' AND '.join(where)}" if where else ""), params


def exclude_filter(placeholder: str, exclude: Sequence[str]) -> tuple[str, list[Any]]:
    """`` AND code_id NOT IN (…)`` for ``exclude`` (empty without ids) and its parameters."""
    if not exclude:
        return "", []
    marks = ", ".join([placeholder] * len(exclude))
    return f" AND code_id NOT IN ({marks})", list(exclude)


PRUNE_WHERE = "expires_at <= {p} OR consumed_at <= {p}"
"""What :meth:`CodeStore.prune` deletes (format ``p`` with the driver's placeholder)."""

TRIM_SQL = (
    "DELETE FROM {table} WHERE identifier_key = {p} AND id NOT IN "
    "(SELECT id FROM {table} WHERE identifier_key = {p} ORDER BY created_at DESC, id DESC "
    "LIMIT {p})"
)
"""What :meth:`CodeStore.trim` runs (format ``table`` and the placeholder ``p``)."""


class Listener(abc.ABC):
    """Wake-ups for one identifier, blocking flavour."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> bool:
        """Block until a push for the identifier may have happened (``True``) or ``timeout``
        seconds pass (``False``). Spurious ``True`` answers are allowed."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop listening."""

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncListener(abc.ABC):
    """Wake-ups for one identifier, ``async`` flavour (cancellable)."""

    @abc.abstractmethod
    async def wait(self, timeout: float) -> bool:
        """Like :meth:`Listener.wait`, without blocking the event loop."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Stop listening."""

    async def __aenter__(self) -> AsyncListener:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SleepListener(Listener):
    """No wake-ups: waiting just sleeps (the poll interval is then the only trigger)."""

    def wait(self, timeout: float) -> bool:
        time.sleep(max(0.0, timeout))
        return False


class AsyncSleepListener(AsyncListener):
    """Async :class:`SleepListener`."""

    async def wait(self, timeout: float) -> bool:
        await anyio.sleep(max(0.0, timeout))
        return False


class CodeStore(abc.ABC):
    """Persistent codes plus cross-process wake-ups."""

    description: str
    """Where the store lives, safe to show (no password)."""

    @abc.abstractmethod
    def insert(self, code: PushedCode, key: str) -> None:
        """Store ``code`` under the identifier key ``key``, commit, then wake its waiters."""

    @abc.abstractmethod
    def history(
        self,
        *,
        key: str | None,
        workflow_run_id: str | None,
        otp_type: OtpType | None,
        limit: int,
        active_at: float | None = None,
    ) -> list[PushedCode]:
        """Codes matching every given filter, newest first, expired and consumed included
        unless ``active_at`` (then only those neither consumed nor expired at that time)."""

    @abc.abstractmethod
    def newest(
        self,
        *,
        key: str,
        since: float | None,
        now: float,
        consume: bool,
        exclude: Sequence[str] = (),
    ) -> PushedCode | None:
        """The newest code for ``key`` created after ``since`` that is neither expired at
        ``now`` nor consumed nor one of the ids in ``exclude``; with ``consume`` it is
        atomically marked consumed, so that concurrent callers never get the same code."""

    @abc.abstractmethod
    def prune(self, before: float) -> int:
        """Delete codes that expired or were consumed before ``before``, leaving no copy
        the store can help (SQLite: overwritten, WAL truncated); return how many went."""

    @abc.abstractmethod
    def trim(self, key: str, keep: int) -> int:
        """Delete all but the newest ``keep`` codes of ``key``; return how many went."""

    def listen(self, key: str) -> Listener:
        """Start listening for pushes to ``key`` (registered when this returns)."""
        return SleepListener()

    async def alisten(self, key: str) -> AsyncListener:
        """Async :meth:`listen`."""
        return AsyncSleepListener()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
