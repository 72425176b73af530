"""Which source supplies the code: the documented order, the item's own fields, explicit
arguments overriding them, ``totp_type``, and a plain resolve that stays plain."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future

import pytest

from tests.delivery.conftest import (
    CANARY,
    CANARY_SECRET,
    PULL_KEY,
    FieldItem,
    PullEndpoint,
    no_leak,
    wait_for_listeners,
)
from vaults.codes.inbox import Inbox
from vaults.delivery import parse_totp_type, plan_delivery
from vaults.errors import CodeTimeout, ConfigurationError, NoCode
from vaults.models import Credential
from vaults.resolver import Vaults
from vaults.totp import code_for_entry, parse_secret

MakeVaults = Callable[..., Vaults]
Background = Callable[[Callable[[], Credential]], "Future[Credential]"]

EMAIL = "user@example.com"


def item(name: str = "Acme", **kwargs: object) -> FieldItem:
    kwargs.setdefault("username", "alice")
    kwargs.setdefault("password", f"pw-{CANARY}")
    return FieldItem(id=f"id-{name}", name=name, **kwargs)  # type: ignore[arg-type]


def push_when_waiting(
    pusher: Inbox, store_url: str, identifier: str, content: str, count: int = 1
) -> None:
    wait_for_listeners(store_url, count)
    pusher.push(identifier, content, source="email")


# -- source 1 and the plain path ------------------------------------------------------------
def test_vault_secret_wins_and_nothing_else_is_opened(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(
        item(totp=CANARY_SECRET, fields={"totp_identifier": EMAIL, "totp_url": "http://x.test/"})
    )
    before = time.time()
    cred = vaults.resolve("fields://Acme", totp_identifier="other@example.com")
    assert cred.totp_source == "vault"
    assert cred.totp is not None
    secret = parse_secret(CANARY_SECRET)
    assert cred.totp.code in {
        code_for_entry(secret, before).code,
        code_for_entry(secret, time.time()).code,
    }
    assert vaults._inbox is None  # no store opened, no inbox waited on


def test_plain_item_without_code_or_delivery_is_unchanged(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(item(fields={"note": "hello"}))
    cred = vaults.resolve("fields://Acme")
    assert (cred.totp, cred.totp_source, cred.magic_link) == (None, None, None)
    assert cred.username == "alice" and cred.ref == "fields://Acme"
    assert vaults._inbox is None


def test_resolve_many_keeps_its_behaviour(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(item(fields={"totp_identifier": EMAIL}), item("Sec", totp=CANARY_SECRET))
    started = time.monotonic()
    plain, with_secret = vaults.resolve_many(["fields://Acme", "fields://Sec"])
    assert time.monotonic() - started < 5  # never waits on the inbox
    assert isinstance(plain, Credential) and plain.totp is None
    assert isinstance(with_secret, Credential) and with_secret.totp_source == "vault"
    assert vaults._inbox is None


# -- source 3 from the item's field; explicit arguments override ------------------------------
def test_identifier_field_waits_on_the_inbox(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    vaults = make_vaults(item(fields={"totp_identifier": EMAIL}))
    future = background(lambda: vaults.resolve("fields://Acme", timeout=20))
    push_when_waiting(pusher, store_url, "User@Example.com", "Your Acme code is 318 204")
    cred = future.result(20)
    assert cred.totp_source == "inbox"
    assert cred.totp is not None and cred.totp.code == "318204"
    assert cred.totp.digits == 6 and cred.totp.valid_until > time.time() + 500
    assert cred.password is not None and cred.password.get_secret_value() == f"pw-{CANARY}"
    no_leak([repr(cred), str(cred.public_dict())])


def test_explicit_identifier_overrides_the_field(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    vaults = make_vaults(item(fields={"totp_identifier": "field@example.com"}))
    future = background(
        lambda: vaults.resolve("fields://Acme", totp_identifier="arg@example.com", timeout=20)
    )
    wait_for_listeners(store_url)
    pusher.push("field@example.com", "Your code is 111222")
    time.sleep(0.2)
    assert not future.done()  # the field's identifier is not the one waited on
    pusher.push("arg@example.com", "Your code is 333444")
    assert future.result(20).totp.code == "333444"  # type: ignore[union-attr]


def test_explicit_arguments_for_an_item_without_fields(
    make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    vaults = make_vaults(item())
    future = background(lambda: vaults.resolve("fields://Acme", totp_identifier=EMAIL, timeout=20))
    push_when_waiting(pusher, store_url, EMAIL, "Your code is 902211")
    assert future.result(20).totp_source == "inbox"


# -- totp_type ------------------------------------------------------------------------------
def test_authenticator_without_secret_is_no_code(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(item(fields={"totp_type": "authenticator", "totp_identifier": EMAIL}))
    with pytest.raises(NoCode, match=r"'Acme' \(fields\).*authenticator") as caught:
        vaults.resolve("fields://Acme")
    assert not isinstance(caught.value, CodeTimeout) and caught.value.exit_code == 1
    assert vaults._inbox is None


def test_authenticator_ignores_delivery_fields(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(
        item(totp=CANARY_SECRET, fields={"totp_type": "Authenticator", "totp_identifier": EMAIL})
    )
    assert vaults.resolve("fields://Acme").totp_source == "vault"


def test_authenticator_with_an_unusable_secret_keeps_the_login(make_vaults: MakeVaults) -> None:
    hotp = f"otpauth://hotp/A:alice?secret={CANARY_SECRET}&counter=1"
    vaults = make_vaults(item(totp=hotp, fields={"totp_type": "authenticator"}))
    cred = vaults.resolve("fields://Acme")
    assert cred.username == "alice" and cred.totp is None and cred.totp_source is None
    assert cred.totp_error is not None and "HOTP" in cred.totp_error
    assert vaults._inbox is None
    no_leak([cred.totp_error, repr(cred), str(cred.public_dict())], [CANARY_SECRET])


@pytest.mark.parametrize("kind", ["email", "text", "SMS"])
def test_email_or_text_skips_the_vault_secret(
    kind: str, make_vaults: MakeVaults, pusher: Inbox, store_url: str, background: Background
) -> None:
    vaults = make_vaults(
        item(totp=CANARY_SECRET, fields={"totp_type": kind, "totp_identifier": "+1 555 010 0100"})
    )
    future = background(lambda: vaults.resolve("fields://Acme", timeout=20))
    wait_for_listeners(store_url)
    pusher.push("+15550100100", "Acme: 552 019 is your code", source="sms")
    cred = future.result(20)
    assert (cred.totp_source, cred.totp.code) == ("inbox", "552019")  # type: ignore[union-attr]


def test_explicit_type_overrides_the_field(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(item(totp=CANARY_SECRET, fields={"totp_type": "email"}))
    assert vaults.resolve("fields://Acme", totp_type="authenticator").totp_source == "vault"


def test_email_type_needs_somewhere_to_get_the_code(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(item(fields={"totp_type": "email"}))
    with pytest.raises(ConfigurationError, match="no totp_identifier or totp_url") as caught:
        vaults.resolve("fields://Acme")
    assert caught.value.exit_code == 2


def test_unknown_type_is_a_configuration_error(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(item(totp=CANARY_SECRET, fields={"totp_type": "pigeon"}))
    with pytest.raises(ConfigurationError, match=r"'Acme' \(fields\) has totp_type 'pigeon'"):
        vaults.resolve("fields://Acme")
    assert parse_totp_type(" Phone ") == "text" and parse_totp_type("") is None


# -- source 2 before source 3 -----------------------------------------------------------------
def test_pull_endpoint_comes_before_the_inbox(
    make_vaults: MakeVaults, pusher: Inbox, pull_endpoint: PullEndpoint
) -> None:
    pull_endpoint.answers = [(200, {"verification_code": "771204"})]
    vaults = make_vaults(
        item(fields={"totp_identifier": EMAIL, "totp_url": pull_endpoint.url}),
        env={"VAULTS_PULL_API_KEY": PULL_KEY},
    )
    cred = vaults.resolve("fields://Acme", timeout=10)
    assert (cred.totp_source, cred.totp.code) == ("pull", "771204")  # type: ignore[union-attr]
    assert pull_endpoint.seen[0].data["totp_identifier"] == EMAIL  # sent to the endpoint
    assert vaults._inbox is None  # the inbox was never consulted


def test_plan_reads_fields_case_insensitively_and_strips() -> None:
    cred = Credential(vault="v", id="1", name="n")
    cred.fields = [
        *cred.fields,
        *Credential.model_validate(
            {
                "vault": "v",
                "id": "1",
                "name": "n",
                "fields": [
                    {"name": "TOTP_Identifier", "value": "  a@example.com "},
                    {"name": "totp_url", "value": "   "},
                ],
            }
        ).fields,
    ]
    plan = plan_delivery(cred)
    assert plan is not None and (plan.source, plan.identifier) == ("inbox", "a@example.com")
    blank = plan_delivery(cred, totp_identifier="  ")
    assert blank is not None and blank.identifier == "a@example.com"  # blank = not given


def test_a_plain_resolve_imports_no_inbox_or_pull_code() -> None:
    import subprocess
    import sys

    script = """
import sys
from pydantic import SecretStr
from vaults.backend import VaultBackend
from vaults.models import Credential, CustomField
from vaults.resolver import Vaults
from vaults.testing.hosts import make_test_host
from vaults.totp import parse_secret

class Backend(VaultBackend):
    scheme = "fields"
    def fetch(self, ref):
        field = CustomField(name="totp_identifier", value=SecretStr("a@b.c"))
        secret = parse_secret("JBSWY3DPEHPK3PXP") if ref.path == "A" else None
        return Credential(vault="fields", id=ref.path, name=ref.path, fields=[field] * (
            ref.path == "A"), totp_secret=secret)

with Vaults(make_test_host(), env={}, backends=[Backend()]) as vaults:
    assert vaults.resolve("fields://A").totp_source == "vault"
    assert vaults.resolve("fields://B").totp is None
loaded = sorted(m for m in sys.modules if m.startswith(("vaults.codes", "httpx")))
print(",".join(loaded))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def test_the_waited_on_endpoint_is_shown_without_secrets() -> None:
    from vaults.delivery import DeliveryPlan

    plan = DeliveryPlan(source="pull", identifier=None, url="https://u:tok@codes.example/x?t=tok")
    assert plan.target == "https://codes.example/x"
    assert DeliveryPlan(source="pull", identifier=None, url="https://h:99999/x").target == (
        "(a malformed URL)"
    )
