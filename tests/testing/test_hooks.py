"""Every hookspec, exercised through a real plugin host (and documented: see test_docs)."""

from __future__ import annotations

from collections.abc import Callable

import pluggy
import pytest

from vaults import hookimpl
from vaults.backend import VaultBackend
from vaults.codes.extract import ExtractedCode
from vaults.errors import ItemNotFound
from vaults.host import PluginHost
from vaults.resolver import Vaults
from vaults.testing.memory import MemoryBackend

HostFactory = Callable[..., PluginHost]


class RegistersMemory:
    @hookimpl
    def vaults_register_backends(self, register: Callable[[type[VaultBackend]], None]) -> None:
        register(MemoryBackend)


class RegistersNonsense:
    @hookimpl
    def vaults_register_backends(self, register: Callable[[type[VaultBackend]], None]) -> None:
        register(dict)  # type: ignore[arg-type]


class ExtractsAcmeSms:
    @hookimpl
    def vaults_extract_code(self, content: str, source: str | None) -> ExtractedCode | None:
        if source != "phone" or not content.startswith("ACME "):
            return None
        return ExtractedCode(otp_type="totp", value=content.removeprefix("ACME ").strip())


class ImplementsUnknownHook:
    @hookimpl
    def vaults_register_backend(self, register: object) -> None:  # typo: not a hookspec
        """Never called: the host refuses the plugin."""


def test_register_backends_makes_the_scheme_resolvable(vaults_host_factory: HostFactory) -> None:
    host = vaults_host_factory(plugins=[("memory", RegistersMemory())])
    entry = host.backends()["memory"]
    assert (entry.backend, entry.plugin) == (MemoryBackend, "memory")
    assert [i.schemes for i in host.plugins if i.name == "memory"] == [["memory"]]
    vaults = Vaults(host=host, env={})
    backend = vaults.backend("memory")
    assert isinstance(backend, MemoryBackend)  # built lazily with from_env: an empty vault
    with pytest.raises(ItemNotFound, match="GitHub"):
        vaults.resolve("memory://GitHub")


def test_register_backends_errors_are_recorded_not_raised() -> None:
    from vaults.host import make_host

    host = make_host(
        load_entrypoints=False,
        plugins=[
            ("good", RegistersMemory()),
            ("clash", RegistersMemory()),
            ("bad", RegistersNonsense()),
        ],
    )
    backends = host.backends()
    errors = {info.name: info.error for info in host.plugins}
    assert list(backends) == ["memory"]
    assert errors["bad"] is not None and "not a VaultBackend subclass" in errors["bad"]
    clashing = [name for name in ("good", "clash") if errors[name]]
    assert len(clashing) == 1
    assert "already registered" in str(errors[clashing[0]])


def test_extract_code_first_answer_wins_and_builtin_runs_last(
    vaults_host_factory: HostFactory,
) -> None:
    host = vaults_host_factory(plugins=[("acme-sms", ExtractsAcmeSms())])
    mine = host.extract_code("ACME 7Q2Z9", "phone")
    assert mine == ExtractedCode(otp_type="totp", value="7Q2Z9")
    # not the plugin's message: the built-in extractor answers
    builtin = host.extract_code("Your verification code is 482913.", "email")
    assert builtin is not None and builtin.value == "482913"
    assert host.extract_code("ACME 7Q2Z9", "email") != mine


def test_extract_code_without_builtins_is_none_when_no_plugin_answers(
    vaults_host_factory: HostFactory,
) -> None:
    host = vaults_host_factory(plugins=[("acme-sms", ExtractsAcmeSms())], builtins=False)
    assert host.extract_code("Your verification code is 482913.", "email") is None


def test_unknown_hooks_are_an_error_in_tests(vaults_host_factory: HostFactory) -> None:
    with pytest.raises(pluggy.PluginValidationError, match="vaults_register_backend"):
        vaults_host_factory(plugins=[("typo", ImplementsUnknownHook())])
