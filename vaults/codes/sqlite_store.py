"""The embedded code store: one SQLite file (WAL mode), safe for several processes on a machine.

Each thread gets its own connection, kept open (so the write-ahead log is not checkpointed
and deleted after every statement); one store object is safe to share between threads, and
a forked child opens fresh connections. Every statement is its own transaction. Wake-ups go
through FIFOs in ``<database>.wake/`` (:mod:`vaults.codes.fifo_wakeup`); without FIFO
support, waiters poll.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from vaults.codes import fifo_wakeup
from vaults.codes.records import OtpType, PushedCode
from vaults.codes.store import (
    COLUMNS,
    PRUNE_WHERE,
    TRIM_SQL,
    AsyncListener,
    CodeStore,
    Listener,
    SleepListener,
    code_values,
    exclude_filter,
    history_filter,
    row_to_code,
)
from vaults.errors import VaultUnavailable

__all__ = ["SqliteStore"]

_BUSY_TIMEOUT_S = 10.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS codes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code_id TEXT NOT NULL UNIQUE,
    identifier TEXT NOT NULL,
    identifier_key TEXT NOT NULL,
    otp_type TEXT NOT NULL,
    value TEXT NOT NULL,
    origin TEXT,
    source TEXT,
    task_id TEXT,
    workflow_run_id TEXT,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    consumed_at REAL
);
CREATE INDEX IF NOT EXISTS codes_by_key ON codes (identifier_key, created_at);
CREATE INDEX IF NOT EXISTS codes_by_run ON codes (workflow_run_id, created_at);
CREATE INDEX IF NOT EXISTS codes_by_time ON codes (created_at);
CREATE INDEX IF NOT EXISTS codes_by_expiry ON codes (expires_at);
"""


def _tighten(path: Path) -> None:
    """Make an existing store file (and its WAL and shared-memory files) private (0600)."""
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            mode = part.stat().st_mode
            if mode & 0o077:
                os.chmod(part, 0o600)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise VaultUnavailable(
                f"the code store {path} is readable by others and cannot be made private "
                f"(chmod 600): {exc.strerror or exc}"
            ) from None


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch the file to write-ahead logging (a persistent setting) unless it already is.

    Switching takes an exclusive lock and answers "database is locked" at once, without
    the busy timeout, when another process is switching or reading right then: retry.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_S
    while True:
        row = conn.execute("PRAGMA journal_mode").fetchone()
        if row and str(row[0]).lower() == "wal":
            return
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
            continue
        return  # switched, or a file system without WAL support: the old mode stays


def _unavailable(path: Path, exc: sqlite3.Error) -> VaultUnavailable:
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return VaultUnavailable(f"the code store {path} cannot be used: {reason}")


class SqliteStore(CodeStore):
    def __init__(self, path: Path, *, wakeups: bool = True) -> None:
        self.path = Path(path)
        self.description = f"sqlite:///{self.path}"
        self._ready = False
        self._ready_lock = threading.Lock()
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._wakeups = (
            fifo_wakeup.FifoWakeups(self.path.with_name(self.path.name + ".wake"))
            if wakeups and fifo_wakeup.supported()
            else None
        )

    # -- connections ----------------------------------------------------------------
    def _ensure_ready(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not self.path.exists():
                    # Create it private: pushed codes are short-lived secrets.
                    fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600)
                    os.close(fd)
                _tighten(self.path)
            except OSError as exc:
                raise VaultUnavailable(
                    f"the code store {self.path} cannot be created: {exc.strerror or exc}"
                ) from None
            try:
                conn = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, isolation_level=None)
                try:
                    _use_wal(conn)
                    conn.executescript(_SCHEMA)
                finally:
                    conn.close()
            except sqlite3.Error as exc:
                raise _unavailable(self.path, exc) from None
            self._ready = True

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked: the parent's connections are not ours
            self._pid = os.getpid()
            self._local = threading.local()
            self._opened = []
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        self._ensure_ready()
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,  # only so that close() may close it
            )
            conn.execute("PRAGMA synchronous=NORMAL")
            # deleted rows are overwritten with zeros, not just unlinked
            conn.execute("PRAGMA secure_delete=ON")
        except sqlite3.Error as exc:
            raise _unavailable(self.path, exc) from None
        self._local.conn = conn
        with self._ready_lock:
            self._opened.append(conn)
        return conn

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            yield conn
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            raise _unavailable(self.path, exc) from None

    def close(self) -> None:
        with self._ready_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    # -- contract -------------------------------------------------------------------
    def insert(self, code: PushedCode, key: str) -> None:
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO codes (identifier_key, {COLUMNS}) "  # noqa: S608 - constant
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                code_values(code, key),
            )
        if self._wakeups is not None:
            self._wakeups.notify(key)

    def history(
        self,
        *,
        key: str | None,
        workflow_run_id: str | None,
        otp_type: OtpType | None,
        limit: int,
        active_at: float | None = None,
    ) -> list[PushedCode]:
        clause, params = history_filter(
            "?", key=key, workflow_run_id=workflow_run_id, otp_type=otp_type, active_at=active_at
        )
        params.append(limit)
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM codes {clause} "  # noqa: S608 - constant pieces
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                params,
            ).fetchall()
        return [row_to_code(row) for row in rows]

    def newest(
        self,
        *,
        key: str,
        since: float | None,
        now: float,
        consume: bool,
        exclude: Sequence[str] = (),
    ) -> PushedCode | None:
        skip, skipped = exclude_filter("?", exclude)
        pick = (
            "SELECT id FROM codes WHERE identifier_key = ? AND consumed_at IS NULL "  # noqa: S608
            f"AND expires_at > ? AND created_at > ?{skip} "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        floor = since if since is not None else float("-inf")
        with self._connect() as conn:
            if consume:
                # One statement under SQLite's write lock: two consumers never share a code.
                rows = conn.execute(
                    f"UPDATE codes SET consumed_at = ? WHERE id = ({pick}) "  # noqa: S608
                    f"AND consumed_at IS NULL RETURNING {COLUMNS}",
                    (now, key, now, floor, *skipped),
                ).fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {COLUMNS} FROM codes WHERE id = ({pick})",  # noqa: S608
                    (key, now, floor, *skipped),
                ).fetchall()
        return row_to_code(rows[0]) if rows else None

    def prune(self, before: float) -> int:
        with self._connect() as conn:
            cursor = conn.execute(
                f"DELETE FROM codes WHERE {PRUNE_WHERE.format(p='?')}",  # noqa: S608
                (before, before),
            )
            gone = cursor.rowcount
            if gone:
                self._truncate_wal(conn)
            return gone

    def trim(self, key: str, keep: int) -> int:
        with self._connect() as conn:
            cursor = conn.execute(TRIM_SQL.format(table="codes", p="?"), (key, key, keep))
            gone = cursor.rowcount
            if gone:
                self._truncate_wal(conn)
            return gone

    @staticmethod
    def _truncate_wal(conn: sqlite3.Connection) -> None:
        """Copy the log into the file and truncate it: a plain checkpoint would leave the
        deleted rows' old pages in ``-wal``. Busy (a reader holds an old snapshot): the next
        delete tries again."""
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def listen(self, key: str) -> Listener:
        if self._wakeups is None:
            return SleepListener()
        try:
            return self._wakeups.listener(key)
        except OSError:
            return SleepListener()  # e.g. a read-only directory: fall back to polling

    async def alisten(self, key: str) -> AsyncListener:
        if self._wakeups is not None:
            try:
                return self._wakeups.async_listener(key)
            except OSError:
                pass
        return await super().alisten(key)
