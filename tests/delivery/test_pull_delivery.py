"""Codes from the user's pull endpoint: a real HTTP server on 127.0.0.1 that checks every
request with ``verify_signature``; the API key from the environment or a hidden item field,
never shown; magic links; single requests for ``wait=False``; async."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest

from tests.delivery.conftest import CANARY, PULL_KEY, FieldItem, PullEndpoint, no_leak
from vaults.codes import verify_signature
from vaults.delivery import Waiting
from vaults.errors import AuthenticationFailed, CodeTimeout, ConfigurationError, VaultUnavailable
from vaults.models import Credential
from vaults.resolver import Vaults

MakeVaults = Callable[..., Vaults]
EMAIL = "user@example.com"
ENV = {"VAULTS_PULL_API_KEY": PULL_KEY}


def acme(url: str, **fields: str) -> FieldItem:
    return FieldItem(
        id="acme-1",
        name="Acme",
        username="alice",
        password=f"pw-{CANARY}",
        fields={"totp_url": url, **fields},
        hidden=frozenset({"totp_api_key"}),
    )


def test_signed_pull_returns_the_code_after_a_few_polls(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    pull_endpoint.answers = [
        (200, {}),
        (200, {"verification_code": ""}),
        (200, {"verification_code": 482913}),
    ]
    seen: list[Waiting] = []
    vaults = make_vaults(
        acme(pull_endpoint.url, totp_identifier=EMAIL), env=ENV, pull_interval=0.05
    )
    before = time.time()
    cred = vaults.resolve("fields://Acme", timeout=10, on_wait=seen.append)
    assert (cred.totp_source, cred.totp.code) == ("pull", "482913")  # type: ignore[union-attr]
    assert cred.totp.valid_from >= int(before)  # type: ignore[union-attr]
    assert len(pull_endpoint.seen) == 3
    for request in pull_endpoint.seen:
        assert request.signature_ok
        header = request.headers["x-vaults-signature"]
        assert verify_signature(request.body, header, PULL_KEY, url=pull_endpoint.url)
        assert not verify_signature(request.body, header, PULL_KEY, url=pull_endpoint.url + "x")
        assert request.data["totp_identifier"] == EMAIL
        assert abs(request.data["timestamp"] - request.at) < 5
    assert seen == [Waiting(source="pull", target=pull_endpoint.url, timeout=10.0)]
    assert seen[0].describe() == f"a code from {pull_endpoint.url} (pull endpoint)"
    assert vaults._inbox is None


def test_explicit_url_and_key_from_a_hidden_field(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    pull_endpoint.answers = [(200, {"verification_code": "550127"})]
    item = FieldItem(
        id="x", name="Acme", fields={"totp_api_key": PULL_KEY}, hidden=frozenset({"totp_api_key"})
    )
    # the environment's key is wrong: the item's own key wins
    vaults = make_vaults(item, env={"VAULTS_PULL_API_KEY": "wrong-key"})
    cred = vaults.resolve("fields://Acme", totp_url=pull_endpoint.url, timeout=10)
    assert cred.totp.code == "550127"  # type: ignore[union-attr]
    assert pull_endpoint.seen[-1].signature_ok
    assert pull_endpoint.seen[-1].data["totp_identifier"] is None


def test_a_visible_api_key_field_is_masked_in_every_output(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    pull_endpoint.answers = [(200, {"verification_code": "123456"})]
    item = FieldItem(
        id="x", name="Acme", fields={"totp_url": pull_endpoint.url, "totp_api_key": PULL_KEY}
    )
    vaults = make_vaults(item)
    cred = vaults.resolve("fields://Acme", timeout=10)
    assert cred.field("totp_api_key").type == "hidden"  # type: ignore[union-attr]
    no_leak([repr(cred), str(cred.public_dict()), cred.model_dump_json()])
    # also when the vault alone answers (no delivery) and in resolve_many
    plain = make_vaults(FieldItem(id="y", name="P", fields={"totp_api_key": PULL_KEY}))
    no_leak([str(plain.resolve("fields://P").public_dict())])
    (many,) = plain.resolve_many(["fields://P"])
    assert isinstance(many, Credential)
    no_leak([str(many.public_dict())])


def test_wrong_key_is_authentication_failed_without_the_key(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    vaults = make_vaults(acme(pull_endpoint.url), env={"VAULTS_PULL_API_KEY": f"bad-{CANARY}"})
    with pytest.raises(AuthenticationFailed) as caught:
        vaults.resolve("fields://Acme", timeout=10)
    message = str(caught.value)
    assert message.startswith("'Acme' (fields): the pull endpoint http://127.0.0.1:")
    assert "HTTP 401" in message and caught.value.exit_code == 3
    no_leak([message, repr(caught.value)])


def test_a_missing_key_is_a_configuration_error(make_vaults: MakeVaults) -> None:
    vaults = make_vaults(acme("http://127.0.0.1:9/codes"))
    with pytest.raises(ConfigurationError, match="VAULTS_PULL_API_KEY or add a hidden field"):
        vaults.resolve("fields://Acme")


def test_pull_timeout_names_the_item_and_the_endpoint(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    vaults = make_vaults(acme(f"{pull_endpoint.url}?token={CANARY}"), env=ENV, pull_interval=0.05)
    with pytest.raises(CodeTimeout) as caught:
        vaults.resolve("fields://Acme", timeout=0.3)
    message = str(caught.value)
    assert message == (
        f"'Acme' (fields): the pull endpoint {pull_endpoint.url} gave no code within 0.3 s"
    )
    no_leak([message])  # the URL's query (it may hold a token) is not shown


def test_a_magic_link_from_the_endpoint(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    mail = (
        "Hello! Use this link to sign in to Acme: "
        "https://acme.example/auth/verify?token=Zm9vYmFyYmF6cXV4MTIz . It expires in 15 minutes."
    )
    pull_endpoint.answers = [(200, {"verification_code": mail})]
    cred = make_vaults(acme(pull_endpoint.url), env=ENV).resolve("fields://Acme", timeout=10)
    assert cred.magic_link == "https://acme.example/auth/verify?token=Zm9vYmFyYmF6cXV4MTIz"
    assert cred.totp is None and cred.totp_source == "pull"


def test_an_email_body_from_the_endpoint_is_read_for_its_code(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    pull_endpoint.answers = [(200, {"verification_code": "Your Acme verification code: 730 419"})]
    cred = make_vaults(acme(pull_endpoint.url), env=ENV).resolve("fields://Acme", timeout=10)
    assert cred.totp.code == "730419"  # type: ignore[union-attr]


def test_wait_false_sends_one_request(make_vaults: MakeVaults, pull_endpoint: PullEndpoint) -> None:
    vaults = make_vaults(acme(pull_endpoint.url), env=ENV)
    cred = vaults.resolve("fields://Acme", wait=False)
    assert cred.totp is None and cred.username == "alice"
    assert len(pull_endpoint.seen) == 1 and pull_endpoint.seen[0].signature_ok
    pull_endpoint.answers = [(200, {"verification_code": "909090"})]
    assert vaults.resolve("fields://Acme", wait=False).totp.code == "909090"  # type: ignore[union-attr]
    pull_endpoint.answers = [(200, {})]
    with pytest.raises(CodeTimeout, match="had no code yet"):
        vaults.resolve("fields://Acme", timeout=0)
    assert len(pull_endpoint.seen) == 3


def test_wait_false_reports_an_endpoint_that_is_down(
    make_vaults: MakeVaults, free_port: int, pull_endpoint: PullEndpoint
) -> None:
    vaults = make_vaults(acme(f"http://127.0.0.1:{free_port}/codes"), env=ENV)
    with pytest.raises(VaultUnavailable, match="could not be reached") as caught:
        vaults.resolve("fields://Acme", wait=False)
    assert caught.value.exit_code == 4
    pull_endpoint.answers = [(503, {})]
    broken = make_vaults(acme(pull_endpoint.url), env=ENV)
    with pytest.raises(VaultUnavailable, match=r"could not answer \(HTTP 503\)"):
        broken.resolve("fields://Acme", wait=False)


def test_apull_path_is_async(make_vaults: MakeVaults, pull_endpoint: PullEndpoint) -> None:
    pull_endpoint.answers = [(200, {}), (200, {}), (200, {"verification_code": "314159"})]
    vaults = make_vaults(acme(pull_endpoint.url, totp_identifier=EMAIL), env=ENV, pull_interval=0.1)

    async def main() -> tuple[Credential, Credential, int, float]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await anyio.sleep(0.01)
                ticks += 1

        async with anyio.create_task_group() as group:
            group.start_soon(ticker)
            cred = await vaults.aresolve("fields://Acme", timeout=10)
            group.cancel_scope.cancel()
        once = await vaults.aresolve("fields://Acme", wait=False)
        pull_endpoint.answers = [(200, {})]
        started = time.monotonic()
        with anyio.move_on_after(0.2):
            await vaults.aresolve("fields://Acme", timeout=60)
        return cred, once, ticks, time.monotonic() - started

    cred, once, ticks, cancelled_after = anyio.run(main)
    assert (cred.totp_source, cred.totp.code) == ("pull", "314159")  # type: ignore[union-attr]
    assert ticks >= 10  # the event loop kept running while the endpoint was polled
    assert once.totp.code == "314159"  # type: ignore[union-attr]
    assert cancelled_after < 3
    assert all(r.signature_ok for r in pull_endpoint.seen)


def test_the_global_key_goes_only_to_allowed_urls(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    """A totp_url planted in a shared item never receives VAULTS_PULL_API_KEY once
    VAULTS_PULL_ALLOWED names the user's own endpoints (issue 12)."""
    pull_endpoint.answers = [(200, {"verification_code": "482913"})]
    fenced = {**ENV, "VAULTS_PULL_ALLOWED": "https://me.example/codes,http://127.0.0.1:1"}
    vaults = make_vaults(acme(pull_endpoint.url), env=fenced)
    with pytest.raises(ConfigurationError, match="VAULTS_PULL_ALLOWED") as caught:
        vaults.resolve("fields://Acme", timeout=5)
    assert PULL_KEY not in str(caught.value)
    assert pull_endpoint.seen == []
    # the item's own key still goes to the item's own URL
    own = make_vaults(acme(pull_endpoint.url, totp_api_key=PULL_KEY), env=fenced)
    assert own.resolve("fields://Acme", timeout=5).totp.code == "482913"  # type: ignore[union-attr]
    # and an allowed prefix lets the global key through
    allowed = {**ENV, "VAULTS_PULL_ALLOWED": pull_endpoint.url.rsplit("/", 1)[0]}
    vaults = make_vaults(acme(pull_endpoint.url), env=allowed)
    assert vaults.resolve("fields://Acme", timeout=5).totp.code == "482913"  # type: ignore[union-attr]
