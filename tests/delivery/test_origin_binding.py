"""Origin binding (issue 12): a forged magic link or an origin-bound code for another site
never reaches the login; it is skipped with a warning (without its value) and the wait goes
on. ``allow_foreign_links`` opts out; codes without an origin are unaffected."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import Future

import pytest

from tests.delivery.conftest import CANARY, FieldItem, PullEndpoint, wait_for_listeners
from vaults.codes.binding import SiteBinding, registrable_domain
from vaults.codes.inbox import Inbox
from vaults.errors import CodeTimeout
from vaults.models import Credential
from vaults.resolver import Vaults

MakeVaults = Callable[..., Vaults]
Background = Callable[[Callable[[], Credential]], "Future[Credential]"]

EMAIL = "user@example.com"
ACME = FieldItem(
    id="acme-1",
    name="Acme",
    username="alice",
    password=f"pw-{CANARY}",
    fields={"totp_identifier": EMAIL},
    uris=("https://login.acme.co.uk/signin", "androidapp://uk.co.acme"),
)
PHISH = "Sign in to Acme:\nhttps://acme.co.uk.evil.example/magic?token=PHISHtoken0123456789"
REAL = "Sign in to Acme:\nhttps://www.acme.co.uk/magic?token=REALtoken01234567890"


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("login.acme.co.uk", "acme.co.uk"),
        ("ACME.CO.UK.", "acme.co.uk"),
        ("alice.github.io", "alice.github.io"),  # a private suffix: users' own sites
        ("co.uk", None),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("localhost", "localhost"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_registrable_domains(host: str, domain: str | None) -> None:
    assert registrable_domain(host) == domain


def test_an_item_without_web_uris_binds_nothing() -> None:
    assert SiteBinding.for_uris([]) is None
    assert SiteBinding.for_uris(["androidapp://com.acme", "  "]) is None
    assert SiteBinding.for_uris(["acme.com/login"]) == SiteBinding(frozenset({"acme.com"}))


def test_a_forged_magic_link_is_skipped_and_the_wait_goes_on(
    make_vaults: MakeVaults,
    pusher: Inbox,
    store_url: str,
    background: Background,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    vaults = make_vaults(ACME)
    future = background(lambda: vaults.resolve("fields://Acme", timeout=20))
    wait_for_listeners(store_url)
    pusher.push(EMAIL, PHISH)  # newest wins... unless it is for another site
    time.sleep(0.3)
    assert not future.done()
    pusher.push(EMAIL, "SMS: Your Acme code is 424242\n\n@evil.example #999000")
    time.sleep(0.3)
    assert not future.done()
    pusher.push(EMAIL, REAL)
    cred = future.result(20)
    assert cred.magic_link == "https://www.acme.co.uk/magic?token=REALtoken01234567890"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("magic link for evil.example" in w for w in warnings), warnings
    assert any("code bound for evil.example" in w for w in warnings), warnings
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "PHISHtoken" not in logged and "999000" not in logged


def test_codes_without_an_origin_and_own_site_codes_pass(
    make_vaults: MakeVaults, pusher: Inbox
) -> None:
    since = time.time() - 1
    vaults = make_vaults(ACME)
    pusher.push(EMAIL, "Your Acme code is 482913")
    assert vaults.resolve("fields://Acme", timeout=5, since=since).totp.code == "482913"  # type: ignore[union-attr]
    pusher.push(EMAIL, "Your Acme code is 424242\n\n@login.acme.co.uk #583920")
    assert vaults.resolve("fields://Acme", timeout=5, since=since).totp.code == "583920"  # type: ignore[union-attr]


def test_only_foreign_codes_time_out(make_vaults: MakeVaults, pusher: Inbox) -> None:
    since = time.time() - 1
    pusher.push(EMAIL, PHISH)
    with pytest.raises(CodeTimeout):
        make_vaults(ACME).resolve("fields://Acme", timeout=0.5, since=since)


def test_allow_foreign_links_opts_out(make_vaults: MakeVaults, pusher: Inbox) -> None:
    since = time.time() - 1
    pusher.push(EMAIL, PHISH)
    vaults = make_vaults(ACME, allow_foreign_links=True)
    cred = vaults.resolve("fields://Acme", timeout=5, since=since)
    assert cred.magic_link is not None and "evil.example" in cred.magic_link


def test_an_item_without_uris_is_not_bound(make_vaults: MakeVaults, pusher: Inbox) -> None:
    since = time.time() - 1
    pusher.push(EMAIL, PHISH)
    cred = make_vaults(dataclasses.replace(ACME, uris=())).resolve(
        "fields://Acme", timeout=5, since=since
    )
    assert cred.magic_link is not None


def test_a_pull_endpoint_answering_a_foreign_link_is_skipped(
    make_vaults: MakeVaults, pull_endpoint: PullEndpoint
) -> None:
    pull_endpoint.answers = [
        (200, {"verification_code": PHISH}),
        (200, {"verification_code": "Your code\n\n@evil.example #999000"}),
        (200, {"verification_code": REAL}),
    ]
    item = dataclasses.replace(
        ACME, fields={"totp_url": pull_endpoint.url, "totp_api_key": pull_endpoint.api_key}
    )
    cred = make_vaults(item, pull_interval=0.05).resolve("fields://Acme", timeout=10)
    assert cred.magic_link is not None and "REALtoken" in cred.magic_link
    assert len(pull_endpoint.seen) == 3
