"""pytest fixtures: a Bitwarden test server, a logged-in real ``bw``, a running ``bw serve``.

Load them with ``pytest_plugins = ["vaults_bitwarden.testing.fixtures"]`` in a test
module or root conftest, or ``from vaults_bitwarden.testing.fixtures import *`` in a
conftest. The distribution also registers this module under the ``pytest11`` entry
point, so an installed ``vaults-bitwarden`` provides them everywhere.

When the ``bw`` binary is missing, fixtures that need it skip, or fail when the
environment variable ``VAULTS_REQUIRE_BW=1`` (as CI sets it).
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from vaults_bitwarden.native.crypto import KdfParams, KdfType
from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.cli import (
    _NO_PROXY,
    REQUIRE_BW_ENV,
    BwCli,
    BwServe,
    find_bw_binary,
    missing_bw_reason,
)
from vaults_bitwarden.testing.items import VaultItem
from vaults_bitwarden.testing.seed import DEFAULT_SEED
from vaults_bitwarden.testing.server import BitwardenTestServer

__all__ = [
    "WritableVault",
    "bitwarden_server",
    "bitwarden_server_factory",
    "bitwarden_writable",
    "bw_binary",
    "bw_cli",
    "bw_cli_copy",
    "bw_cli_logged_out",
    "bw_serve",
    "bw_serve_copy",
    "bw_serve_writable",
    "require_bw_binary",
]

ServerFactory = Callable[[Iterable[VaultItem | Mapping[str, Any]]], BitwardenTestServer]


def require_bw_binary() -> Path:
    """The ``bw`` path; skips the test if absent, or fails it when ``VAULTS_REQUIRE_BW=1``."""
    reason = missing_bw_reason()
    binary = find_bw_binary()
    if reason is None and binary is not None:
        return binary
    message = reason or "the Bitwarden CLI is not available"
    if os.environ.get(REQUIRE_BW_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_BW_ENV}=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def bitwarden_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BitwardenTestServer]:
    """The session's HTTPS Bitwarden test server, seeded with :data:`DEFAULT_SEED`.

    Credentials: ``.email``, ``.master_password``, ``.client_id``, ``.client_secret``;
    ``.url``, ``.ca_cert``, ``.items``; mutate with ``.add_item`` / ``.update_item`` /
    ``.remove_item`` / ``.temporary_item`` (prefer the last on this shared server).
    """
    server = BitwardenTestServer.create(
        tmp_path_factory.mktemp("bitwarden-tls"), items=DEFAULT_SEED
    )
    with server:
        yield server


@pytest.fixture
def bitwarden_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerFactory]:
    """Make extra servers with custom items: ``server = bitwarden_server_factory([...])``.

    Each gets its own account, keys and TLS material; all are stopped after the test.
    """
    servers: list[BitwardenTestServer] = []

    def make(items: Iterable[VaultItem | Mapping[str, Any]]) -> BitwardenTestServer:
        server = BitwardenTestServer.create(
            tmp_path_factory.mktemp("bitwarden-tls"), items=items
        ).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def bw_binary() -> Path:
    """Path of the official ``bw`` (``node_modules/.bin/bw``); skips/fails if missing."""
    return require_bw_binary()


@pytest.fixture(scope="session")
def bw_cli(
    bw_binary: Path,
    bitwarden_server: BitwardenTestServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> BwCli:
    """The real ``bw`` logged in to :func:`bitwarden_server` and unlocked, once per session.

    ``.binary``, ``.appdata_dir``, ``.session`` (``BW_SESSION``) and ``.env`` (full
    environment: ``BITWARDENCLI_APPDATA_DIR``, ``NODE_EXTRA_CA_CERTS``, ``BW_SESSION``,
    ``BW_NOINTERACTION``); ``.run(*args)`` runs ``bw ARGS --nointeraction``.
    Do not lock, log out or sync this shared one: use :func:`bw_cli_copy` for that.
    """
    cli = BwCli(
        binary=bw_binary,
        appdata_dir=tmp_path_factory.mktemp("bw-appdata"),
        ca_cert=bitwarden_server.ca_cert,
    )
    cli.config_server(bitwarden_server.url)
    return cli.login_password(bitwarden_server.email, bitwarden_server.master_password)


@pytest.fixture
def bw_cli_copy(bw_cli: BwCli, tmp_path: Path) -> BwCli:
    """A private copy of :func:`bw_cli`'s app data: logged in, unlocked, free to mutate."""
    return bw_cli.clone(tmp_path / "bw-appdata")


@pytest.fixture
def bw_cli_logged_out(
    bw_binary: Path, bitwarden_server: BitwardenTestServer, tmp_path: Path
) -> BwCli:
    """A ``bw`` pointed at :func:`bitwarden_server` but not logged in (for login tests)."""
    cli = BwCli(
        binary=bw_binary, appdata_dir=tmp_path / "bw-appdata", ca_cert=bitwarden_server.ca_cert
    )
    cli.config_server(bitwarden_server.url)
    return cli


@pytest.fixture(scope="session")
def bw_serve(bw_cli: BwCli, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (``http://127.0.0.1:PORT``) of a real, unlocked ``bw serve``.

    It runs on its own copy of :func:`bw_cli`'s app data (same ``BW_SESSION``), so
    ``POST /lock``, ``/unlock`` or ``/sync`` there do not disturb :func:`bw_cli`.
    Its output goes to ``bw-serve.log`` in a session temp directory.
    """
    work = tmp_path_factory.mktemp("bw-serve")
    cli = bw_cli.clone(work / "appdata")
    serve = BwServe.start(cli, log_path=work / "bw-serve.log")
    try:
        yield serve.url
    finally:
        serve.stop()


@pytest.fixture
def bw_serve_copy(bw_cli: BwCli, tmp_path: Path) -> Iterator[str]:
    """Like :func:`bw_serve` but private to one test (about 0.7 s to start).

    For tests that ``POST /sync``, ``/lock`` or ``/unlock``, or that need the server's
    current contents rather than the session's cached ones.
    """
    cli = bw_cli.clone(tmp_path / "bw-serve-appdata")
    serve = BwServe.start(cli, log_path=tmp_path / "bw-serve.log")
    try:
        yield serve.url
    finally:
        serve.stop()


WRITABLE_KDF = KdfParams(KdfType.ARGON2ID, iterations=2, memory_mib=16, parallelism=1)
"""The writable account's KDF: Argon2id at Bitwarden's minimums (the CLI derives it too)."""


@dataclass(frozen=True)
class WritableVault:
    """A test server the real CLI writes to, and two ``bw`` logins to it.

    ``cli`` logged in while the ``cipher-key-encryption`` flag was off: items it writes are
    encrypted directly under the user (or organisation) key. ``cli_keyed`` logged in with
    the flag on: every item it creates or edits gets its own cipher key. The CLI reads the
    flag at login and keeps it an hour, so the two stay as they are for a test session.
    Both are unlocked (``.session``); they do not see each other's writes until they sync.
    """

    server: BitwardenTestServer
    cli: BwCli
    cli_keyed: BwCli


@pytest.fixture(scope="session")
def bitwarden_writable(
    bw_binary: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WritableVault]:
    """Its own server (Argon2id account, empty vault) and two real ``bw`` logins (~7 s).

    Write with ``cli.run("create", "item", base64_json)``, ``bw edit item``,
    ``bw delete item``, or through :func:`bw_serve_writable`; read the stored ciphertext
    with ``server.cipher(id)`` / ``server.vault.ciphers``.
    """
    account = BitwardenAccount.create(email="writer@example.com", kdf=WRITABLE_KDF)
    server = BitwardenTestServer.create(
        tmp_path_factory.mktemp("bitwarden-writable-tls"), account=account
    )
    with server:
        logins: list[BwCli] = []
        for keyed in (False, True):
            server.feature_states["cipher-key-encryption"] = keyed
            cli = BwCli(
                binary=bw_binary,
                appdata_dir=tmp_path_factory.mktemp("bw-writable-appdata"),
                ca_cert=server.ca_cert,
            )
            cli.config_server(server.url)
            logins.append(cli.login_password(server.email, server.master_password))
        server.feature_states["cipher-key-encryption"] = False
        yield WritableVault(server=server, cli=logins[0], cli_keyed=logins[1])


@pytest.fixture(scope="session")
def bw_serve_writable(
    bitwarden_writable: WritableVault, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """URL of a real ``bw serve`` logged in to :func:`bitwarden_writable` (on a copy of
    its ``cli``: no own cipher keys). ``POST /object/item``, ``PUT /object/item/<id>``,
    ``DELETE /object/item/<id>`` write through to the server; ``POST /sync`` reads others'."""
    work = tmp_path_factory.mktemp("bw-serve-writable")
    serve = BwServe.start(
        bitwarden_writable.cli.clone(work / "appdata"), log_path=work / "bw-serve.log"
    )
    try:
        # settle the sync a fresh bw serve starts on its own: one ending after a write
        # replaces the local items with an older list (then "Not found." for the new item)
        settle = urllib.request.Request(f"{serve.url}/sync", method="POST")  # noqa: S310 - http
        with _NO_PROXY.open(settle, timeout=60):
            pass
        yield serve.url
    finally:
        serve.stop()
