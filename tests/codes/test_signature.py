"""x-vaults-signature v2: ``t=<unix>,v1=<hex HMAC-SHA256 of "t.METHOD.URL.body">``.

Findings of issue 12 this pins: the old signature covered the body only (a request signed for
one endpoint replayed to another for 300 s), timestamps 290 s in the future passed, and an
empty key verified a forged signature."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from pydantic import SecretStr

from vaults.codes import sign_request, verify_signature
from vaults.codes.signature import canonical_url
from vaults.errors import ConfigurationError, InvalidInput

KEY = "k3y-canary-5521"
NOW = 1_800_000_000
URL = "https://me.example/codes"


def body_at(stamp: float | None, **extra: object) -> bytes:
    data: dict[str, object] = {"task_id": "t1", **extra}
    if stamp is not None:
        data["timestamp"] = stamp
    return json.dumps(data).encode()


def test_the_signature_matches_openssl() -> None:
    """The MAC as an independent implementation computes it (openssl's HMAC)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    body = body_at(NOW)
    message = f"{NOW}.POST.{URL}.".encode() + body
    out = subprocess.run(
        [openssl, "dgst", "-sha256", "-hmac", KEY],
        input=message,
        capture_output=True,
        check=True,
    ).stdout.decode()
    expected = out.strip().rsplit(" ", 1)[-1]
    assert sign_request(body, KEY, url=URL, timestamp=NOW) == f"t={NOW},v1={expected}"
    assert sign_request(body, SecretStr(KEY), url=URL, timestamp=NOW) == f"t={NOW},v1={expected}"


def test_a_fresh_signature_verifies() -> None:
    body = body_at(NOW)
    header = sign_request(body, KEY, url=URL, timestamp=NOW)
    assert verify_signature(body, header, KEY, url=URL, now=NOW)
    assert verify_signature(
        body.decode(),
        header.upper().replace("T=", "t=").replace("V1=", "v1="),
        SecretStr(KEY),
        url=URL,
        now=NOW + 299,
    )


def test_another_url_or_method_is_refused() -> None:
    body = body_at(NOW)
    header = sign_request(body, KEY, url=URL, timestamp=NOW)
    for other in (
        "https://me.example/codes2",
        "https://me.example/codes?x=1",
        "https://attacker.example/codes",
        "http://me.example/codes",
        "https://me.example:8443/codes",
    ):
        assert not verify_signature(body, header, KEY, url=other, now=NOW), other
    assert not verify_signature(body, header, KEY, url=URL, method="PUT", now=NOW)


def test_the_same_url_written_differently_verifies() -> None:
    body = body_at(NOW)
    header = sign_request(body, KEY, url="HTTPS://Me.Example:443/codes#frag", timestamp=NOW)
    assert verify_signature(body, header, KEY, url=URL, now=NOW)
    assert canonical_url("http://user:pw@Host.example:80") == "http://host.example/"
    assert canonical_url("http://[::1]:8080/x?a=1") == "http://[::1]:8080/x?a=1"


def test_replays_and_future_timestamps_are_refused() -> None:
    body = body_at(NOW)
    header = sign_request(body, KEY, url=URL, timestamp=NOW)
    assert not verify_signature(body, header, KEY, url=URL, now=NOW + 301)
    assert verify_signature(body, header, KEY, url=URL, now=NOW + 7000, max_age=7200)
    assert verify_signature(body, header, KEY, url=URL, now=NOW - 30)
    assert not verify_signature(body, header, KEY, url=URL, now=NOW - 31)  # 31 s in the future
    assert not verify_signature(body, header, KEY, url=URL, now=NOW - 290)
    assert verify_signature(body, header, KEY, url=URL, now=NOW - 60, max_skew=60)


def test_a_tampered_body_or_timestamp_is_refused() -> None:
    body = body_at(NOW)
    header = sign_request(body, KEY, url=URL, timestamp=NOW)
    assert not verify_signature(body + b" ", header, KEY, url=URL, now=NOW)
    assert not verify_signature(body_at(NOW, task_id="t2"), header, KEY, url=URL, now=NOW)
    moved = header.replace(f"t={NOW}", f"t={NOW + 100}")
    assert not verify_signature(body, moved, KEY, url=URL, now=NOW + 100)
    assert not verify_signature(body, header, "another-key-1234", url=URL, now=NOW)


def test_an_empty_key_is_a_configuration_error() -> None:
    body = body_at(NOW)
    forged = sign_request(body, "x", url=URL, timestamp=NOW)
    for key in ("", SecretStr("")):
        with pytest.raises(ConfigurationError):
            verify_signature(body, forged, key, url=URL, now=NOW)
        with pytest.raises(ConfigurationError):
            sign_request(body, key, url=URL)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "0" * 64,  # the old, body-only format
        f"v1={'0' * 64}",
        f"t={NOW}",
        f"t={NOW},t={NOW},v1={'0' * 64}",
        f"t=-{NOW},v1={'0' * 64}",
        f"t={NOW}.5,v1={'0' * 64}",
        "t=１２３,v1=00",
        "garbage",
        "t=1," + "v1=00," * 2000,
    ],
)
def test_malformed_headers_are_refused(header: str | None) -> None:
    assert not verify_signature(body_at(NOW), header, KEY, url=URL, now=NOW)


def test_several_v1_entries_one_matching_is_enough() -> None:
    body = body_at(NOW)
    good = sign_request(body, KEY, url=URL, timestamp=NOW)
    old = sign_request(body, "the-previous-key-9", url=URL, timestamp=NOW).split(",")[1]
    assert verify_signature(body, f"{good},{old}", KEY, url=URL, now=NOW)
    assert verify_signature(body, f"t={NOW},{old},{good.split(',')[1]}", KEY, url=URL, now=NOW)


def test_signing_a_malformed_url_is_invalid_input() -> None:
    for url in ("ftp://me.example/x", "https://", "http://[::1/x", "http://h:99999/"):
        with pytest.raises(InvalidInput):
            sign_request(b"{}", KEY, url=url)
        assert not verify_signature(b"{}", f"t={NOW},v1=00", KEY, url=url, now=NOW)
