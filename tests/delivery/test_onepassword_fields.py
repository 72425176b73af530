"""A 1Password item declares its own delivery: ``totp_type`` = ``email`` and a
``totp_identifier`` field make resolve skip the item's OTP secret and wait on the inbox; read
through the real plugin over the Connect test server on 127.0.0.1."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from tests.delivery.conftest import CANARY, no_leak, wait_for_listeners
from vaults.codes.inbox import Inbox
from vaults.host import make_host
from vaults.models import Credential
from vaults.resolver import Vaults

seed_module = pytest.importorskip("vaults_onepassword.testing.seed")
server_module = pytest.importorskip("vaults_onepassword.testing.connect_server")

EMAIL = "ops@example.com"
Background = Callable[[Callable[[], Credential]], "Future[Credential]"]


@pytest.fixture
def connect_env() -> Iterator[dict[str, str]]:
    seed: dict[str, Any] = seed_module.default_seed()
    field, otp_field = seed_module.field, seed_module.otp_field
    item = seed_module.login_item(
        "Acme Delivery",
        "ops@example.com",
        f"pw-{CANARY}",
        extra_fields=[
            otp_field(seed_module.base32_secret("delivery"), key="delivery"),
            field("tid", "totp_identifier", EMAIL),
            field("ttype", "totp_type", "email"),
        ],
    )
    personal = next(v for v in seed["vaults"] if v["name"] == "Personal")
    personal["items"].append(item)
    with server_module.ConnectServer(seed) as server:
        yield {
            "OP_CONNECT_HOST": server.url,
            "OP_CONNECT_TOKEN": seed_module.token_for(seed, "connect"),
            "VAULTS_LOAD_PLUGINS": "onepassword",
            "VAULTS_ONEPASSWORD_TRANSPORT": "connect",
        }


def test_item_fields_route_the_code_to_the_inbox(
    connect_env: dict[str, str], pusher: Inbox, store_url: str, background: Background
) -> None:
    env = {**connect_env, "VAULTS_STORE": store_url}
    with Vaults(make_host(env=env), env=env) as vaults:
        plain = vaults.resolve("op://Personal/GitHub")
        assert plain.totp_source == "vault" and vaults._inbox is None
        future = background(lambda: vaults.resolve("op://Personal/Acme Delivery", timeout=20))
        wait_for_listeners(store_url)
        pushed = time.monotonic()
        pusher.push(EMAIL, "Acme: your one-time code is 846 213", source="email")
        cred = future.result(20)
        latency = time.monotonic() - pushed
    assert (cred.vault, cred.username) == ("op", "ops@example.com")
    assert (cred.totp_source, cred.totp.code) == ("inbox", "846213")  # type: ignore[union-attr]
    assert latency < 2
    no_leak([repr(cred), str(cred.public_dict())])
