"""x-vaults-signature: HMAC-SHA256 over the exact body bytes, plus the timestamp check."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from pydantic import SecretStr

from vaults.codes import sign_body, verify_signature

KEY = "k3y-canary-5521"
NOW = 1_800_000_000


def body_at(stamp: float | None, **extra: object) -> bytes:
    data: dict[str, object] = {"task_id": "t1", **extra}
    if stamp is not None:
        data["timestamp"] = stamp
    return json.dumps(data).encode()


def test_signature_is_hex_hmac_sha256_of_the_body() -> None:
    body = body_at(NOW)
    expected = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    assert sign_body(body, KEY) == expected
    assert sign_body(body, SecretStr(KEY)) == expected


def test_valid_fresh_request_is_accepted() -> None:
    body = body_at(NOW - 10)
    assert verify_signature(body, sign_body(body, KEY), KEY, now=NOW)
    assert verify_signature(body.decode(), sign_body(body, KEY).upper(), SecretStr(KEY), now=NOW)


@pytest.mark.parametrize(
    ("header", "key"),
    [(None, KEY), ("", KEY), ("00" * 32, KEY), ("not hex ü", KEY), ("SIGNED", "other-key")],
)
def test_wrong_or_missing_signature_is_refused(header: str | None, key: str) -> None:
    body = body_at(NOW)
    if header == "SIGNED":
        header = sign_body(body, KEY)
    assert not verify_signature(body, header, key, now=NOW)


def test_a_changed_body_is_refused() -> None:
    body = body_at(NOW)
    signature = sign_body(body, KEY)
    tampered = body_at(NOW, task_id="t2")
    assert not verify_signature(tampered, signature, KEY, now=NOW)
    # whitespace matters: the signature covers the exact bytes
    assert not verify_signature(body + b" ", signature, KEY, now=NOW)


@pytest.mark.parametrize("stamp", [NOW - 301, NOW + 301, None, "1800000000", True, float("inf")])
def test_stale_future_or_missing_timestamps_are_refused(stamp: object) -> None:
    data = {"task_id": "t1", "timestamp": stamp} if stamp is not None else {"task_id": "t1"}
    body = json.dumps(data).encode()
    assert not verify_signature(body, sign_body(body, KEY), KEY, now=NOW)


def test_max_age_is_configurable_and_can_be_disabled() -> None:
    body = body_at(NOW - 3600)
    signature = sign_body(body, KEY)
    assert not verify_signature(body, signature, KEY, now=NOW)
    assert verify_signature(body, signature, KEY, max_age=7200, now=NOW)
    assert verify_signature(body, signature, KEY, max_age=None, now=NOW)
    assert verify_signature(b"not json", sign_body(b"not json", KEY), KEY, max_age=None)
    assert not verify_signature(b"not json", sign_body(b"not json", KEY), KEY)
    assert not verify_signature(b"[1]", sign_body(b"[1]", KEY), KEY)
