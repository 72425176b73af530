"""bw failure texts -> typed errors; configuration from the environment."""

from __future__ import annotations

import pytest
from vaults_bitwarden.backend import BitwardenBackend
from vaults_bitwarden.cli_transport import CliTransport
from vaults_bitwarden.messages import error_for_message, ids_in
from vaults_bitwarden.serve_api import ServeTransport
from vaults_bitwarden.settings import DEFAULT_TIMEOUT, BitwardenSettings

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ConfigurationError,
    ItemNotFound,
    VaultLocked,
    VaultUnavailable,
)

A = "5ebd4d31-104c-49fc-a09c-aedf003d28ad"
B = "90657653-6695-496d-9431-aedf003d3015"
AMBIGUOUS = (
    "More than one result was found. Try getting a specific object by `id` instead. "
    f"The following objects were found:\n{A}\n{B.upper()}\n"
)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Not found.", ItemNotFound),
        ("\x1b[91mNot found.\x1b[39m\n", ItemNotFound),
        ("Vault is locked.", VaultLocked),
        ("You are not logged in.", AuthenticationFailed),
        ("Invalid master password.", AuthenticationFailed),
        ("Syncing failed: boom", VaultUnavailable),
        (AMBIGUOUS, AmbiguousItem),
    ],
)
def test_messages_map_to_typed_errors(text: str, kind: type[Exception]) -> None:
    assert type(error_for_message(text, source="bw", what="item 'X'")) is kind


def test_ambiguous_ids_from_the_message_or_from_data() -> None:
    from_text = error_for_message(AMBIGUOUS, source="bw", what="x")
    assert isinstance(from_text, AmbiguousItem) and from_text.candidates == (A, B)
    from_data = error_for_message(AMBIGUOUS, source="bw", what="x", candidates=[B])
    assert isinstance(from_data, AmbiguousItem) and from_data.candidates == (B,)
    assert ids_in(f"{A} {A}") == [A]


def test_unknown_message_is_quoted_redacted_and_truncated() -> None:
    error = error_for_message(
        "weird failure with sess10n-key inside\nsecond line", source="bw", what="x",
        secrets=["sess10n-key"],
    )  # fmt: skip
    assert isinstance(error, VaultUnavailable)
    assert "sess10n-key" not in str(error) and "***" in str(error) and "second" not in str(error)
    long = error_for_message("y" * 500, source="bw", what="x")
    assert len(str(long)) < 300


def test_settings_defaults() -> None:
    settings = BitwardenSettings.from_env({})
    assert (settings.url, settings.bw, settings.session, settings.timeout) == (
        None, "bw", None, DEFAULT_TIMEOUT,
    )  # fmt: skip
    assert settings.transport_name == "cli"


def test_settings_from_env_hide_secrets() -> None:
    settings = BitwardenSettings.from_env(
        {
            "VAULTS_BITWARDEN_URL": " http://127.0.0.1:8087/ ",
            "VAULTS_BITWARDEN_BW": "/opt/bw",
            "BW_SESSION": "session-canary",
            "BW_PASSWORD": "password-canary",
            "BITWARDENCLI_APPDATA_DIR": "/tmp/appdata",
            "VAULTS_BITWARDEN_TIMEOUT": "2.5",
            "NODE_EXTRA_CA_CERTS": "/tmp/ca.pem",
        }
    )
    assert settings.url == "http://127.0.0.1:8087"
    assert (settings.bw, settings.appdata_dir, settings.timeout) == ("/opt/bw", "/tmp/appdata", 2.5)
    assert settings.child_env["NODE_EXTRA_CA_CERTS"] == "/tmp/ca.pem"
    assert "canary" not in repr(settings)
    assert {s.get_secret_value() for s in settings.secrets} == {"session-canary", "password-canary"}


def test_blank_secrets_are_absent() -> None:
    settings = BitwardenSettings.from_env({"BW_SESSION": "  ", "BW_PASSWORD": ""})
    assert settings.session is None and settings.password is None


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"VAULTS_BITWARDEN_URL": "127.0.0.1:8087"}, "must look like"),
        ({"VAULTS_BITWARDEN_URL": "ftp://127.0.0.1:8087"}, "must look like"),
        ({"VAULTS_BITWARDEN_URL": "http://u:p@127.0.0.1:8087"}, "user name"),
        ({"VAULTS_BITWARDEN_URL": "http://127.0.0.1:99999"}, "invalid port"),
        ({"VAULTS_BITWARDEN_URL": "http://127.0.0.1:8087/?x=1"}, "query"),
        ({"VAULTS_BITWARDEN_TIMEOUT": "soon"}, "number of seconds"),
        ({"VAULTS_BITWARDEN_TIMEOUT": "-1"}, "positive"),
    ],
)
def test_bad_configuration(env: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        BitwardenSettings.from_env(env)


def test_url_selects_bw_serve_otherwise_the_cli() -> None:
    serve = BitwardenBackend.from_env({"VAULTS_BITWARDEN_URL": "http://127.0.0.1:8087"})
    cli = BitwardenBackend.from_env({"BW_SESSION": "session-canary"})
    try:
        assert isinstance(serve.transport, ServeTransport)
        assert isinstance(cli.transport, CliTransport)
        assert "session-canary" not in repr(cli) and "session=set" in repr(cli)
    finally:
        serve.close()
        cli.close()
