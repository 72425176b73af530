"""Cross-process wake-ups for one machine through named pipes (FIFOs) in a directory.

A waiter creates a FIFO named after (a hash of) the identifier it waits for, keeps both
ends open and sleeps in ``poll()`` on the read end. A pusher, after committing, writes one
byte into every FIFO carrying that identifier's tag. No table is polled at a short period:
the waiter's poll interval is only the fallback for a lost or impossible notification.

Details that matter:

* the FIFO is made under a temporary name, opened, and only then renamed into place, so a
  pusher never sees a waiter's FIFO without its reader (which it would take for stale);
* the waiter also holds a write end, so its read end never reports end-of-file;
* a FIFO with no reader left (its waiter crashed) makes ``open(O_WRONLY|O_NONBLOCK)`` fail
  with ``ENXIO``: the pusher deletes it;
* the directory is private to the user (mode 0700).

Needs ``os.mkfifo`` (Linux, macOS, BSD). Elsewhere :func:`supported` is false and waiters
fall back to polling.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
import select
import stat
import time
from pathlib import Path

import anyio

from vaults.codes.store import AsyncListener, Listener

__all__ = ["FifoAsyncListener", "FifoListener", "FifoWakeups", "supported"]

_SUFFIX = ".fifo"
_TMP_PREFIX = ".tmp-"
_STALE_TMP_SECONDS = 60.0


def supported() -> bool:
    return hasattr(os, "mkfifo") and hasattr(select, "poll")


def tag_for(key: str) -> str:
    """A short, filename-safe tag for an identifier key (the key itself never hits disk)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


class _Fifo:
    """One registered FIFO: read end, keep-alive write end, path."""

    def __init__(self, directory: Path, key: str) -> None:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{tag_for(key)}.{os.getpid()}.{secrets.token_hex(6)}{_SUFFIX}"
        tmp = directory / f"{_TMP_PREFIX}{name}"
        self.path = directory / name
        self.read_fd = self._write_fd = -1
        os.mkfifo(tmp, 0o600)
        try:
            self.read_fd = os.open(tmp, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            self._write_fd = os.open(tmp, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.rename(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self._close_fds()
            raise
        self.closed = False

    def drain(self) -> bool:
        """Read every pending wake-up byte; ``True`` if there was one."""
        got = False
        while True:
            try:
                chunk = os.read(self.read_fd, 4096)
            except BlockingIOError:
                return got
            except OSError:
                return got
            if not chunk:
                return got
            got = True

    def _close_fds(self) -> None:
        for fd in (self.read_fd, self._write_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.read_fd = self._write_fd = -1

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        self._close_fds()


class FifoListener(Listener):
    def __init__(self, directory: Path, key: str) -> None:
        self._fifo = _Fifo(directory, key)
        self._poller = select.poll()
        self._poller.register(self._fifo.read_fd, select.POLLIN)

    def wait(self, timeout: float) -> bool:
        if self._fifo.drain():
            return True
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            events = self._poller.poll(max(1, int(left * 1000 + 0.999)))
            if events and self._fifo.drain():
                return True

    def close(self) -> None:
        self._fifo.close()


class FifoAsyncListener(AsyncListener):
    def __init__(self, directory: Path, key: str) -> None:
        self._fifo = _Fifo(directory, key)

    async def wait(self, timeout: float) -> bool:
        if self._fifo.drain():
            return True
        deadline = anyio.current_time() + max(0.0, timeout)
        while anyio.current_time() < deadline:
            with anyio.move_on_after(deadline - anyio.current_time()):
                await anyio.wait_readable(self._fifo.read_fd)
            if self._fifo.drain():
                return True
        return False

    async def aclose(self) -> None:
        self._fifo.close()


class FifoWakeups:
    """The wake-up directory of one store (``<database>.wake/``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def listener(self, key: str) -> FifoListener:
        return FifoListener(self.directory, key)

    def async_listener(self, key: str) -> FifoAsyncListener:
        return FifoAsyncListener(self.directory, key)

    def notify(self, key: str) -> int:
        """Wake every waiter of ``key``; return how many FIFOs were written. Never raises."""
        prefix = tag_for(key) + "."
        try:
            names = os.listdir(self.directory)
        except OSError:
            return 0
        woken = 0
        now = time.time()
        for name in names:
            path = self.directory / name
            if name.startswith(_TMP_PREFIX):
                self._remove_if_old(path, now)
                continue
            if not (name.startswith(prefix) and name.endswith(_SUFFIX)):
                continue
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                if exc.errno == errno.ENXIO:  # no reader: its waiter is gone
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                continue
            try:
                if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                    continue
                os.write(fd, b"\x01")
                woken += 1
            except BlockingIOError:  # pipe full: the waiter has wake-ups pending anyway
                woken += 1
            except OSError:
                pass
            finally:
                os.close(fd)
        return woken

    @staticmethod
    def _remove_if_old(path: Path, now: float) -> None:
        try:
            if now - path.lstat().st_mtime > _STALE_TMP_SECONDS:
                path.unlink()
        except OSError:
            pass
