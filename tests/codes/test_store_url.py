"""Choosing the store by URL, and what happens when it cannot be used."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from vaults.codes.inbox import Inbox
from vaults.codes.postgres_store import PostgresStore, redact_url
from vaults.codes.sqlite_store import SqliteStore
from vaults.codes.store_url import (
    check_store_directory,
    default_sqlite_path,
    open_store,
    resolve_store_url,
)
from vaults.errors import ConfigurationError, VaultUnavailable
from vaults.host import PluginHost


def test_relative_and_absolute_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    relative = open_store("sqlite:///data/codes.db", env={})
    assert isinstance(relative, SqliteStore)
    assert relative.path == Path("data/codes.db")
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db", env={})
    assert isinstance(absolute, SqliteStore)
    assert absolute.path == tmp_path / "abs.db"
    assert str(tmp_path).startswith("/")  # so the URL above had four slashes


def test_relative_path_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codes_host: PluginHost
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    with Inbox("sqlite:///sub/codes.db", host=codes_host, env={}) as inbox:
        inbox.push("user@example.com", "Your code is 482913")
    assert (tmp_path / "sub" / "codes.db").is_file()
    assert (os.stat(tmp_path / "sub" / "codes.db").st_mode & 0o777) == 0o600


def test_default_store_lives_in_the_user_data_dir(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    if sys.platform.startswith("linux"):
        assert default_sqlite_path(env) == tmp_path / "xdg" / "vaults" / "codes.db"
    assert default_sqlite_path({"VAULTS_DATA_DIR": str(tmp_path / "d")}) == (
        tmp_path / "d" / "codes.db"
    )
    assert resolve_store_url(None, {"VAULTS_DATA_DIR": str(tmp_path)}) == (
        f"sqlite:///{tmp_path}/codes.db"
    )


def test_vaults_store_env_is_used(tmp_path: Path) -> None:
    env = {"VAULTS_STORE": f"sqlite:///{tmp_path}/env.db"}
    store = open_store(None, env)
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "env.db"
    # an explicit URL wins
    store = open_store(f"sqlite:///{tmp_path}/arg.db", env)
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "arg.db"


def test_postgres_urls_open_a_postgres_store() -> None:
    assert isinstance(open_store("postgresql://u@127.0.0.1:1/db", {}), PostgresStore)
    assert isinstance(open_store("postgres://u@127.0.0.1:1/db", {}), PostgresStore)


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite://relative.db", "sqlite:///:memory:", "sqlite:///dir/", "mysql://x/y"],
)
def test_bad_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_store(url, {})
    assert caught.value.exit_code == 2


def test_unknown_scheme_message_does_not_echo_the_url() -> None:
    with pytest.raises(ConfigurationError) as caught:
        open_store("redis://user:hunter2canary@127.0.0.1/0", {})
    assert "hunter2canary" not in str(caught.value)


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h:5432/db?sslmode=disable") == (
        "postgresql://u:***@h:5432/db?sslmode=disable"
    )
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_a_missing_directory_is_refused_except_the_default_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in --store / VAULTS_STORE must not silently start a second inbox."""
    with pytest.raises(ConfigurationError, match="does not exist") as caught:
        check_store_directory(f"sqlite:///{tmp_path}/no/such/dir/codes.db", env={})
    assert caught.value.exit_code == 2
    assert not (tmp_path / "no").exists()
    check_store_directory(None, env={"VAULTS_DATA_DIR": str(tmp_path / "data-dir")})  # default
    check_store_directory(f"sqlite:///{tmp_path}/codes.db", env={})  # the directory exists


def test_a_store_url_without_scheme_names_the_accepted_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"sqlite:///.*postgresql://"):
        open_store("garbage", env={})


def test_unusable_sqlite_path_is_vault_unavailable(tmp_path: Path, codes_host: PluginHost) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(VaultUnavailable) as caught:
        Inbox(f"sqlite:///{blocker}/codes.db", host=codes_host).list()
    assert caught.value.exit_code == 4


def test_not_a_database_is_vault_unavailable(tmp_path: Path, codes_host: PluginHost) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a SQLite database" * 100)
    with pytest.raises(VaultUnavailable, match=r"junk\.db"):
        Inbox(f"sqlite:///{junk}", host=codes_host).list()


def test_unreachable_postgres_is_vault_unavailable(codes_host: PluginHost, free_port: int) -> None:
    canary = "pw-canary-7f3k"
    inbox = Inbox(f"postgresql://u:{canary}@127.0.0.1:{free_port}/db", host=codes_host)
    with pytest.raises(VaultUnavailable) as caught:
        inbox.push("user@example.com", "Your code is 482913")
    assert caught.value.exit_code == 4
    assert canary not in str(caught.value)
    assert canary not in repr(inbox)
    with pytest.raises(VaultUnavailable):
        inbox.wait("user@example.com", timeout=0)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw-canary-7f3k@[::1",  # Python's urlsplit refuses it too
        "postgresql://u:pw-canary-7f3k x@127.0.0.1/db",  # libpq quotes the password back
    ],
)
def test_malformed_postgres_url_is_a_configuration_error(codes_host: PluginHost, url: str) -> None:
    inbox = Inbox(url, host=codes_host)
    with pytest.raises(ConfigurationError) as caught:
        inbox.list()
    assert caught.value.exit_code == 2
    assert "pw-canary-7f3k" not in str(caught.value)


def test_malformed_postgres_url_is_a_configuration_error_when_listening_async() -> None:
    store = PostgresStore("postgresql://u:pw-canary-7f3k x@127.0.0.1/db")
    with pytest.raises(ConfigurationError) as caught:
        anyio.run(store.alisten, "user@example.com")
    assert "pw-canary-7f3k" not in str(caught.value)
