"""A throwaway PostgreSQL server for tests and benchmarks (never for production data).

``initdb`` into a fresh temporary directory, ``pg_ctl start`` on a free port of 127.0.0.1
(trust authentication, fsync off), and remove everything at :meth:`ThrowawayPostgres.stop`.
initdb refuses to run as root: as root the server runs as the ``postgres`` system user
(created by the Debian packages).

Binaries are looked up in ``VAULTS_PG_BINDIR``, then ``PATH``, then
``/usr/lib/postgresql/<newest>/bin`` (Debian's layout: ``apt-get install postgresql``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

__all__ = ["PostgresMissing", "ThrowawayPostgres", "find_bindir"]

BINDIR_ENV = "VAULTS_PG_BINDIR"
_SUPERUSER = "vaults"


class PostgresMissing(RuntimeError):
    """The PostgreSQL server binaries (initdb, pg_ctl) are not installed."""


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``."""
    configured = os.environ.get(BINDIR_ENV)
    if configured:
        path = Path(configured)
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
        raise PostgresMissing(f"{BINDIR_ENV}={configured} holds no initdb/pg_ctl")
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = sorted(
            (p for p in debian.iterdir() if (p / "bin" / "initdb").exists()),
            key=lambda p: int(p.name) if p.name.isdigit() else 0,
            reverse=True,
        )
        if versions:
            return versions[0] / "bin"
    raise PostgresMissing(
        "PostgreSQL server binaries not found (Debian: apt-get install postgresql; or set "
        f"{BINDIR_ENV})"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThrowawayPostgres:
    """``with ThrowawayPostgres() as pg: pg.url`` — a private server on 127.0.0.1."""

    def __init__(self, bindir: Path | None = None) -> None:
        self.bindir = bindir or find_bindir()
        self.port = 0
        self.root: Path | None = None
        self._run_as: pwd.struct_passwd | None = None

    @property
    def url(self) -> str:
        return self.url_for("postgres")

    def url_for(self, database: str) -> str:
        return f"postgresql://{_SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self._run_as is not None:
            kwargs = {
                "user": self._run_as.pw_uid,
                "group": self._run_as.pw_gid,
                "extra_groups": [],
                "env": {**os.environ, "HOME": self._run_as.pw_dir},
            }
        return subprocess.run(  # type: ignore[call-overload,no-any-return]
            list(args),
            check=check,
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
            **kwargs,
        )

    def start(self) -> ThrowawayPostgres:
        if os.geteuid() == 0:
            try:
                self._run_as = pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresMissing(
                    "running as root and there is no 'postgres' user to run the server as"
                ) from None
        self.root = Path(tempfile.mkdtemp(prefix="vaults-pg-"))
        data = self.root / "data"
        if self._run_as is not None:
            os.chown(self.root, self._run_as.pw_uid, self._run_as.pw_gid)
        try:
            self._cmd(
                str(self.bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                _SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
            for _attempt in range(5):
                self.port = _free_port()
                started = self._cmd(
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(self.root / "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "-o",
                    f"-h 127.0.0.1 -p {self.port} -k {self.root} -F "
                    "-c synchronous_commit=off -c full_page_writes=off",
                    "start",
                    check=False,
                )
                if started.returncode == 0:
                    return self
            raise RuntimeError(f"pg_ctl start failed: {self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def log_tail(self, lines: int = 20) -> str:
        if self.root is None:
            return ""
        try:
            text = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.root is None:
            return
        data = self.root / "data"
        if (data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._cmd(
                    str(self.bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop",
                    check=False,
                )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[ThrowawayPostgres]:
    with ThrowawayPostgres() as server:
        yield server


def wait_ready(url: str, timeout: float = 10.0) -> None:
    """Block until ``url`` accepts connections (psycopg needed)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
