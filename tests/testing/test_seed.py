"""The standard seed really exercises what the contract claims to check."""

from __future__ import annotations

import pytest

from vaults.testing import CANARY, FROZEN_TIME, MISSING_NAME, SHARED_NAME, STANDARD_SEED
from vaults.testing.seed import secrets_of, seed_by_key
from vaults.totp import code_at, code_for_entry


def test_keys_are_unique_and_names_are_plain_reference_paths() -> None:
    keys = [item.key for item in STANDARD_SEED]
    assert len(set(keys)) == len(keys)
    for item in STANDARD_SEED:
        assert not set("/?#%") & set(item.name), item.key
        assert item.name == item.name.strip()


def test_every_secret_carries_the_canary() -> None:
    for item in STANDARD_SEED:
        assert item.password and CANARY in item.password, item.key
        if item.totp:
            assert CANARY in item.totp, item.key
    assert CANARY.isalpha() and CANARY.isupper()  # valid base32, so TOTP secrets can hold it


def test_prefix_pair_is_stored_longer_first() -> None:
    keys = [item.key for item in STANDARD_SEED]
    items = seed_by_key()
    assert items["github_enterprise"].name.startswith(items["github"].name + " ")
    assert keys.index("github_enterprise") < keys.index("github")


def test_two_items_share_a_name_and_differ_otherwise() -> None:
    shared = [item for item in STANDARD_SEED if item.name == SHARED_NAME]
    assert [item.key for item in shared] == ["shared_1", "shared_2"]
    assert shared[0].username != shared[1].username
    assert shared[0].password != shared[1].password


def test_missing_name_is_unrelated_to_every_name() -> None:
    for item in STANDARD_SEED:
        assert not item.name.startswith(MISSING_NAME) and not MISSING_NAME.startswith(item.name)


def test_unicode_and_punctuation_are_present() -> None:
    item = seed_by_key()["unicode"]
    assert any(ord(c) > 0x3000 for c in item.name) and '"' in item.name and "&" in item.name
    assert item.password is not None
    assert all(c in item.password for c in "\\\"'$;&|")
    assert any(ord(c) > 127 for c in item.username or "")


def test_totp_formats_and_distinct_codes() -> None:
    items = seed_by_key()
    assert items["github"].totp and items["github"].totp.isalnum()
    assert items["acme"].totp and items["acme"].totp.startswith("otpauth://totp/")
    assert items["steam"].totp and items["steam"].totp.startswith("steam://")
    acme = items["acme"].totp_secret()
    assert acme is not None and (acme.algorithm, acme.digits) == ("SHA256", 8)
    steam = items["steam"].totp_secret()
    assert steam is not None and steam.encoder == "steam"
    secrets = [item.totp_secret() for item in STANDARD_SEED if item.totp]
    values = {s.secret.get_secret_value() for s in secrets if s}
    assert len(values) == len(secrets)
    # the contract's two windows give different codes, so a constant code cannot pass
    for secret in secrets:
        assert secret is not None
        first = code_for_entry(secret, FROZEN_TIME).code
        second = code_for_entry(secret, FROZEN_TIME + 3 * secret.period + 15).code
        assert first != second


@pytest.mark.parametrize("key", ["github", "acme", "steam"])
def test_totp_uri_gives_the_same_codes(key: str) -> None:
    item = seed_by_key()[key]
    uri = item.totp_uri()
    assert uri is not None and uri.startswith("otpauth://totp/")
    for at in (FROZEN_TIME, FROZEN_TIME + 1000):
        assert code_at(uri, at).code == code_at(item.totp or "", at).code


def test_items_without_totp() -> None:
    item = seed_by_key()["unicode"]
    assert item.totp is None and item.totp_secret() is None and item.totp_uri() is None


def test_repr_hides_the_secrets() -> None:
    for item in STANDARD_SEED:
        assert CANARY not in repr(item)


def test_secrets_of_labels_every_secret() -> None:
    labels = secrets_of()
    assert labels[CANARY].startswith("canary")
    github = seed_by_key()["github"]
    assert labels[github.password or ""] == "password of 'github'"
    assert labels[github.totp or ""] == "stored TOTP secret of 'github'"
    acme = seed_by_key()["acme"].totp_secret()
    assert acme is not None
    assert labels[acme.secret.get_secret_value()] == "TOTP secret of 'acme'"
