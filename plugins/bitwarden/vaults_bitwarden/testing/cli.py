"""Driving the real official Bitwarden CLI (``bw``) against the test server.

Finds the npm-installed binary, builds its environment (private app-data
directory, trusted test CA, no interaction), logs in, unlocks, and runs
``bw serve`` as a managed subprocess.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from vaults_bitwarden.testing.certs import LOOPBACK

__all__ = [
    "BW_BIN_ENV",
    "PASSWORD_ENV",
    "REQUIRE_BW_ENV",
    "BwCli",
    "BwCommandError",
    "BwServe",
    "find_bw_binary",
    "free_port",
    "missing_bw_reason",
    "serve_call",
]

BW_BIN_ENV = "VAULTS_BW_BIN"
"""Set to the path of a ``bw`` executable to use instead of ``node_modules/.bin/bw``."""

REQUIRE_BW_ENV = "VAULTS_REQUIRE_BW"
"""When ``1``, a missing ``bw`` fails the tests instead of skipping them (CI)."""

PASSWORD_ENV = "BW_MASTER_PASSWORD"  # noqa: S105 (a variable name, not a password)
"""Environment variable the master password is handed over in (``--passwordenv``)."""

_PASSED_THROUGH_ENV = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def find_bw_binary() -> Path | None:
    """``$VAULTS_BW_BIN``, else ``node_modules/.bin/bw`` above this package or the working
    directory (the repository root's ``npm ci``), else ``bw`` on PATH."""
    override = os.environ.get(BW_BIN_ENV)
    if override:
        path = Path(override)
        return path if path.is_file() else None
    here = Path(__file__).resolve()
    for parent in [*here.parents, Path.cwd(), *Path.cwd().parents]:
        candidate = parent / "node_modules" / ".bin" / "bw"
        if candidate.is_file():
            return candidate
    on_path = shutil.which("bw")
    return Path(on_path) if on_path else None


def missing_bw_reason() -> str | None:
    """Why the real CLI cannot run here, or None when it can."""
    if find_bw_binary() is None:
        return (
            "the official Bitwarden CLI is not installed: run `npm ci` at the repository root "
            f"(installs node_modules/.bin/bw) or set {BW_BIN_ENV}"
        )
    if shutil.which("node") is None:
        return "Node.js (`node`) is not on PATH; the Bitwarden CLI needs it"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


class BwCommandError(RuntimeError):
    """A ``bw`` invocation exited non-zero. Holds the arguments, exit code and stderr."""

    def __init__(self, args: tuple[str, ...], returncode: int, stdout: str, stderr: str) -> None:
        self.bw_args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"bw {' '.join(args)} exited {returncode}: {stderr.strip()[:500]}")


@dataclass(frozen=True)
class BwCli:
    """One ``bw`` set-up: binary, private app-data directory, trusted CA, optional session.

    :attr:`env` is the complete environment to run ``bw`` with (it includes
    ``BW_SESSION`` once unlocked). Commands run with ``--nointeraction``.
    """

    binary: Path
    appdata_dir: Path
    ca_cert: Path
    session: str | None = field(default=None, repr=False)

    @property
    def env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in _PASSED_THROUGH_ENV if k in os.environ}
        env.update(
            HOME=str(self.appdata_dir),
            BITWARDENCLI_APPDATA_DIR=str(self.appdata_dir),
            NODE_EXTRA_CA_CERTS=str(self.ca_cert),
            BW_NOINTERACTION="true",
            NO_COLOR="1",
        )
        if self.session:
            env["BW_SESSION"] = self.session
        return env

    def with_session(self, session: str | None) -> BwCli:
        return dataclasses.replace(self, session=session)

    def run(
        self,
        *args: str,
        extra_env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 60.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``bw ARGS --nointeraction``; raise :class:`BwCommandError` on failure (``check``)."""
        env = self.env
        if extra_env:
            env.update(extra_env)
        self.appdata_dir.mkdir(parents=True, exist_ok=True)
        completed = subprocess.run(
            [str(self.binary), *args, "--nointeraction"],
            env=env,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if check and completed.returncode != 0:
            raise BwCommandError(args, completed.returncode, completed.stdout, completed.stderr)
        return completed

    def run_json(self, *args: str, timeout: float = 60.0) -> Any:
        return json.loads(self.run(*args, timeout=timeout).stdout)

    def config_server(self, url: str) -> None:
        self.run("config", "server", url)

    def login_password(self, email: str, master_password: str) -> BwCli:
        """``bw login EMAIL --passwordenv … --raw``: log in and unlock; a copy with the session."""
        completed = self.run(
            "login",
            email,
            "--passwordenv",
            PASSWORD_ENV,
            "--raw",
            extra_env={PASSWORD_ENV: master_password},
        )
        return self.with_session(completed.stdout.strip())

    def login_apikey(self, client_id: str, client_secret: str) -> BwCli:
        """``bw login --apikey`` (``BW_CLIENTID``/``BW_CLIENTSECRET``): logged in, still locked."""
        self.run(
            "login",
            "--apikey",
            extra_env={"BW_CLIENTID": client_id, "BW_CLIENTSECRET": client_secret},
        )
        return self.with_session(None)

    def unlock(self, master_password: str) -> BwCli:
        """``bw unlock --passwordenv … --raw``; returns self with the new session."""
        completed = self.with_session(None).run(
            "unlock",
            "--passwordenv",
            PASSWORD_ENV,
            "--raw",
            extra_env={PASSWORD_ENV: master_password},
        )
        return self.with_session(completed.stdout.strip())

    def clone(self, appdata_dir: Path) -> BwCli:
        """Copy the app-data directory: an independent, already logged-in and unlocked CLI.

        The same ``BW_SESSION`` works for the copy; a ``bw sync``/``lock`` in one copy
        does not touch the other.
        """
        shutil.copytree(self.appdata_dir, appdata_dir, dirs_exist_ok=True)
        return dataclasses.replace(self, appdata_dir=appdata_dir)

    def serve(self, *, log_path: Path, ready_timeout: float = 30.0) -> BwServe:
        """Start ``bw serve`` on a free loopback port and wait until it answers."""
        return BwServe.start(self, log_path=log_path, ready_timeout=ready_timeout)


class BwServe:
    """A running ``bw serve --hostname 127.0.0.1 --port N`` subprocess."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @classmethod
    def start(cls, cli: BwCli, *, log_path: Path, ready_timeout: float = 30.0) -> BwServe:
        last_error = "no attempt made"
        for _attempt in range(3):
            port = free_port()
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("wb") as log:
                process = subprocess.Popen(
                    [
                        str(cli.binary),
                        "serve",
                        "--hostname",
                        LOOPBACK,
                        "--port",
                        str(port),
                        "--nointeraction",
                    ],
                    env=cli.env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            serve = cls(process, port, log_path)
            if serve._wait_ready(ready_timeout):
                return serve
            serve.stop()
            last_error = serve.log_tail()
        raise RuntimeError(f"bw serve did not become ready: {last_error}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with _NO_PROXY.open(f"{self.url}/status", timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        return False

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-limit:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def __enter__(self) -> BwServe:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def serve_call(client: Any, method: str, path: str, json: Any = None) -> Any:
    """One ``bw serve`` request (``client``: an ``httpx.Client`` on its URL) → the envelope.

    ``bw serve`` answers a write before it has re-read its items (see
    :meth:`vaults_bitwarden.serve_api.ServeTransport.wait_until_served`), so a request on an
    item just written may answer "Not found."; such a request is sent again after a forced
    sync until it is answered, for up to 15 s (then that last answer is returned)."""
    from vaults_bitwarden.serve_api import NotSettled, poll_until

    last: dict[str, Any] = {}

    def attempt() -> Any:
        reply = client.request(method, path, json=json).json()
        if not reply.get("success") and reply.get("message") == "Not found.":
            last.update(reply)
            client.post("/sync", params={"force": "true"})
            raise NotSettled("not yet")
        return reply

    try:
        return poll_until(attempt, retry_on=(NotSettled,))
    except NotSettled:
        return last
