"""The shared code store: PostgreSQL through psycopg 3, wake-ups by LISTEN/NOTIFY.

Several hosts (or a ``vaults serve`` on one machine and waiters on others) share one inbox.
A push inserts and calls ``pg_notify`` in one transaction, so the notification leaves at
commit; each waiter holds its own ``LISTEN`` connection for the duration of its wait.
The notification payload is a hash of the identifier key, never the identifier itself.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import anyio

from vaults.codes.fifo_wakeup import tag_for
from vaults.codes.records import OtpType, PushedCode
from vaults.codes.store import (
    COLUMNS,
    PRUNE_WHERE,
    TRIM_SQL,
    AsyncListener,
    CodeStore,
    Listener,
    code_values,
    exclude_filter,
    history_filter,
    row_to_code,
)
from vaults.errors import ConfigurationError, VaultUnavailable

if TYPE_CHECKING:
    import psycopg

__all__ = ["CHANNEL", "LISTENER_APPLICATION_NAME", "TABLE", "PostgresStore", "redact_url"]

TABLE = "vaults_codes"
CHANNEL = "vaults_codes"
_CONNECT_TIMEOUT_S = 10
LISTENER_APPLICATION_NAME = "vaults-codes-wait"
"""``application_name`` of waiters' LISTEN connections (visible in ``pg_stat_activity``)."""
_SCHEMA_LOCK = 0x7661756C  # advisory lock id ("vaul") serialising schema creation
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id BIGSERIAL PRIMARY KEY,
    code_id TEXT NOT NULL UNIQUE,
    identifier TEXT NOT NULL,
    identifier_key TEXT NOT NULL,
    otp_type TEXT NOT NULL,
    value TEXT NOT NULL,
    origin TEXT,
    source TEXT,
    task_id TEXT,
    workflow_run_id TEXT,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    consumed_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS {TABLE}_by_key ON {TABLE} (identifier_key, created_at);
CREATE INDEX IF NOT EXISTS {TABLE}_by_run ON {TABLE} (workflow_run_id, created_at);
CREATE INDEX IF NOT EXISTS {TABLE}_by_time ON {TABLE} (created_at);
CREATE INDEX IF NOT EXISTS {TABLE}_by_expiry ON {TABLE} (expires_at);
"""


_SECRET_PARAMS = ("password", "sslpassword", "passfile", "secret", "token", "key")


def redact_url(url: str) -> str:
    """``url`` without its password, in the user part or in the query (libpq takes
    ``?password=…``): safe for messages and logs."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "postgresql://…"
    netloc = parts.netloc
    if parts.password is not None:
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host
        if port is not None:
            host = f"{host}:{port}"
        netloc = f"{parts.username or ''}:***@{host}"
    query = "&".join(
        f"{name}={'***' if any(s in name.lower() for s in _SECRET_PARAMS) else value}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            "a postgresql:// code store needs psycopg 3: pip install 'vaults[postgres]'"
        ) from None
    return psycopg


class PostgresStore(CodeStore):
    def __init__(self, url: str) -> None:
        self._psycopg = _import_psycopg()
        self._url = url
        self.description = redact_url(url)
        self._conn: psycopg.Connection[Any] | None = None
        self._lock = threading.Lock()
        self._ready = False

    # -- connections ----------------------------------------------------------------
    def _unavailable(self, exc: BaseException) -> VaultUnavailable:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        try:
            password = urlsplit(self._url).password
        except ValueError:  # a URL Python cannot split: libpq's reason may quote it whole
            return VaultUnavailable(f"the code store {self.description} cannot be used")
        if password:
            reason = reason.replace(password, "***")
        return VaultUnavailable(f"the code store {self.description} cannot be used: {reason}")

    def _malformed(self) -> ConfigurationError:
        return ConfigurationError(
            f"the code store URL {self.description} is not a valid PostgreSQL URL"
        )

    def _open(self, *, autocommit: bool, **params: str) -> psycopg.Connection[Any]:
        try:
            conn: psycopg.Connection[Any] = self._psycopg.connect(
                self._url, autocommit=autocommit, connect_timeout=_CONNECT_TIMEOUT_S, **params
            )
        except self._psycopg.ProgrammingError:  # libpq refused the URL (and quotes it back)
            raise self._malformed() from None
        except self._psycopg.Error as exc:
            raise self._unavailable(exc) from None
        return conn

    def _run(self, sql: str, params: tuple[Any, ...] | list[Any], *, fetch: bool) -> list[Any]:
        """Run one statement in its own transaction on the shared connection (reconnecting
        once if the server dropped it)."""
        psycopg = self._psycopg
        with self._lock:
            for attempt in (1, 2):
                if self._conn is None or self._conn.closed:
                    self._conn = self._open(autocommit=False)
                    if not self._ready:
                        self._create_schema(self._conn)
                conn = self._conn
                try:
                    with conn.transaction():
                        cursor = conn.execute(sql, params)
                        rows = cursor.fetchall() if fetch else []
                        result = rows if fetch else [cursor.rowcount]
                    return result
                except psycopg.OperationalError as exc:
                    conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise self._unavailable(exc) from None
                except psycopg.Error as exc:
                    raise self._unavailable(exc) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                for statement in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    conn.execute(statement)
        except self._psycopg.Error as exc:
            raise self._unavailable(exc) from None
        self._ready = True

    # -- contract -------------------------------------------------------------------
    def insert(self, code: PushedCode, key: str) -> None:
        # INSERT and NOTIFY in one statement/transaction: the wake-up leaves at commit.
        self._run(
            f"WITH added AS (INSERT INTO {TABLE} (identifier_key, {COLUMNS}) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING 1) "
            "SELECT pg_notify(%s, %s) FROM added",
            (*code_values(code, key), CHANNEL, tag_for(key)),
            fetch=True,
        )

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
            "%s", key=key, workflow_run_id=workflow_run_id, otp_type=otp_type, active_at=active_at
        )
        params.append(limit)
        rows = self._run(
            f"SELECT {COLUMNS} FROM {TABLE} {clause} "  # noqa: S608 - constant pieces
            "ORDER BY created_at DESC, id DESC LIMIT %s",
            params,
            fetch=True,
        )
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
        floor = since if since is not None else float("-inf")
        skip, skipped = exclude_filter("%s", exclude)
        pick = (
            f"SELECT id FROM {TABLE} WHERE identifier_key = %s AND consumed_at IS NULL "  # noqa: S608
            f"AND expires_at > %s AND created_at > %s{skip} "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        )
        if consume:
            rows = self._run(
                f"UPDATE {TABLE} SET consumed_at = %s WHERE id = ({pick} FOR UPDATE) "  # noqa: S608
                f"AND consumed_at IS NULL RETURNING {COLUMNS}",
                (now, key, now, floor, *skipped),
                fetch=True,
            )
        else:
            rows = self._run(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE id = ({pick})",  # noqa: S608
                (key, now, floor, *skipped),
                fetch=True,
            )
        return row_to_code(rows[0]) if rows else None

    def prune(self, before: float) -> int:
        result = self._run(
            f"DELETE FROM {TABLE} WHERE {PRUNE_WHERE.format(p='%s')}",  # noqa: S608
            (before, before),
            fetch=False,
        )
        return int(result[0])

    def trim(self, key: str, keep: int) -> int:
        result = self._run(TRIM_SQL.format(table=TABLE, p="%s"), (key, key, keep), fetch=False)
        return int(result[0])

    def listen(self, key: str) -> Listener:
        conn = self._open(autocommit=True, application_name=LISTENER_APPLICATION_NAME)
        try:
            conn.execute(f"LISTEN {CHANNEL}")
        except self._psycopg.Error as exc:
            conn.close()
            raise self._unavailable(exc) from None
        return _PgListener(self, conn, tag_for(key))

    async def alisten(self, key: str) -> AsyncListener:
        psycopg = self._psycopg
        try:
            conn = await psycopg.AsyncConnection.connect(
                self._url,
                autocommit=True,
                connect_timeout=_CONNECT_TIMEOUT_S,
                application_name=LISTENER_APPLICATION_NAME,
            )
        except psycopg.ProgrammingError:  # libpq refused the URL (and quotes it back)
            raise self._malformed() from None
        except psycopg.Error as exc:
            raise self._unavailable(exc) from None
        try:
            await conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as exc:
            await conn.close()
            raise self._unavailable(exc) from None
        return _PgAsyncListener(self, conn, tag_for(key))

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


class _PgListener(Listener):
    def __init__(self, store: PostgresStore, conn: psycopg.Connection[Any], tag: str) -> None:
        self._store = store
        self._conn = conn
        self._tag = tag

    def wait(self, timeout: float) -> bool:
        try:
            for notify in self._conn.notifies(timeout=max(0.0, timeout)):
                if notify.payload == self._tag:
                    return True
        except self._store._psycopg.Error as exc:
            raise self._store._unavailable(exc) from None
        return False

    def close(self) -> None:
        self._conn.close()


class _PgAsyncListener(AsyncListener):
    def __init__(self, store: PostgresStore, conn: psycopg.AsyncConnection[Any], tag: str) -> None:
        self._store = store
        self._conn = conn
        self._tag = tag

    async def wait(self, timeout: float) -> bool:
        try:
            async for notify in self._conn.notifies(timeout=max(0.0, timeout)):
                if notify.payload == self._tag:
                    return True
        except self._store._psycopg.Error as exc:
            raise self._store._unavailable(exc) from None
        return False

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._conn.close()
