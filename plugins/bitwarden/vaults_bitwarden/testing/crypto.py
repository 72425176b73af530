"""Bitwarden client-side cryptography as the test server needs it.

The primitives (KDF, stretched keys, EncString type 2, RSA-OAEP) are the production ones
of :mod:`vaults_bitwarden.native.crypto`; this module adds what only a server or test
needs: generating key pairs and wrapping keys as EncString type 4.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from vaults_bitwarden.native.crypto import (
    EncStringError,
    KdfParams,
    KdfType,
    SymmetricKey,
    decrypt_rsa,
    decrypt_type2,
    encrypt_text,
    encrypt_type2,
    make_master_key,
    master_password_hash,
    oaep_sha1,
    stretch_master_key,
)

__all__ = [
    "EncStringError",
    "KdfParams",
    "KdfType",
    "SymmetricKey",
    "decrypt_type2",
    "decrypt_type4",
    "encrypt_text",
    "encrypt_type2",
    "encrypt_type4",
    "generate_rsa_key",
    "make_master_key",
    "master_password_hash",
    "private_key_pkcs8_der",
    "public_key_spki_b64",
    "stretch_master_key",
]


def encrypt_type4(public_key: rsa.RSAPublicKey, plaintext: bytes) -> str:
    """EncString type 4: ``4.b64(RSA-2048-OAEP-SHA1(plaintext))``."""
    return "4." + base64.b64encode(public_key.encrypt(plaintext, oaep_sha1())).decode("ascii")


def decrypt_type4(private_key: rsa.RSAPrivateKey, enc_string: str) -> bytes:
    return decrypt_rsa(private_key, enc_string)


def generate_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key_spki_b64(private_key: rsa.RSAPrivateKey) -> str:
    der = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def private_key_pkcs8_der(private_key: rsa.RSAPrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
