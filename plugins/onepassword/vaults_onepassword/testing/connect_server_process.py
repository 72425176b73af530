"""The Connect test server in a child process, so that its CPU time does not compete with
the client's for the GIL (benchmarks). Same data and behaviour as :class:`ConnectServer`."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from vaults_onepassword.testing.connect_server import ADMIN_PATH
from vaults_onepassword.testing.seed import JsonDict, write_seed


class ConnectServerProcess:
    """``with ConnectServerProcess(seed, latency=0.005) as server: server.url``."""

    def __init__(self, seed: JsonDict, *, latency: float = 0.0) -> None:
        self.seed = seed
        self.latency = latency
        self.url = ""
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> ConnectServerProcess:
        self._dir = tempfile.TemporaryDirectory(prefix="vaults-op-connect-")
        seed_path = write_seed(self.seed, Path(self._dir.name) / "seed.json")
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vaults_onepassword.testing.connect_server",
                str(seed_path),
                "--latency",
                str(self.latency),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.url = self._process.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError("the Connect test server process did not start")
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> ConnectServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def request_count(self) -> int:
        """API requests served so far (``/v1``)."""
        return int(httpx.get(self.url + ADMIN_PATH).json()["api_requests"])

    def reset_requests(self) -> None:
        httpx.delete(self.url + ADMIN_PATH).raise_for_status()
