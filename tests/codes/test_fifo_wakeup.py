"""The FIFO wake-up directory behind the SQLite store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from vaults.codes import fifo_wakeup
from vaults.codes.fifo_wakeup import FifoWakeups, tag_for

pytestmark = pytest.mark.skipif(not fifo_wakeup.supported(), reason="needs os.mkfifo")


def test_notify_wakes_the_matching_listener_only(tmp_path: Path) -> None:
    wakeups = FifoWakeups(tmp_path / "wake")
    with wakeups.listener("a@example.com") as mine, wakeups.listener("b@example.com") as other:
        assert wakeups.notify("a@example.com") == 1
        assert mine.wait(1.0) is True
        assert other.wait(0.05) is False
        # the wake-up was consumed: the next wait sleeps again
        assert mine.wait(0.05) is False


def test_waiting_sleeps_instead_of_spinning(tmp_path: Path) -> None:
    wakeups = FifoWakeups(tmp_path / "wake")
    with wakeups.listener("a@example.com") as listener:
        cpu, wall = time.process_time(), time.monotonic()
        assert listener.wait(0.25) is False
        assert time.monotonic() - wall >= 0.24
        assert time.process_time() - cpu < 0.05


def test_the_directory_is_private_and_fifos_are_removed(tmp_path: Path) -> None:
    directory = tmp_path / "wake"
    wakeups = FifoWakeups(directory)
    listener = wakeups.listener("a@example.com")
    [name] = os.listdir(directory)
    assert name.startswith(tag_for("a@example.com") + ".")
    assert "example" not in name  # the identifier itself never reaches the file system
    assert (directory.stat().st_mode & 0o777) == 0o700
    listener.close()
    listener.close()  # idempotent
    assert os.listdir(directory) == []


def test_a_crashed_waiters_fifo_is_cleaned_up(tmp_path: Path) -> None:
    directory = tmp_path / "wake"
    directory.mkdir()
    stale = directory / f"{tag_for('a@example.com')}.999999.abcdef.fifo"
    os.mkfifo(stale)  # no reader: its waiter died without unlinking it
    old_tmp = directory / ".tmp-leftover.fifo"
    os.mkfifo(old_tmp)
    os.utime(old_tmp, (time.time() - 3600, time.time() - 3600))
    assert FifoWakeups(directory).notify("a@example.com") == 0
    assert os.listdir(directory) == []


def test_notify_without_a_directory_is_harmless(tmp_path: Path) -> None:
    assert FifoWakeups(tmp_path / "missing").notify("a@example.com") == 0


def test_many_pushes_do_not_block_the_pusher(tmp_path: Path) -> None:
    wakeups = FifoWakeups(tmp_path / "wake")
    with wakeups.listener("a@example.com") as listener:
        pushes = 70_000
        if sys.platform == "linux":  # shrink the pipe buffer to keep the test quick
            import fcntl

            fcntl.fcntl(getattr(listener, "_fifo").read_fd, 1031, 4096)  # F_SETPIPE_SZ
            pushes = 5_000
        started = time.monotonic()
        for _ in range(pushes):  # more than the pipe buffer holds: must not block
            wakeups.notify("a@example.com")
        assert time.monotonic() - started < 5
        assert listener.wait(0) is True


def test_async_listener(tmp_path: Path) -> None:
    wakeups = FifoWakeups(tmp_path / "wake")

    async def main() -> None:
        listener = wakeups.async_listener("a@example.com")
        async with listener:
            assert await listener.wait(0.05) is False
            async with anyio.create_task_group() as tg:
                tg.start_soon(anyio.to_thread.run_sync, wakeups.notify, "a@example.com")
                assert await listener.wait(2) is True
        assert os.listdir(tmp_path / "wake") == []

    anyio.run(main)


def test_a_waiter_in_another_process_is_woken(tmp_path: Path) -> None:
    directory = tmp_path / "wake"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from pathlib import Path\n"
            "from vaults.codes.fifo_wakeup import FifoWakeups\n"
            "with FifoWakeups(Path(sys.argv[1])).listener('a@example.com') as l:\n"
            "    print('ready', flush=True)\n"
            "    t = time.monotonic(); woke = l.wait(10)\n"
            "    print(woke, flush=True)\n",
            str(directory),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        started = time.monotonic()
        assert FifoWakeups(directory).notify("a@example.com") == 1
        assert child.stdout.readline().strip() == "True"
        assert time.monotonic() - started < 2
    finally:
        child.kill()
        child.wait()
