"""The plugin through the REAL official ``bw`` CLI subprocess (no ``bw serve``).

Each ``bw`` run costs ~1.5 s, so these few tests read many items per run: the batch path
is one ``bw list items`` for every seeded shape.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.decode import TOTP_RULES
from vaults_bitwarden.process import lingering_count
from vaults_bitwarden.testing.cli import BwCli
from vaults_bitwarden.testing.seed import (
    CANARY,
    CANARY_PASSWORD,
    CANARY_TOTP_SECRET,
    CIPHER_KEY,
    DEFAULT_SEED,
    GITHUB,
    ORG_WITH_KEY,
    SHARED_NAME,
    SHARED_NAME_ORG,
    SHARED_NAME_PERSONAL,
)
from vaults_bitwarden.testing.server import BitwardenTestServer

from vaults.errors import AmbiguousItem, AuthenticationFailed, ItemNotFound, VaultLocked
from vaults.models import Credential
from vaults.refs import parse_reference
from vaults.totp import parse_secret

pytest_plugins = ("vaults_bitwarden.testing.fixtures",)


def cli_backend(cli: BwCli, **extra: str) -> BitwardenBackend:
    env: dict[str, Any] = {**cli.env, "VAULTS_BITWARDEN_BW": str(cli.binary), **extra}
    return BitwardenBackend.from_env(env)


def test_every_item_shape_in_one_bw_run(bw_cli: BwCli) -> None:
    backend = cli_backend(bw_cli)
    refs = [parse_reference(f"bitwarden://{item.id}") for item in DEFAULT_SEED]
    refs += [
        parse_reference(f"bitwarden://{SHARED_NAME}"),
        parse_reference(f"bitwarden://{SHARED_NAME}?organization="),  # empty: no filter
        parse_reference("bitwarden://?url=https://org.example.com/admin"),
        parse_reference("bitwarden://No Such Item"),
    ]
    try:
        results = backend.fetch_many(refs)
    finally:
        backend.close()
    assert backend.transport.requests == 1
    for item, result in zip(DEFAULT_SEED, results, strict=False):
        assert isinstance(result, Credential), result
        assert (result.id, result.name, result.username) == (item.id, item.name, item.username)
        assert (result.password.get_secret_value() if result.password else None) == item.password
        assert result.uris == list(item.uris)
        assert result.totp_secret == (parse_secret(item.totp, TOTP_RULES) if item.totp else None)
    ambiguous, also_ambiguous, by_url, missing = results[len(DEFAULT_SEED) :]
    assert isinstance(ambiguous, AmbiguousItem) and isinstance(also_ambiguous, AmbiguousItem)
    assert set(ambiguous.candidates) == {SHARED_NAME_PERSONAL.id, SHARED_NAME_ORG.id}
    assert isinstance(by_url, Credential) and by_url.id == ORG_WITH_KEY.id
    assert isinstance(missing, ItemNotFound)


def test_by_name_and_by_id_one_run_each(bw_cli: BwCli, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend = cli_backend(bw_cli)
    try:
        by_name = backend.fetch(parse_reference(f"bitwarden://{CANARY.name}"))
        assert backend.transport.requests == 1
        assert by_name.password is not None
        assert by_name.password.get_secret_value() == CANARY_PASSWORD

        async def by_id() -> Credential:
            return await backend.afetch(parse_reference(f"bitwarden://{CIPHER_KEY.id}"))

        keyed = anyio.run(by_id)
        assert backend.transport.requests == 2
        assert (keyed.id, keyed.username) == (CIPHER_KEY.id, CIPHER_KEY.username)
    finally:
        backend.close()
    assert lingering_count() == 0, "close() ends bw processes that already answered"
    texts = [repr(by_name), by_name.model_dump_json(), repr(backend)]
    texts += [record.getMessage() for record in caplog.records]
    for text in texts:
        assert CANARY_PASSWORD not in text and CANARY_TOTP_SECRET not in text
        assert (bw_cli.session or "-") not in text


def test_missing_id_is_not_found(bw_cli: BwCli) -> None:
    backend = cli_backend(bw_cli)
    try:
        with pytest.raises(ItemNotFound):
            backend.fetch(parse_reference("bitwarden://5f0c1b4e-0000-4000-8000-00000000dead"))
    finally:
        backend.close()


@pytest.mark.parametrize("session", ["c3RhbGUtc2Vzc2lvbi1rZXktY2FuYXJ5", None])
def test_stale_or_missing_session_is_locked(bw_cli: BwCli, session: str | None) -> None:
    """With ``--nointeraction`` a stale session fails fast with "Vault is locked.\""""
    backend = cli_backend(bw_cli.with_session(session))
    try:
        with pytest.raises(VaultLocked) as caught:
            backend.fetch(parse_reference(f"bitwarden://{GITHUB.id}"))
    finally:
        backend.close()
    assert session is None or session not in str(caught.value)


def test_logged_out_is_authentication_failed(bw_cli_logged_out: BwCli) -> None:
    backend = cli_backend(bw_cli_logged_out)
    try:
        with pytest.raises(AuthenticationFailed, match="not logged in"):
            backend.fetch(parse_reference("bitwarden://GitHub"))
    finally:
        backend.close()


def test_locked_cli_unlocks_with_bw_password(
    bw_cli_copy: BwCli, bitwarden_server: BitwardenTestServer
) -> None:
    # a private copy of the app data: `bw unlock` writes a new session key there
    password = bitwarden_server.master_password
    backend = cli_backend(bw_cli_copy.with_session(None), BW_PASSWORD=password)
    try:
        cred = backend.fetch(parse_reference(f"bitwarden://{GITHUB.id}"))
        assert cred.username == GITHUB.username
        assert backend.transport.requests == 3  # locked, unlock, retry
        assert password not in repr(backend)
    finally:
        backend.close()
