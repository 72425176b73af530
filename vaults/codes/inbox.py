"""The codes inbox: push messages in, wait for "the code for user@example.com" out.

>>> inbox = Inbox()                      # doctest: +SKIP  (VAULTS_STORE or the default file)
>>> inbox.push("user@example.com", "Your code is 482913", source="email")   # doctest: +SKIP
>>> inbox.wait("USER@example.com", timeout=60).value                         # doctest: +SKIP
'482913'

Waiting is event-driven: a waiter sleeps until a push for its identifier wakes it (FIFOs
beside a SQLite file, LISTEN/NOTIFY on PostgreSQL); ``interval`` is only the fallback
re-check period.
"""

from __future__ import annotations

import builtins
import logging
import math
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING

import anyio

from vaults.codes.records import (
    OTP_TYPES,
    OtpType,
    PushedCode,
    check_tag,
    check_text,
    extraction_source,
    identifier_key,
    normalise_source,
)
from vaults.codes.store import CodeStore
from vaults.codes.store_url import open_store
from vaults.errors import CodeTimeout, ConfigurationError, InvalidInput, NoCode

if TYPE_CHECKING:
    from vaults.host import PluginHost

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_LIFESPAN_MINUTES",
    "DEFAULT_LIMIT",
    "DEFAULT_RETENTION",
    "DEFAULT_TIMEOUT",
    "MAX_CODES_PER_IDENTIFIER",
    "MAX_CONTENT_LENGTH",
    "MAX_LIMIT",
    "RETENTION_ENV",
    "Inbox",
]

DEFAULT_LIFESPAN_MINUTES = 10.0
DEFAULT_TIMEOUT = 900.0
DEFAULT_INTERVAL = 10.0
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
DEFAULT_RETENTION = 30.0
"""Seconds an expired or consumed code is kept before it is deleted."""
RETENTION_ENV = "VAULTS_CODE_RETENTION"
MAX_CODES_PER_IDENTIFIER = 100
"""Rows kept per identifier: a push beyond this deletes the oldest."""
MAX_CONTENT_LENGTH = 1024 * 1024
_SWEEP_EVERY_S = 15.0
_MAX_SKIPPED = 1000

log = logging.getLogger("vaults.codes")


def _retention_from(env: Mapping[str, str]) -> float:
    raw = env.get(RETENTION_ENV, "").strip()
    if not raw:
        return DEFAULT_RETENTION
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{RETENTION_ENV} must be a number of seconds (0 or more)")
    return value


def _check_duration(name: str, value: float, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"{name} must be a number of seconds")
    if value < 0 or (positive and value == 0) or math.isinf(value):
        raise InvalidInput(f"{name} must be {'positive' if positive else 'zero or more'}")
    return float(value)


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _check_otp_type(otp_type: str | None) -> OtpType | None:
    if otp_type is None:
        return None
    for known in OTP_TYPES:
        if otp_type == known:
            return known
    raise InvalidInput(f"otp_type must be one of {', '.join(OTP_TYPES)}")


class Inbox:
    """Pushed one-time codes and magic links, shared through a store (see ``store_url``).

    ``store_url``: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
    ``postgresql://…``; default ``VAULTS_STORE``, else SQLite in the user data directory.
    ``store``: an already opened :class:`~vaults.codes.store.CodeStore` instead.
    ``host``: the plugin host whose ``vaults_extract_code`` hook reads messages (default:
    :func:`vaults.host.make_host`, built on first push). ``lifespan_minutes``: how long a
    pushed code is handed to waiters. ``retention``: seconds an expired or consumed code is
    kept before it is deleted (default ``VAULTS_CODE_RETENTION``, else 30); deletion happens
    on the inbox's own operations and on :meth:`sweep` (``vaults serve`` sweeps every 10 s).
    At most ``max_codes_per_identifier`` codes are kept per identifier (oldest go first).
    """

    def __init__(
        self,
        store_url: str | None = None,
        *,
        store: CodeStore | None = None,
        host: PluginHost | None = None,
        env: Mapping[str, str] | None = None,
        lifespan_minutes: float = DEFAULT_LIFESPAN_MINUTES,
        retention: float | None = None,
        max_codes_per_identifier: int = MAX_CODES_PER_IDENTIFIER,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lifespan = _check_duration("lifespan_minutes", lifespan_minutes, positive=True) * 60
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.retention = (
            _retention_from(self.env)
            if retention is None
            else _check_duration("retention", retention, positive=False)
        )
        if isinstance(max_codes_per_identifier, bool) or max_codes_per_identifier < 1:
            raise InvalidInput("max_codes_per_identifier must be 1 or more")
        self.max_codes = int(max_codes_per_identifier)
        self.store: CodeStore = store if store is not None else open_store(store_url, self.env)
        self._host = host
        self._host_lock = threading.Lock()
        self.clock = clock
        self._last_prune = -math.inf

    # -- plumbing -------------------------------------------------------------------
    @property
    def host(self) -> PluginHost:
        if self._host is None:
            with self._host_lock:
                if self._host is None:
                    from vaults.host import make_host

                    self._host = make_host(env=self.env)
        return self._host

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Inbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Inbox({self.store.description!r})"

    # -- push -----------------------------------------------------------------------
    def push(
        self,
        identifier: str,
        content: str,
        *,
        source: str | None = None,
        task_id: str | None = None,
        workflow_run_id: str | None = None,
    ) -> PushedCode:
        """Extract the code or magic link from ``content`` (an e-mail or SMS) and store it.

        ``source`` is ``"email"`` or ``"phone"`` (``"sms"`` is read as ``"phone"``); other
        labels are stored as given. Raises :class:`~vaults.errors.NoCode` when the message
        holds no code or link, :class:`~vaults.errors.InvalidInput` for bad arguments.
        """
        key = identifier_key(identifier)
        if not isinstance(content, str):
            raise InvalidInput("the content must be text")
        if len(content) > MAX_CONTENT_LENGTH:
            raise InvalidInput(f"the content is longer than {MAX_CONTENT_LENGTH} characters")
        if not content.strip():
            raise InvalidInput("the content is empty")
        check_text("content", content, nul=True)
        source = normalise_source(source)
        task_id = check_tag("task_id", task_id)
        workflow_run_id = check_tag("workflow_run_id", workflow_run_id)
        found = self.host.extract_code(content, extraction_source(source))
        if found is None:
            raise NoCode(f"no one-time code or magic link found in the message for {identifier!r}")
        now = self.clock()
        code = PushedCode(
            id=f"otp_{secrets.token_hex(12)}",
            identifier=identifier.strip(),
            otp_type=found.otp_type,
            value=found.value,
            origin=found.origin,
            source=source,
            task_id=task_id,
            workflow_run_id=workflow_run_id,
            created_at=now,
            expires_at=now + self.lifespan,
        )
        self.store.insert(code, key)
        self.store.trim(key, self.max_codes)
        self._maybe_sweep(now)
        return code

    def sweep(self) -> int:
        """Delete the codes that expired or were consumed more than ``retention`` seconds
        ago (SQLite: overwritten on disk, write-ahead log truncated); how many went."""
        now = self.clock()
        self._last_prune = now
        return self.store.prune(now - self.retention)

    def _maybe_sweep(self, now: float) -> None:
        if now - self._last_prune >= _SWEEP_EVERY_S:
            self.sweep()

    # -- list -----------------------------------------------------------------------
    def list(
        self,
        identifier: str | None = None,
        *,
        workflow_run_id: str | None = None,
        otp_type: OtpType | None = None,
        limit: int = DEFAULT_LIMIT,
        active_only: bool = False,
    ) -> builtins.list[PushedCode]:
        """Codes matching every given filter, newest first, expired and consumed ones
        (until they are deleted) included unless ``active_only``. ``limit`` is 1 to 200."""
        key = identifier_key(identifier) if identifier is not None else None
        workflow_run_id = check_tag("workflow_run_id", workflow_run_id)
        otp_type = _check_otp_type(otp_type)
        limit = _check_limit(limit)
        now = self.clock()
        self._maybe_sweep(now)
        return self.store.history(
            key=key,
            workflow_run_id=workflow_run_id,
            otp_type=otp_type,
            limit=limit,
            active_at=now if active_only else None,
        )

    # -- wait -----------------------------------------------------------------------
    def wait(
        self,
        identifier: str,
        *,
        since: float | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        interval: float = DEFAULT_INTERVAL,
        consume: bool = False,
        accept: Callable[[PushedCode], bool] | None = None,
    ) -> PushedCode:
        """The newest unexpired code for ``identifier`` created after ``since`` (epoch
        seconds; ``None``: any unexpired code), waiting up to ``timeout`` seconds for one.

        Wakes within milliseconds of a matching push; ``interval`` is the fallback re-check
        period. With ``consume`` the code is taken: no other ``wait`` returns it again
        (codes taken by a consuming waiter are never returned to anyone). ``accept``: codes
        it refuses (e.g. a magic link to another site, see
        :class:`~vaults.codes.binding.SiteBinding`) are skipped and the wait goes on. Raises
        :class:`~vaults.errors.CodeTimeout` when no code came in time.
        """
        key, since, timeout, interval = self._wait_args(identifier, since, timeout, interval)
        look = partial(self._look, key, identifier, since, consume, accept, [])
        if timeout == 0:  # a single look: no need to listen
            code = look()
            if code is None:
                raise self._timeout(identifier, timeout)
            return code
        deadline = time.monotonic() + timeout
        with self.store.listen(key) as listener:  # registered before the first look
            while True:
                code = look()
                if code is not None:
                    return code
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self._timeout(identifier, timeout)
                listener.wait(min(interval, left))

    async def await_wait(
        self,
        identifier: str,
        *,
        since: float | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        interval: float = DEFAULT_INTERVAL,
        consume: bool = False,
        accept: Callable[[PushedCode], bool] | None = None,
    ) -> PushedCode:
        """Async :meth:`wait` (asyncio or trio through anyio; cancellable)."""
        key, since, timeout, interval = self._wait_args(identifier, since, timeout, interval)
        deadline = anyio.current_time() + timeout
        look = partial(self._look, key, identifier, since, consume, accept, [])
        async with await self.store.alisten(key) as listener:
            while True:
                code = await anyio.to_thread.run_sync(look)
                if code is not None:
                    return code
                left = deadline - anyio.current_time()
                if left <= 0:
                    raise self._timeout(identifier, timeout)
                await listener.wait(min(interval, left))

    def _look(
        self,
        key: str,
        identifier: str,
        since: float | None,
        consume: bool,
        accept: Callable[[PushedCode], bool] | None,
        skipped: builtins.list[str],
    ) -> PushedCode | None:
        """The newest code ``accept`` takes (refused ones are remembered in ``skipped``)."""
        while True:
            code = self.store.newest(
                key=key, since=since, now=self.clock(), consume=consume, exclude=skipped
            )
            if code is None or accept is None or accept(code):
                return code
            log.debug(
                "skipped a %s for %r refused by the waiter (%s)",
                "magic link" if code.otp_type == "magic_link" else "code",
                identifier.strip(),
                code.id,
            )
            if len(skipped) >= _MAX_SKIPPED:
                skipped.pop(0)
            skipped.append(code.id)

    @staticmethod
    def _wait_args(
        identifier: str, since: float | None, timeout: float, interval: float
    ) -> tuple[str, float | None, float, float]:
        key = identifier_key(identifier)
        if since is not None:
            if isinstance(since, bool) or not isinstance(since, int | float) or math.isnan(since):
                raise InvalidInput("since must be epoch seconds")
            since = float(since)
        return (
            key,
            since,
            _check_duration("timeout", timeout, positive=False),
            _check_duration("interval", interval, positive=True),
        )

    @staticmethod
    def _timeout(identifier: str, timeout: float) -> CodeTimeout:
        return CodeTimeout(f"no code for {identifier.strip()!r} arrived within {timeout:g} s")

    # -- async conveniences -----------------------------------------------------------
    async def apush(
        self,
        identifier: str,
        content: str,
        *,
        source: str | None = None,
        task_id: str | None = None,
        workflow_run_id: str | None = None,
    ) -> PushedCode:
        """Async :meth:`push` (runs in a worker thread)."""
        return await anyio.to_thread.run_sync(
            partial(
                self.push,
                identifier,
                content,
                source=source,
                task_id=task_id,
                workflow_run_id=workflow_run_id,
            )
        )

    async def alist(
        self,
        identifier: str | None = None,
        *,
        workflow_run_id: str | None = None,
        otp_type: OtpType | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> builtins.list[PushedCode]:
        """Async :meth:`list` (runs in a worker thread)."""
        return await anyio.to_thread.run_sync(
            partial(
                self.list,
                identifier,
                workflow_run_id=workflow_run_id,
                otp_type=otp_type,
                limit=limit,
            )
        )
