"""A throwaway Dovecot IMAP server for tests and benchmarks (never for real mail).

Everything lives in a fresh temporary directory: the configuration, a passwd-file passdb
with the given users, Maildir mailboxes, the runtime sockets and the log. The server listens
on 127.0.0.1 only, on a free port for implicit TLS (IMAPS) and another for plain IMAP with
STARTTLS (``ssl = required``: no login before TLS). The certificate and key are the
caller's (tests make them with ``trustme``).

As root, Dovecot's processes and the mail files belong to the ``dovecot``/``dovenull``
system users (created by Debian's ``dovecot-core``); otherwise to the current user.
``idle=False`` leaves IDLE out of the advertised capabilities (a server without IDLE).
``restart()`` stops the server (clients see their connections close) and starts it again on
the same ports with the same mail.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

__all__ = ["DovecotMissing", "ThrowawayDovecot", "find_dovecot"]

BINARY_ENV = "VAULTS_DOVECOT_BIN"
_CAPABILITIES_WITHOUT_IDLE = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ NAMESPACE UIDPLUS CHILDREN "
    "UNSELECT ESEARCH SEARCHRES SORT THREAD=REFERENCES MOVE SPECIAL-USE"
)


class DovecotMissing(RuntimeError):
    """The Dovecot binary is not installed."""


def find_dovecot() -> Path:
    """The ``dovecot`` binary: ``VAULTS_DOVECOT_BIN``, ``PATH``, or ``/usr/sbin/dovecot``."""
    configured = os.environ.get(BINARY_ENV)
    if configured:
        if Path(configured).is_file():
            return Path(configured)
        raise DovecotMissing(f"{BINARY_ENV}={configured} is not a file")
    found = shutil.which("dovecot")
    if found:
        return Path(found)
    if Path("/usr/sbin/dovecot").is_file():
        return Path("/usr/sbin/dovecot")
    raise DovecotMissing("dovecot not found (Debian: apt-get install dovecot-imapd)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accounts() -> tuple[str, str, int, int]:
    """(internal user, login user, mail uid, mail gid)."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        return me.pw_name, me.pw_name, me.pw_uid, me.pw_gid
    try:
        internal = pwd.getpwnam("dovecot")
    except KeyError as exc:
        raise DovecotMissing("running as root needs the 'dovecot' system user") from exc
    try:
        login = pwd.getpwnam("dovenull").pw_name
    except KeyError:
        login = internal.pw_name
    return internal.pw_name, login, internal.pw_uid, internal.pw_gid


class ThrowawayDovecot:
    """``users``: login → password. ``cert``/``key``: PEM files of the server certificate."""

    def __init__(
        self,
        cert: Path,
        key: Path,
        users: Mapping[str, str],
        *,
        idle: bool = True,
        oauth2_introspection_url: str | None = None,
    ) -> None:
        self.binary = find_dovecot()
        self.users = dict(users)
        self.idle = idle
        self.oauth2_introspection_url = oauth2_introspection_url
        self.root = Path(tempfile.mkdtemp(prefix="vaults-dovecot-"))
        self.cert = cert
        self.key = key
        self.imaps_port = _free_port()
        self.imap_port = _free_port()
        self.host = "127.0.0.1"
        self._internal, self._login, self._uid, self._gid = _accounts()
        self.config = self.root / "dovecot.conf"
        self.log = self.root / "dovecot.log"

    # -- configuration ------------------------------------------------------------------------
    def _write_config(self) -> None:
        for sub in ("run", "state", "mail", "tls"):
            (self.root / sub).mkdir(exist_ok=True)
        shutil.copyfile(self.cert, self.root / "tls" / "cert.pem")
        shutil.copyfile(self.key, self.root / "tls" / "key.pem")
        os.chmod(self.root / "tls" / "key.pem", 0o600)
        passwd = "".join(
            f"{user}:{{PLAIN}}{password}::::::\n" for user, password in self.users.items()
        )
        (self.root / "passwd").write_text(passwd)
        os.chmod(self.root / "passwd", 0o640)
        capability = "" if self.idle else f"imap_capability = {_CAPABILITIES_WITHOUT_IDLE}\n"
        oauth = ""
        mechanisms = "plain login"
        if self.oauth2_introspection_url:
            mechanisms += " xoauth2 oauthbearer"
            (self.root / "oauth2.conf").write_text(
                f"introspection_url = {self.oauth2_introspection_url}\n"
                "introspection_mode = post\n"
                "username_attribute = username\n"
                "active_attribute = active\n"
                "active_value = true\n"
                "force_introspection = yes\n"
            )
            oauth = (
                "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                f"  args = {self.root / 'oauth2.conf'}\n}}\n"
            )
        self.config.write_text(
            f"""# throwaway Dovecot for vaults tests
base_dir = {self.root / "run"}
state_dir = {self.root / "state"}
log_path = {self.log}
info_log_path = {self.log}
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <{self.root / "tls" / "cert.pem"}
ssl_key = <{self.root / "tls" / "key.pem"}
default_internal_user = {self._internal}
default_internal_group = {pwd.getpwnam(self._internal).pw_name if os.geteuid() == 0 else ""}
default_login_user = {self._login}
first_valid_uid = {min(self._uid, 500)}
first_valid_gid = 0
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
disable_plaintext_auth = yes
mail_location = maildir:{self.root / "mail"}/%u
mail_uid = {self._uid}
mail_gid = {self._gid}
{capability}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root / "passwd"}
}}
{oauth}userdb {{
  driver = static
  args = uid={self._uid} gid={self._gid} home={self.root / "mail"}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        )
        if os.geteuid() == 0:
            for path in (self.root, *self.root.rglob("*")):
                os.chown(path, self._uid, self._gid)
            os.chmod(self.root, 0o755)  # noqa: S103 - Dovecot's users must enter it

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> ThrowawayDovecot:
        if not (self.root / "run").exists():
            self._write_config()
        # The master daemonises: its output goes to a file, not to pipes it would inherit.
        with open(self.root / "start.err", "wb") as err:
            done = subprocess.run(
                [str(self.binary), "-c", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=err,
                stderr=err,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"Dovecot refused to start: {(self.root / 'start.err').read_text()}")
        deadline = time.monotonic() + timeout
        while True:
            try:
                with socket.create_connection((self.host, self.imap_port), timeout=1) as sock:
                    if sock.recv(64).startswith(b"* OK"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Dovecot did not start; its log:\n{self.read_log()}")
            time.sleep(0.05)

    def _master_pid(self) -> int | None:
        pid_file = self.root / "run" / "master.pid"
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    @staticmethod
    def _children(pid: int) -> list[int]:
        found: list[int] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[-1].split()
            if len(fields) > 1 and fields[1] == str(pid):
                found.append(int(entry.name))
        return found

    @staticmethod
    def _wait_gone(pids: list[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for pid in pids:
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.01)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server and every process it started, client sessions included (their
        connections close, as when a real server restarts). The mail stays until
        :meth:`remove`."""
        pid = self._master_pid()
        if pid is None:
            return
        children = self._children(pid)
        for victim in (pid, *children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGTERM)
        self._wait_gone([pid, *children], timeout)
        with contextlib.suppress(FileNotFoundError):
            (self.root / "run" / "master.pid").unlink()

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def read_log(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return "(no log)"

    def __enter__(self) -> ThrowawayDovecot:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()
