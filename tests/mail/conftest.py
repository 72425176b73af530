"""Fixtures for the mail paths: a TLS authority and a real Dovecot IMAP server.

The Dovecot server (vaults.testing.dovecot_server) starts once per session on
free 127.0.0.1 ports with a throw-away certificate from ``trustme``. Without the binary the
IMAP tests are skipped, unless VAULTS_REQUIRE_DOVECOT=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import itertools
import os
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from vaults.host import PluginHost
from vaults.testing.hosts import make_test_host

IMAP_USER = "user@example.com"
IMAP_PASSWORD = "imap-pw-CANARY-7f3a9c"  # a canary: checked for leaks


@dataclass(frozen=True)
class Tls:
    ca: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca))


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    import trustme

    authority = trustme.CA()
    issued = authority.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    tls = Tls(folder / "ca.pem", folder / "cert.pem", folder / "key.pem")
    authority.cert_pem.write_to_path(str(tls.ca))
    issued.cert_chain_pems[0].write_to_path(str(tls.cert))
    issued.private_key_pem.write_to_path(str(tls.key))
    return tls


def _dovecot(tls: Tls, **kwargs: object) -> object:
    from vaults.testing.dovecot_server import DovecotMissing, ThrowawayDovecot

    try:
        server = ThrowawayDovecot(tls.cert, tls.key, {IMAP_USER: IMAP_PASSWORD}, **kwargs)  # type: ignore[arg-type]
    except DovecotMissing as exc:
        if os.environ.get("VAULTS_REQUIRE_DOVECOT") == "1":
            pytest.fail(f"VAULTS_REQUIRE_DOVECOT=1 but {exc}")
        pytest.skip(f"Dovecot tests skipped: {exc}")
    return server.start()


@pytest.fixture(scope="session")
def dovecot(tls: Tls) -> Iterator[object]:
    server = _dovecot(tls)
    try:
        yield server
    finally:
        server.remove()  # type: ignore[attr-defined]


_folders = itertools.count(1)


@pytest.fixture
def folder(dovecot: object, tls: Tls) -> str:
    """A fresh, empty IMAP folder for this test."""
    name = f"T{os.getpid()}x{next(_folders)}"
    with imap_session(dovecot, tls) as client:
        client.create_folder(name)
    return name


def imap_session(server: object, tls: Tls) -> object:
    """A second IMAP client (the "mail delivery"), logged in over TLS."""
    from imapclient import IMAPClient

    client = IMAPClient(
        "127.0.0.1",
        port=server.imaps_port,  # type: ignore[attr-defined]
        ssl=True,
        ssl_context=tls.client_context(),
        timeout=10,
    )
    client.login(IMAP_USER, IMAP_PASSWORD)
    return client


def deliver(server: object, tls: Tls, folder: str, raw: bytes) -> None:
    """APPEND ``raw`` to ``folder`` over a separate connection."""
    with imap_session(server, tls) as client:  # type: ignore[attr-defined]
        client.append(folder, raw)


def code_mail(code: str, to: str = IMAP_USER, *, subject: str = "Your Acme code") -> bytes:
    return (
        f"From: Acme <no-reply@acme.example>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Your Acme verification code is {code}. It expires in 10 minutes.\r\n"
    ).encode()


@pytest.fixture(scope="session")
def codes_host() -> PluginHost:
    return make_test_host()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'codes.db'}"
