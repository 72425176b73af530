"""Bitwarden client-side cryptography, as the test server needs it.

Implements the documented Bitwarden key hierarchy: a PBKDF2-SHA256 master key,
its HKDF "stretched" form, 64-byte symmetric keys (encryption half and MAC half),
EncString type 2 (AES-256-CBC + HMAC-SHA256) and type 4 (RSA-2048-OAEP-SHA1).
Decryption helpers exist so tests can check what the server produced.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

__all__ = [
    "EncStringError",
    "SymmetricKey",
    "decrypt_type2",
    "decrypt_type4",
    "encrypt_type2",
    "encrypt_type4",
    "generate_rsa_key",
    "make_master_key",
    "master_password_hash",
    "private_key_pkcs8_der",
    "public_key_spki_b64",
    "stretch_master_key",
]

_AES_BLOCK_BITS = 128
_IV_BYTES = 16


class EncStringError(ValueError):
    """An EncString is malformed or fails authentication."""


@dataclass(frozen=True)
class SymmetricKey:
    """A Bitwarden 64-byte symmetric key: 32 bytes AES key followed by 32 bytes HMAC key."""

    enc_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.enc_key) != 32 or len(self.mac_key) != 32:
            raise ValueError("a Bitwarden symmetric key is two 32-byte halves")

    @classmethod
    def generate(cls) -> SymmetricKey:
        return cls.from_bytes(os.urandom(64))

    @classmethod
    def from_bytes(cls, raw: bytes) -> SymmetricKey:
        if len(raw) != 64:
            raise ValueError("a Bitwarden symmetric key is 64 bytes")
        return cls(enc_key=raw[:32], mac_key=raw[32:])

    def to_bytes(self) -> bytes:
        return self.enc_key + self.mac_key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def make_master_key(master_password: str, email: str, iterations: int) -> bytes:
    """PBKDF2-SHA256(password, salt=lower-cased trimmed email, iterations, 32 bytes)."""
    salt = email.strip().lower().encode("utf-8")
    return hashlib.pbkdf2_hmac("sha256", master_password.encode("utf-8"), salt, iterations, 32)


def master_password_hash(master_key: bytes, master_password: str) -> str:
    """The server-authentication hash the client sends as the ``password`` form field."""
    digest = hashlib.pbkdf2_hmac("sha256", master_key, master_password.encode("utf-8"), 1, 32)
    return _b64(digest)


def _hkdf_expand(key: bytes, info: bytes) -> bytes:
    return HKDFExpand(algorithm=hashes.SHA256(), length=32, info=info).derive(key)


def stretch_master_key(master_key: bytes) -> SymmetricKey:
    """HKDF-Expand the 32-byte master key into a 64-byte symmetric key ("enc" ‖ "mac")."""
    return SymmetricKey(
        enc_key=_hkdf_expand(master_key, b"enc"), mac_key=_hkdf_expand(master_key, b"mac")
    )


def encrypt_type2(key: SymmetricKey, plaintext: bytes) -> str:
    """EncString type 2: ``2.b64(iv)|b64(ciphertext)|b64(hmac(iv‖ciphertext))``."""
    iv = os.urandom(_IV_BYTES)
    padder = padding.PKCS7(_AES_BLOCK_BITS).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.enc_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.new(key.mac_key, iv + ciphertext, hashlib.sha256).digest()
    return f"2.{_b64(iv)}|{_b64(ciphertext)}|{_b64(mac)}"


def decrypt_type2(key: SymmetricKey, enc_string: str) -> bytes:
    """Check the MAC of and decrypt an EncString type 2."""
    header, _, body = enc_string.partition(".")
    parts = body.split("|")
    if header != "2" or len(parts) != 3:
        raise EncStringError("not an EncString of type 2")
    try:
        iv, ciphertext, mac = (base64.b64decode(part, validate=True) for part in parts)
    except ValueError as exc:
        raise EncStringError("EncString parts are not base64") from exc
    expected = hmac.new(key.mac_key, iv + ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise EncStringError("EncString MAC does not match")
    decryptor = Cipher(algorithms.AES(key.enc_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(_AES_BLOCK_BITS).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _oaep_sha1() -> OAEP:
    # Bitwarden's EncString type 4 is defined as RSA-OAEP with SHA-1.
    sha1 = hashes.SHA1()  # noqa: S303
    return OAEP(mgf=MGF1(algorithm=sha1), algorithm=sha1, label=None)


def encrypt_type4(public_key: rsa.RSAPublicKey, plaintext: bytes) -> str:
    """EncString type 4: ``4.b64(RSA-2048-OAEP-SHA1(plaintext))``."""
    return f"4.{_b64(public_key.encrypt(plaintext, _oaep_sha1()))}"


def decrypt_type4(private_key: rsa.RSAPrivateKey, enc_string: str) -> bytes:
    header, _, body = enc_string.partition(".")
    if header != "4" or "|" in body:
        raise EncStringError("not an EncString of type 4")
    try:
        ciphertext = base64.b64decode(body, validate=True)
    except ValueError as exc:
        raise EncStringError("EncString is not base64") from exc
    return private_key.decrypt(ciphertext, _oaep_sha1())


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key_spki_b64(private_key: rsa.RSAPrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _b64(der)


def private_key_pkcs8_der(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
