"""Production crypto (``vaults_bitwarden.native.crypto``) against the Bitwarden SDK's own
test vectors and against tampering."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
from vaults_bitwarden.native.client import kdf_params
from vaults_bitwarden.native.crypto import (
    EncStringError,
    KdfError,
    KdfParams,
    KdfType,
    MacMismatch,
    SymmetricKey,
    UnsupportedEncString,
    decrypt_text,
    decrypt_type2,
    encrypt_text,
    encrypt_type2,
    make_master_key,
    master_password_hash,
    unwrap_symmetric_key,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "bitwarden_sdk_kdf_vectors.json").read_text()
)


@pytest.mark.parametrize("case", VECTORS["master_keys"], ids=lambda c: f"kdf{c['kdf']['type']}")
def test_master_key_matches_the_sdk(case: dict[str, Any]) -> None:
    # KdfParams enforces Bitwarden's minimums, which the SDK's 10 000 / 4-32-2 vectors meet
    key = make_master_key(case["password"], case["salt"], kdf_params(case["kdf"]))
    assert list(key) == case["master_key"]


@pytest.mark.parametrize("case", VECTORS["server_hashes"], ids=lambda c: f"kdf{c['kdf']['type']}")
def test_master_password_hash_matches_the_sdk(case: dict[str, Any]) -> None:
    key = make_master_key(case["password"], case["salt"], kdf_params(case["kdf"]))
    assert master_password_hash(key, case["password"]) == case["hash"]


@pytest.mark.parametrize(
    ("kdf", "problem"),
    [
        ((KdfType.PBKDF2_SHA256, 4999), "PBKDF2 iterations"),
        ((KdfType.PBKDF2_SHA256, 2_000_001), "PBKDF2 iterations"),
        ((KdfType.ARGON2ID, 1, 64, 4), "Argon2id iterations"),
        ((KdfType.ARGON2ID, 3, 15, 4), "Argon2id memory"),
        ((KdfType.ARGON2ID, 3, 2048, 4), "Argon2id memory"),
        ((KdfType.ARGON2ID, 3, 64, 0), "Argon2id parallelism"),
        ((KdfType.ARGON2ID, 3, None, 4), "Argon2id memory"),
    ],
)
def test_kdf_bounds_are_enforced(kdf: tuple[Any, ...], problem: str) -> None:
    with pytest.raises(KdfError, match=problem):
        KdfParams(*kdf)


def test_unknown_kdf_type() -> None:
    with pytest.raises(KdfError, match="unknown KDF type"):
        kdf_params({"type": 7, "iterations": 600000})


def _tamper(enc: str, part: int) -> str:
    parts = enc[2:].split("|")
    raw = bytearray(base64.b64decode(parts[part]))
    raw[0] ^= 1
    parts[part] = base64.b64encode(bytes(raw)).decode()
    return "2." + "|".join(parts)


def test_type2_round_trip_and_tampering() -> None:
    key, other = SymmetricKey.generate(), SymmetricKey.generate()
    enc = encrypt_text(key, "pässwörd 🔑")
    assert enc is not None and enc.startswith("2.")
    assert decrypt_text(key, enc) == "pässwörd 🔑"
    assert encrypt_text(key, None) is None and decrypt_text(key, None) is None
    for part in (0, 1, 2):  # iv, ciphertext, MAC: each is caught by the MAC check first
        with pytest.raises(MacMismatch):
            decrypt_type2(key, _tamper(enc, part))
    with pytest.raises(MacMismatch):
        decrypt_type2(other, enc)


@pytest.mark.parametrize(
    ("enc", "message"),
    [
        ("0.aXZpdml2aXZpdml2aXZpdg==|Y3Q=", "type 0 (AES-256-CBC without a MAC) is refused"),
        ("1.aXY=|Y3Q=|bWFj", "type 1"),
        ("3.cnNh", "type 3"),
        ("7.Y29zZQ==", "type 7 (COSE)"),
        ("9.abc|def", "unknown type 9"),
        ("4.cnNh", "expected a symmetric EncString"),
        ("no type", "not an EncString"),
        ("2.a|b", "three parts"),
        ("2.!!|!!|!!", "not base64"),
    ],
)
def test_refused_enc_strings(enc: str, message: str) -> None:
    with pytest.raises(EncStringError, match=re.escape(message)) as caught:
        decrypt_type2(SymmetricKey.generate(), enc)
    if "type" in message and "symmetric" not in message and "not an" not in message:
        assert isinstance(caught.value, UnsupportedEncString)


def test_unwrapping_needs_a_64_byte_key() -> None:
    key = SymmetricKey.generate()
    assert unwrap_symmetric_key(encrypt_type2(key, b"k" * 64), key).to_bytes() == b"k" * 64
    with pytest.raises(EncStringError, match="64-byte"):
        unwrap_symmetric_key(encrypt_type2(key, b"k" * 32), key)
    with pytest.raises(EncStringError, match="no key"):
        unwrap_symmetric_key("4.cnNh")


def test_keys_hide_in_repr() -> None:
    key = SymmetricKey.from_bytes(bytes(range(64)))
    assert "enc_key" not in repr(key) or bytes(range(32)).hex() not in repr(key)
    assert str(list(range(32))) not in repr(key) and "\\x00\\x01" not in repr(key)
