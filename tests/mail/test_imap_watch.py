"""The IMAP watcher against a real Dovecot: IDLE wake-ups, only new mail, recipients, flags,
STARTTLS, a restart mid-watch (catch-up by UID, no loss, no duplicates), a server without
IDLE (polling), TLS verification and login errors."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.mail.conftest import (
    IMAP_PASSWORD,
    IMAP_USER,
    Tls,
    _dovecot,
    code_mail,
    deliver,
    imap_session,
)
from vaults.codes.imap_watch import ImapWatcher, awatch_imap, parse_imap_url
from vaults.codes.inbox import Inbox
from vaults.errors import AuthenticationFailed, ConfigurationError, InvalidInput, VaultUnavailable


@pytest.fixture
def inbox(sqlite_url: str, codes_host: Any) -> Iterator[Inbox]:
    with Inbox(sqlite_url, host=codes_host) as box:
        yield box


def url(server: Any, folder: str, *, starttls: bool = False) -> str:
    if starttls:
        return f"imap+starttls://{IMAP_USER}@127.0.0.1:{server.imap_port}/{folder}"
    return f"imap://user%40example.com@127.0.0.1:{server.imaps_port}/{folder}"


@contextlib.contextmanager
def watching(watcher: ImapWatcher) -> Iterator[ImapWatcher]:
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            watcher.run(stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        assert watcher.ready.wait(15), errors
        yield watcher
    finally:
        stop.set()
        thread.join(10)
        assert not thread.is_alive(), "the watcher did not stop within 10 s"
    assert not errors, errors


def make(server: Any, tls: Tls, inbox: Inbox, folder: str, **kwargs: Any) -> ImapWatcher:
    kwargs.setdefault("password", IMAP_PASSWORD)
    return ImapWatcher(url(server, folder), inbox, ca_file=tls.ca, env={}, **kwargs)


def wait_code(inbox: Inbox, identifier: str, since: float, timeout: float = 10) -> str:
    return inbox.wait(identifier, since=since, timeout=timeout).value


def test_url_forms() -> None:
    target = parse_imap_url("imap://user%40example.com@mail.example.com/Codes%2FAcme")
    assert (target.host, target.port, target.user, target.mailbox, target.starttls) == (
        "mail.example.com",
        993,
        "user@example.com",
        "Codes/Acme",
        False,
    )
    assert parse_imap_url("imap+starttls://bob@[::1]").port == 143
    assert parse_imap_url("imaps://me@example.com@host:1993").user == "me@example.com"
    assert parse_imap_url("imaps://me@host").mailbox == "INBOX"
    for bad, why in [
        ("http://me@host/INBOX", "scheme"),
        ("imap://host/INBOX", "user"),
        ("imap://me:secret@host/INBOX", "VAULTS_IMAP_PASSWORD"),
        ("imap://me@host:99999/INBOX", "port"),
    ]:
        with pytest.raises(InvalidInput, match=why) as caught:
            parse_imap_url(bad)
        assert "secret" not in str(caught.value)


def test_idle_pushes_new_mail_only(dovecot: Any, tls: Tls, inbox: Inbox, folder: str) -> None:
    deliver(dovecot, tls, folder, code_mail("111000"))  # before the start: never read
    with watching(make(dovecot, tls, inbox, folder)) as watcher:
        assert watcher.idling
        sent = time.time()
        deliver(dovecot, tls, folder, code_mail("482913"))
        assert wait_code(inbox, IMAP_USER, sent - 1) == "482913"
        assert time.time() - sent < 3
        deliver(dovecot, tls, folder, code_mail("590274", to="Jane <jane@example.org>"))
        assert wait_code(inbox, "jane@example.org", sent - 1) == "590274"
    assert [c.value for c in inbox.list()] == ["590274", "482913"]
    with imap_session(dovecot, tls) as client:  # nothing marked read
        client.select_folder(folder, readonly=True)
        assert client.search(["SEEN"]) == []


def test_identifier_override_and_mark_seen(
    dovecot: Any, tls: Tls, inbox: Inbox, folder: str
) -> None:
    watcher = make(dovecot, tls, inbox, folder, identifier="+15550100", mark_seen=True)
    with watching(watcher):
        sent = time.time()
        deliver(dovecot, tls, folder, code_mail("482913"))
        assert wait_code(inbox, "+1 555 0100", sent - 1) == "482913"
    with imap_session(dovecot, tls) as client:
        client.select_folder(folder, readonly=True)
        assert len(client.search(["SEEN"])) == 1


def test_starttls(dovecot: Any, tls: Tls, inbox: Inbox, folder: str) -> None:
    watcher = ImapWatcher(
        url(dovecot, folder, starttls=True), inbox, password=IMAP_PASSWORD, ca_file=tls.ca, env={}
    )
    with watching(watcher):
        sent = time.time()
        deliver(dovecot, tls, folder, code_mail("731046"))
        assert wait_code(inbox, IMAP_USER, sent - 1) == "731046"


@pytest.mark.slow
def test_restart_mid_watch_catches_up_without_loss_or_duplicates(
    tls: Tls, inbox: Inbox, tmp_path: Path
) -> None:
    server = _dovecot(tls)  # its own server: restarting the shared one would disturb others
    try:
        with imap_session(server, tls) as client:
            client.create_folder("Codes")
        watcher = make(server, tls, inbox, "Codes")
        with watching(watcher):
            start = time.time()
            deliver(server, tls, "Codes", code_mail("100001"))
            assert wait_code(inbox, IMAP_USER, start - 1) == "100001"
            server.restart()  # type: ignore[attr-defined]
            # delivered while the watcher is still backing off: found by UID on reconnect
            for code in ("200002", "300003", "400004"):
                deliver(server, tls, "Codes", code_mail(code))
            deadline = time.monotonic() + 20
            while len(inbox.list()) < 4 and time.monotonic() < deadline:
                time.sleep(0.05)
            deliver(server, tls, "Codes", code_mail("500005"))  # and IDLE works again
            deadline = time.monotonic() + 10
            while len(inbox.list()) < 5 and time.monotonic() < deadline:
                time.sleep(0.05)
        values = sorted(c.value for c in inbox.list())
        assert values == ["100001", "200002", "300003", "400004", "500005"]
    finally:
        server.remove()  # type: ignore[attr-defined]


def test_server_without_idle_is_polled(tls: Tls, inbox: Inbox) -> None:
    server = _dovecot(tls, idle=False)
    try:
        with imap_session(server, tls) as client:
            assert not client.has_capability("IDLE")
        watcher = make(server, tls, inbox, "INBOX", interval=0.2)
        with watching(watcher):
            assert not watcher.idling
            sent = time.time()
            deliver(server, tls, "INBOX", code_mail("482913"))
            assert wait_code(inbox, IMAP_USER, sent - 1) == "482913"
    finally:
        server.remove()  # type: ignore[attr-defined]


def test_tls_is_verified(dovecot: Any, tls: Tls, inbox: Inbox) -> None:
    watcher = ImapWatcher(url(dovecot, "INBOX"), inbox, password=IMAP_PASSWORD, env={})
    with pytest.raises(VaultUnavailable, match=r"not trusted.*--ca-file"):
        watcher.run()
    # SSL_CERT_FILE is honoured like --ca-file
    trusted = ImapWatcher(
        url(dovecot, "INBOX"), inbox, password=IMAP_PASSWORD, env={"SSL_CERT_FILE": str(tls.ca)}
    )
    assert trusted._cafile == str(tls.ca)


def test_login_errors_never_show_the_password(dovecot: Any, tls: Tls, inbox: Inbox) -> None:
    wrong = "wrong-CANARY-pw-5521"
    watcher = make(dovecot, tls, inbox, "INBOX", password=SecretStr(wrong))
    with pytest.raises(AuthenticationFailed) as caught:
        watcher.run()
    assert wrong not in str(caught.value) and IMAP_PASSWORD not in str(caught.value)
    assert wrong not in repr(watcher.__dict__)
    with pytest.raises(ConfigurationError, match="VAULTS_IMAP_PASSWORD"):
        ImapWatcher(url(dovecot, "INBOX"), inbox, env={})
    with pytest.raises(ConfigurationError, match="folder"):
        make(dovecot, tls, inbox, "NoSuchFolder").run()


def test_unreachable_server_fails_at_start(tls: Tls, inbox: Inbox, unused_port: int) -> None:
    watcher = ImapWatcher(
        f"imap://{IMAP_USER}@127.0.0.1:{unused_port}/INBOX",
        inbox,
        password=IMAP_PASSWORD,
        ca_file=tls.ca,
        env={},
    )
    with pytest.raises(VaultUnavailable, match="cannot reach"):
        watcher.run()


@pytest.fixture
def unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_awatch_imap_is_cancellable(dovecot: Any, tls: Tls, inbox: Inbox, folder: str) -> None:
    import anyio

    async def main() -> str:
        async with anyio.create_task_group() as group:
            group.start_soon(
                lambda: awatch_imap(
                    url(dovecot, folder),
                    inbox=inbox,
                    password=IMAP_PASSWORD,
                    ca_file=tls.ca,
                    env={},
                )
            )
            await anyio.sleep(1.0)
            sent = time.time()
            await anyio.to_thread.run_sync(deliver, dovecot, tls, folder, code_mail("264810"))
            code = await inbox.await_wait(IMAP_USER, since=sent - 1, timeout=10)
            group.cancel_scope.cancel()
        return code.value

    started = time.monotonic()
    assert anyio.run(main) == "264810"
    assert time.monotonic() - started < 10


def test_idle_is_renewed(dovecot: Any, tls: Tls, inbox: Inbox, folder: str) -> None:
    renewals: list[float] = []

    class Counting(ImapWatcher):
        def _leave_idle(self, client: Any) -> list[Any]:
            renewals.append(time.monotonic())
            return super()._leave_idle(client)

    watcher = Counting(
        url(dovecot, folder), inbox, password=IMAP_PASSWORD, ca_file=tls.ca, env={},
        idle_renew=0.3,
    )  # fmt: skip
    with watching(watcher):
        time.sleep(1.2)
        assert len(renewals) >= 2, renewals  # DONE + IDLE again, on schedule
        sent = time.time()
        deliver(dovecot, tls, folder, code_mail("482913"))
        assert wait_code(inbox, IMAP_USER, sent - 1) == "482913"


OAUTH_TOKEN = "ya29.oauth-CANARY-token-6b1f"


@pytest.fixture(scope="module")
def introspection() -> Iterator[str]:
    """An OAuth2 token introspection endpoint (RFC 7662) Dovecot's oauth2 passdb asks."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode()
            token = parse_qs(body).get("token", [""])[0]
            data = json.dumps({"active": token == OAUTH_TOKEN, "username": IMAP_USER}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/introspect"
    finally:
        server.shutdown()
        server.server_close()


def test_xoauth2_login(tls: Tls, inbox: Inbox, introspection: str) -> None:
    server = _dovecot(tls, oauth2_introspection_url=introspection)
    try:
        env = {"VAULTS_IMAP_OAUTH_TOKEN": OAUTH_TOKEN}
        watcher = ImapWatcher(url(server, "INBOX"), inbox, ca_file=tls.ca, env=env)
        with watching(watcher):
            sent = time.time()
            deliver(server, tls, "INBOX", code_mail("482913"))
            assert wait_code(inbox, IMAP_USER, sent - 1) == "482913"
        refused = ImapWatcher(
            url(server, "INBOX"), inbox, oauth_token="expired-CANARY-token", ca_file=tls.ca, env={}
        )
        with pytest.raises(AuthenticationFailed) as caught:
            refused.run()
        assert "CANARY" not in str(caught.value)
        assert OAUTH_TOKEN not in repr(watcher.__dict__)
    finally:
        server.remove()  # type: ignore[attr-defined]


def test_a_burst_of_mail_is_all_read_promptly(
    dovecot: Any, tls: Tls, inbox: Inbox, folder: str
) -> None:
    """Mail landing while the watcher fetches or re-enters IDLE: Dovecot does not report
    what was committed while IDLE was being set up until its own 30-s check; the watcher's
    NOOP before IDLE and its re-read 0.3 s after each entry find it."""
    import random

    count = 40
    with watching(make(dovecot, tls, inbox, folder)):
        with imap_session(dovecot, tls) as client:  # type: ignore[attr-defined]
            for i in range(count):
                client.append(folder, code_mail(str(700000 + 13 * i), to=f"burst{i}@example.com"))
                time.sleep(random.uniform(0, 0.04))
        deadline = time.monotonic() + 8
        while len(inbox.list(limit=200)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
    stored = sorted(c.identifier for c in inbox.list(limit=200))
    assert stored == sorted(f"burst{i}@example.com" for i in range(count))


def test_debug_logs_hold_no_credentials(
    tls: Tls, inbox: Inbox, introspection: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Even with imapclient's protocol trace on (DEBUG), neither the password nor the OAuth2
    token (nor its base64 SASL form) is logged."""
    import base64
    import logging

    caplog.set_level(logging.DEBUG)
    server = _dovecot(tls, oauth2_introspection_url=introspection)
    try:
        logins = ({"oauth_token": OAUTH_TOKEN}, {"password": IMAP_PASSWORD})
        for code, kwargs in zip(("482913", "590274"), logins, strict=True):
            watcher = ImapWatcher(url(server, "INBOX"), inbox, ca_file=tls.ca, env={}, **kwargs)
            with watching(watcher):
                deliver(server, tls, "INBOX", code_mail(code, to=f"{code}@example.com"))
                assert wait_code(inbox, f"{code}@example.com", 0) == code
    finally:
        server.remove()  # type: ignore[attr-defined]
    sasl = f"user={IMAP_USER}\x01auth=Bearer {OAUTH_TOKEN}\x01\x01".encode()
    text = caplog.text
    assert "imapclient" in text  # the trace was on
    for secret in (OAUTH_TOKEN, IMAP_PASSWORD, base64.b64encode(sasl).decode()[:24]):
        assert secret not in text
