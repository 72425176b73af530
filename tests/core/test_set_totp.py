"""``Vaults.set_totp`` / ``vaults set-totp``: the host's write path, over the in-memory vault,
backends that cannot write and backends whose write goes wrong."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner

from tests.core.conftest import (
    CANARY,
    CANARY_SECRET,
    DictBackend,
    FakeSite,
    Item,
    backend_plugin,
    no_fragment,
    no_leak,
    one_error_line,
    run_vaults,
)
from vaults.backend import VaultBackend
from vaults.cli.main import cli
from vaults.enrol import MAX_SECRET_INPUT, read_secret_text, secret_from_input
from vaults.errors import (
    AmbiguousItem,
    InvalidInput,
    InvalidTotpSecret,
    ItemNotFound,
    ReadOnlyVault,
    TotpAlreadySet,
    VaultUnavailable,
    WriteNotVerified,
)
from vaults.models import Credential, TotpCode, TotpSecret
from vaults.refs import Reference, parse_reference
from vaults.resolver import Vaults
from vaults.testing.leaks import error_texts, record_texts
from vaults.testing.memory import MemoryBackend
from vaults.totp import code_for_entry, parse_secret

NOW = 1_700_000_000.0
NEW = f"{CANARY}NEWSECRET234567ABCDEFGH"
NEW_URI = f"otpauth://totp/Acme:alice?secret={NEW}&issuer=Acme&algorithm=SHA512&digits=8&period=60"


def window(code: TotpCode | None) -> tuple[str, int, int] | None:
    return None if code is None else (code.code, code.valid_from, code.valid_until)


def memory(**kwargs: bool) -> tuple[MemoryBackend, Vaults]:
    backend = MemoryBackend(**kwargs)
    backend.add("Plain", item_id="plain", username="alice", password=f"pw-{CANARY}")
    backend.add("Coded", item_id="coded", username="bob", totp=CANARY_SECRET)
    backend.add("Twin", item_id="twin-a")
    backend.add("Twin", item_id="twin-b")
    return backend, Vaults(backends=[backend], env={}, clock=lambda: NOW)


def test_stores_and_returns_the_first_code() -> None:
    _backend, vaults = memory()
    cred = vaults.set_totp("memory://Plain", NEW_URI)
    expected = code_for_entry(NEW_URI, NOW)
    assert cred.totp is not None and cred.totp.code == expected.code
    assert (cred.totp.digits, cred.totp.period, cred.totp_source) == (8, 60, "vault")
    assert (cred.id, cred.ref, cred.username) == ("plain", "memory://Plain", "alice")
    assert window(vaults.resolve("memory://plain").totp) == window(cred.totp)


@pytest.mark.parametrize(
    "given",
    [
        CANARY_SECRET,
        CANARY_SECRET.lower(),
        f"otpauth://totp/Other:label?secret={CANARY_SECRET}&issuer=Other",
        parse_secret(CANARY_SECRET),
    ],
)
def test_same_secret_in_any_form_writes_nothing(
    given: str | TotpSecret, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, vaults = memory()

    def boom(*args: object) -> None:
        raise AssertionError("store_totp called for the same secret")

    monkeypatch.setattr(backend, "store_totp", boom)
    stored = vaults.store_totp("memory://coded", given)
    assert stored.changed is False
    assert window(stored.credential.totp) == window(code_for_entry(CANARY_SECRET, NOW))


def test_a_different_secret_needs_replace() -> None:
    _backend, vaults = memory()
    with pytest.raises(TotpAlreadySet, match="already has a TOTP secret") as caught:
        vaults.set_totp("memory://coded", NEW)
    assert caught.value.exit_code == 1
    assert window(vaults.resolve("memory://coded").totp) == window(
        code_for_entry(CANARY_SECRET, NOW)
    )
    # same digits and key but another period is a different secret too
    with pytest.raises(TotpAlreadySet):
        vaults.set_totp("memory://coded", f"otpauth://totp/x?secret={CANARY_SECRET}&period=60")
    cred = vaults.set_totp("memory://coded", NEW, replace=True)
    assert window(cred.totp) == window(code_for_entry(NEW, NOW))
    assert window(vaults.resolve("memory://coded").totp) == window(code_for_entry(NEW, NOW))


def test_unknown_and_ambiguous_items_behave_as_resolve() -> None:
    _, vaults = memory()
    with pytest.raises(ItemNotFound):
        vaults.set_totp("memory://Nope", NEW)
    with pytest.raises(AmbiguousItem) as caught:
        vaults.set_totp("memory://Twin", NEW)
    assert set(caught.value.candidates) == {"twin-a", "twin-b"}


def test_a_backend_without_store_totp_cannot_store_secrets() -> None:
    backend = DictBackend([Item("1", "GitHub", "octocat", "pw")])
    vaults = Vaults(backends=[backend], env={})
    with pytest.raises(ReadOnlyVault, match="cannot store secrets") as caught:
        vaults.set_totp("dict://GitHub", NEW)
    assert caught.value.exit_code == 2
    assert backend.fetch_calls == [], "nothing should be read from a vault that cannot write"


def test_a_read_only_configuration_cannot_store_secrets() -> None:
    _backend, vaults = memory(read_only=True)
    with pytest.raises(ReadOnlyVault, match="cannot store secrets"):
        vaults.set_totp("memory://Plain", NEW)
    assert vaults.resolve("memory://Plain").totp is None


class ManglingBackend(MemoryBackend):
    """Stores a different secret than it was given (a vault that truncates or re-encodes)."""

    def store_totp(self, ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
        if secret is not None and secret.secret.get_secret_value().startswith(CANARY + "NEW"):
            secret = secret.model_copy(update={"digits": 6, "algorithm": "SHA1"})
        super().store_totp(ref, item, secret)


class UnreadableAfterWrite(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def store_totp(self, ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
        self.writes += 1
        super().store_totp(ref, item, secret)

    def fetch(self, ref: Reference) -> Credential:
        if self.writes == 1:
            raise VaultUnavailable("the vault went away")
        return super().fetch(ref)


@pytest.mark.parametrize("item", ["Plain", "Coded"])
def test_a_write_that_reads_back_different_is_undone(item: str) -> None:
    backend = ManglingBackend()
    backend.add("Plain", item_id="plain")
    backend.add("Coded", item_id="coded", totp=CANARY_SECRET)
    vaults = Vaults(backends=[backend], env={}, clock=lambda: NOW)
    before = vaults.resolve(f"memory://{item}").totp
    with pytest.raises(WriteNotVerified, match=r"read back different.*previous state was restored"):
        vaults.set_totp(f"memory://{item}", NEW_URI, replace=True)
    assert window(vaults.resolve(f"memory://{item}").totp) == window(before)


def test_a_write_that_cannot_be_read_back_is_undone() -> None:
    backend = UnreadableAfterWrite()
    backend.add("Coded", item_id="coded", totp=CANARY_SECRET)
    vaults = Vaults(backends=[backend], env={}, clock=lambda: NOW)
    with pytest.raises(WriteNotVerified, match=r"could not be read back.*restored") as caught:
        vaults.set_totp("memory://coded", NEW, replace=True)
    assert caught.value.exit_code == 4
    assert backend.writes == 2
    assert window(vaults.resolve("memory://coded").totp) == window(
        code_for_entry(CANARY_SECRET, NOW)
    )


def test_async_set_totp() -> None:
    _backend, vaults = memory()

    async def run() -> Credential:
        return await vaults.aset_totp("memory://Plain", NEW)

    cred = anyio.run(run)
    assert window(cred.totp) == window(code_for_entry(NEW, NOW))
    with pytest.raises(TotpAlreadySet):
        anyio.run(lambda: vaults.aset_totp("memory://Plain", CANARY_SECRET))


def test_bad_secrets_are_refused_before_the_vault_is_touched() -> None:
    backend = DictBackend([Item("1", "GitHub")])
    vaults = Vaults(backends=[backend], env={})
    with pytest.raises(InvalidTotpSecret) as caught:
        vaults.set_totp("dict://GitHub", f"{CANARY}!!not-base32")
    no_leak(error_texts("error", caught.value)[:2], [CANARY])
    with pytest.raises(InvalidInput, match="not both or neither"):
        vaults.set_totp("dict://GitHub")
    assert backend.fetch_calls == []


def test_no_secret_in_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    backend, vaults = memory()
    cred = vaults.set_totp("memory://Plain", NEW_URI)
    texts = [repr(cred), str(cred), cred.model_dump_json(), str(cred.public_dict()), repr(backend)]
    with pytest.raises(TotpAlreadySet) as caught:
        vaults.set_totp("memory://Plain", CANARY_SECRET)
    texts += [e.text for e in error_texts("refusal", caught.value)]
    texts += [e.text for e in record_texts(caplog.records)]
    assert caplog.records, "the write should be logged (without the secret)"
    no_leak(texts, [CANARY])
    no_fragment(texts, NEW)


# -- input forms ----------------------------------------------------------------------------


def test_read_secret_text_takes_the_first_line() -> None:
    got = read_secret_text(io.StringIO(f"\n  {NEW_URI}  \nhttps://example.test/other-qr\n"))
    assert got.get_secret_value() == NEW_URI


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no TOTP secret on stdin"),
        ("\n \n", "no TOTP secret on stdin"),
        (f"{NEW_URI}\n{NEW_URI}\n", "2 otpauth:// URIs"),
        ("A" * (MAX_SECRET_INPUT + 1), "longer than"),
    ],
)
def test_read_secret_text_refusals(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        read_secret_text(io.StringIO(text))


def test_secret_from_qr(tmp_path: Path) -> None:
    segno = pytest.importorskip("segno")
    pytest.importorskip("zxingcpp")
    image = tmp_path / "setup.png"
    segno.make(NEW_URI, error="m").save(str(image), kind="png", scale=5)
    assert secret_from_input(qr=image) == parse_secret(NEW_URI)
    _, vaults = memory()
    assert window(vaults.set_totp("memory://Plain", qr=image).totp) == window(
        code_for_entry(NEW_URI, NOW)
    )
    other = tmp_path / "url.png"
    segno.make("https://example.test/", error="m").save(str(other), kind="png", scale=5)
    with pytest.raises(InvalidTotpSecret, match="not an otpauth:// URI"):
        secret_from_input(qr=other)


# -- CLI --------------------------------------------------------------------------------------

READ_ONLY = backend_plugin(
    "ro",
    "return Credential(vault='ro', id='1', name='x')",
)


def test_cli_usage_errors() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["set-totp", "memory://x"])
    assert result.exit_code == 2
    assert "give the secret" in result.output
    result = runner.invoke(cli, ["set-totp", "memory://x", "ABC", "--qr", "x.png"])
    assert result.exit_code == 2 and "not both" in result.output


def test_cli_help_warns_about_argv() -> None:
    result = CliRunner().invoke(cli, ["set-totp", "--help"])
    assert result.exit_code == 0
    assert "process list (ps)" in result.output
    assert "set-totp" in CliRunner().invoke(cli, ["--help"]).output


def test_cli_plugin_that_cannot_write(fake_site: FakeSite) -> None:
    module = fake_site.module("ro_plugin", READ_ONLY)
    fake_site.dist("ro-vault", {"ro": module})
    result = run_vaults(
        "set-totp", "ro://x", "-", env=fake_site.env(VAULTS_LOAD_PLUGINS="ro"), stdin=NEW
    )
    assert result.returncode == 2, result.stderr
    assert "cannot store secrets" in one_error_line(result.stderr)
    no_leak([result.stdout, result.stderr], [CANARY])


def test_vault_backend_default_refuses() -> None:
    class Plain(VaultBackend):
        scheme = "plain"

        def fetch(self, ref: Reference) -> Credential:
            raise AssertionError

    with pytest.raises(ReadOnlyVault, match="the plain vault plugin cannot store secrets"):
        Plain().check_writable()
    with pytest.raises(ReadOnlyVault):
        item = Credential(vault="plain", id="1", name="x")
        Plain().store_totp(parse_reference("plain://x"), item, None)


class BrokenSecretBackend(MemoryBackend):
    """Its items' stored secret gives no code (what a backend reports as ``totp_error``)."""

    def fetch(self, ref: Reference) -> Credential:
        cred = super().fetch(ref)
        if cred.totp_secret is None and cred.id == "broken":
            cred.totp_error = "the stored TOTP secret is not valid base32"
        return cred


def test_an_unusable_secret_is_replaced_only_with_replace() -> None:
    backend = BrokenSecretBackend()
    backend.add("Broken", item_id="broken")
    vaults = Vaults(backends=[backend], env={}, clock=lambda: NOW)
    with pytest.raises(TotpAlreadySet, match="one that gives no code"):
        vaults.set_totp("memory://broken", NEW)
    cred = vaults.set_totp("memory://broken", NEW, replace=True)
    assert window(cred.totp) == window(code_for_entry(NEW, NOW))


class RepromptBackend(MemoryBackend):
    def fetch(self, ref: Reference) -> Credential:
        cred = super().fetch(ref)
        cred.reprompt = True
        return cred


def test_a_reprompt_item_is_not_written_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    from vaults.errors import RepromptRequired

    backend = RepromptBackend()
    backend.add("Guarded", item_id="guarded")
    monkeypatch.setattr(backend, "store_totp", lambda *a: pytest.fail("written"))
    with pytest.raises(RepromptRequired):
        Vaults(backends=[backend], env={}).set_totp("memory://guarded", NEW)
