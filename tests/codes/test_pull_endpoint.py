"""Pulling codes from a user's endpoint: a real HTTP server on 127.0.0.1 that checks the
signature the documented way."""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import anyio
import pytest

import vaults.codes.pull_endpoint as pull_module
from vaults.codes import apull, pull
from vaults.errors import AuthenticationFailed, CodeTimeout, InvalidInput, VaultUnavailable
from vaults.host import PluginHost
from vaults.testing.leaks import assert_no_leak, error_texts


def test_pull_returns_the_code_from_a_signed_request(
    pull_endpoint: Any, codes_host: PluginHost
) -> None:
    pull_endpoint.answers = [(200, {"task_id": "t1", "verification_code": "482913"})]
    found = pull(
        pull_endpoint.url,
        pull_endpoint.api_key,
        task_id="t1",
        workflow_run_id="wr_9",
        totp_identifier="user@example.com",
        interval=0.05,
        timeout=5,
        host=codes_host,
    )
    assert (found.otp_type, found.value) == ("totp", "482913")
    [seen] = pull_endpoint.seen
    assert seen.signature_ok
    body = json.loads(seen.body)
    assert body["task_id"] == "t1"
    assert body["workflow_run_id"] == "wr_9"
    assert body["totp_identifier"] == "user@example.com"
    assert abs(body["timestamp"] - time.time()) < 5
    assert isinstance(body["timestamp"], int)
    assert seen.headers["content-type"] == "application/json"


def test_pull_polls_until_the_endpoint_has_a_code(
    pull_endpoint: Any, codes_host: PluginHost
) -> None:
    pull_endpoint.answers = [
        (200, {"task_id": "t1"}),
        (200, {"verification_code": ""}),
        (200, {"verification_code": None}),
        (200, b"not json"),
        (200, {"verification_code": 613370}),
    ]
    found = pull(
        pull_endpoint.url, pull_endpoint.api_key, interval=0.05, timeout=5, host=codes_host
    )
    assert found.value == "613370"
    assert len(pull_endpoint.seen) == 5
    gaps = [b.at - a.at for a, b in itertools.pairwise(pull_endpoint.seen)]
    assert all(gap >= 0.045 for gap in gaps)
    assert all(seen.signature_ok for seen in pull_endpoint.seen)
    # every request is signed afresh with its own timestamp
    stamps = [json.loads(seen.body)["timestamp"] for seen in pull_endpoint.seen]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize(
    ("answer", "otp_type", "value"),
    [
        ("AB12-CD", "totp", "AB12-CD"),
        ("  905118 ", "totp", "905118"),
        ("Your Acme verification code is 905118. Don't share it.", "totp", "905118"),
        (
            "Click the link below to sign in to Acme:\n"
            "https://acme.example.com/auth/magic-link?token=Q2x9ZkLmN0pRt5Yw8aB3",
            "magic_link",
            "https://acme.example.com/auth/magic-link?token=Q2x9ZkLmN0pRt5Yw8aB3",
        ),
    ],
)
def test_long_answers_go_through_extraction(
    pull_endpoint: Any, codes_host: PluginHost, answer: str, otp_type: str, value: str
) -> None:
    pull_endpoint.answers = [(200, {"verification_code": answer})]
    found = pull(
        pull_endpoint.url, pull_endpoint.api_key, interval=0.05, timeout=5, host=codes_host
    )
    assert (found.otp_type, found.value) == (otp_type, value)


def test_errors_and_5xx_are_retried_with_backoff(
    pull_endpoint: Any, codes_host: PluginHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pull_module, "_FIRST_BACKOFF", 0.05)
    pull_endpoint.answers = [
        (503, {}),
        "drop",
        (500, {}),
        (502, {}),
        (200, {"verification_code": "111222"}),
    ]
    found = pull(pull_endpoint.url, pull_endpoint.api_key, interval=5, timeout=10, host=codes_host)
    assert found.value == "111222"
    times = [seen.at for seen in pull_endpoint.seen]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) == 4
    # at least 0.05, 0.1, 0.2, 0.4 s (doubling), and far below the 5 s interval
    for number, gap in enumerate(gaps):
        assert gap >= 0.05 * 2**number * 0.95, gaps
    assert max(gaps) < 2.5, gaps


KEY_CANARY = "key-canary-0x81"
URL_TOKEN_CANARY = "url-token-canary-55"


def test_an_unreachable_endpoint_is_vault_unavailable(
    free_port: int, codes_host: PluginHost
) -> None:
    url = f"http://127.0.0.1:{free_port}/totp?token={URL_TOKEN_CANARY}"
    started = time.monotonic()
    with pytest.raises(VaultUnavailable) as caught:
        pull(url, KEY_CANARY, interval=0.05, timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 3
    assert caught.value.exit_code == 4
    assert "could not be reached" in str(caught.value)
    assert_no_leak(error_texts("pull error", caught.value), [KEY_CANARY, URL_TOKEN_CANARY])


def test_no_code_in_time_is_code_timeout(pull_endpoint: Any, codes_host: PluginHost) -> None:
    pull_endpoint.answers = [(200, {"verification_code": ""})]
    started = time.monotonic()
    with pytest.raises(CodeTimeout) as caught:
        pull(pull_endpoint.url, pull_endpoint.api_key, interval=0.05, timeout=0.25, host=codes_host)
    assert 0.25 <= time.monotonic() - started < 2
    assert caught.value.exit_code == 1
    assert len(pull_endpoint.seen) >= 3


def test_a_wrong_key_is_authentication_failed(pull_endpoint: Any) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        pull(pull_endpoint.url, KEY_CANARY, interval=0.05, timeout=5)
    assert len(pull_endpoint.seen) == 1  # not retried
    assert not pull_endpoint.seen[0].signature_ok
    assert_no_leak(error_texts("pull error", caught.value), [KEY_CANARY])


def test_other_4xx_are_not_retried(pull_endpoint: Any) -> None:
    pull_endpoint.answers = [(404, {"detail": "no such route"})]
    with pytest.raises(VaultUnavailable, match="HTTP 404"):
        pull(pull_endpoint.url, pull_endpoint.api_key, interval=0.05, timeout=5)
    assert len(pull_endpoint.seen) == 1


def test_the_api_key_is_never_sent(pull_endpoint: Any, codes_host: PluginHost) -> None:
    pull_endpoint.answers = [(200, {"verification_code": "482913"})]
    pull(pull_endpoint.url, pull_endpoint.api_key, timeout=5, host=codes_host)
    [seen] = pull_endpoint.seen
    assert pull_endpoint.api_key.encode() not in seen.body
    assert all(pull_endpoint.api_key not in v for v in seen.headers.values())


@pytest.mark.parametrize(
    ("url", "key"),
    [("ftp://127.0.0.1/x", "k"), ("not a url", "k"), ("http:///path", "k"), ("http://h/x", "")],
)
def test_bad_pull_arguments(url: str, key: str) -> None:
    with pytest.raises(InvalidInput):
        pull(url, key, timeout=1)


@pytest.mark.parametrize("kwargs", [{"interval": 0}, {"timeout": -1}, {"interval": float("inf")}])
def test_bad_pull_durations(pull_endpoint: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        pull(pull_endpoint.url, pull_endpoint.api_key, **kwargs)


def test_apull(pull_endpoint: Any, codes_host: PluginHost) -> None:
    pull_endpoint.answers = [(503, {}), (200, {}), (200, {"verification_code": "770011"})]

    async def main() -> str:
        found = await apull(
            pull_endpoint.url, pull_endpoint.api_key, interval=0.05, timeout=5, host=codes_host
        )
        return found.value

    assert anyio.run(main) == "770011"
    assert [seen.signature_ok for seen in pull_endpoint.seen] == [True, True, True]


def test_apull_times_out(pull_endpoint: Any) -> None:
    async def main() -> None:
        await apull(pull_endpoint.url, pull_endpoint.api_key, interval=0.05, timeout=0.2)

    with pytest.raises(CodeTimeout):
        anyio.run(main)


@pytest.mark.parametrize(
    ("answer", "value"),
    [("550 127", "550127"), ("550-127", "550127"), (" K7Q2ZP ", "K7Q2ZP"), ("K7 Q2", "K7 Q2")],
)
def test_short_answers_are_the_code_with_separators_removed(
    pull_endpoint: Any, codes_host: PluginHost, answer: str, value: str
) -> None:
    pull_endpoint.answers = [(200, {"verification_code": answer})]
    found = pull(
        pull_endpoint.url, pull_endpoint.api_key, interval=0.05, timeout=5, host=codes_host
    )
    assert (found.otp_type, found.value) == ("totp", value)


def test_pull_once_asks_one_signed_request(
    pull_endpoint: Any, codes_host: PluginHost, caplog: pytest.LogCaptureFixture
) -> None:
    from vaults.codes import pull_endpoint as module

    caplog.set_level("DEBUG")
    url = f"{pull_endpoint.url}?token=tok-canary-51f0"
    pull_endpoint.answers = [(200, {"verification_code": ""})]
    assert module.pull_once(url, pull_endpoint.api_key, totp_identifier="u@x.example") is None
    pull_endpoint.answers = [(200, {"verification_code": "550 127"})]
    found = module.pull_once(url, pull_endpoint.api_key, host=codes_host)
    assert found is not None and found.value == "550127"
    pull_endpoint.answers = [(200, {"verification_code": "604218"})]
    found = anyio.run(lambda: module.apull_once(url, pull_endpoint.api_key, host=codes_host))
    assert found is not None and found.value == "604218"
    assert len(pull_endpoint.seen) == 3 and all(seen.signature_ok for seen in pull_endpoint.seen)
    assert "tok-canary-51f0" not in caplog.text  # httpx's request log line hides the query


def test_pull_once_errors_are_typed_and_not_retried(pull_endpoint: Any) -> None:
    from vaults.codes import pull_endpoint as module

    pull_endpoint.answers = [(503, {})]
    with pytest.raises(VaultUnavailable, match="HTTP 503"):
        module.pull_once(pull_endpoint.url, pull_endpoint.api_key)
    assert len(pull_endpoint.seen) == 1
    with pytest.raises(AuthenticationFailed):
        module.pull_once(pull_endpoint.url, "wrong-key")
    with pytest.raises(VaultUnavailable, match="could not be reached"):
        module.pull_once("http://127.0.0.1:9/totp", pull_endpoint.api_key, request_timeout=2)


def test_a_malformed_pull_url_is_invalid_input_not_a_crash() -> None:
    from vaults.codes import pull_once

    for url in ("http://127.0.0.1:99999/totp", "http://pull.example:notaport/totp"):
        with pytest.raises(InvalidInput, match="malformed"):
            pull_once(url, "key")
        with pytest.raises(InvalidInput, match="malformed"):
            pull(url, "key", timeout=0)
