"""Bitwarden client-side cryptography: key derivation, EncStrings, key unwrapping.

The documented Bitwarden key hierarchy, built on ``cryptography`` and ``argon2-cffi``
(no hand-written primitives):

- master key: PBKDF2-SHA256(password, salt = lower-cased e-mail) or Argon2id(password,
  salt = SHA-256(lower-cased e-mail)), 32 bytes, with the KDF parameters the server's
  prelogin gives — within Bitwarden's own bounds (:class:`KdfParams`);
- stretched master key: HKDF-Expand(master key, ``enc``) ‖ HKDF-Expand(master key, ``mac``);
- symmetric keys (user, organisation, item keys): 64 bytes, AES-256 key ‖ HMAC-SHA256 key;
- EncString type 2 ``2.iv|ciphertext|mac``: AES-256-CBC/PKCS7 + HMAC-SHA256 over iv ‖
  ciphertext, the MAC checked in constant time *before* anything is decrypted;
- EncString types 4 and 6: RSA-2048-OAEP-SHA1 under the account's key pair (organisation keys);
  type 6's trailing MAC part is ignored, as Bitwarden's clients ignore it.

Every other EncString type (0 and 1: unauthenticated or legacy AES; 3 and 5: OAEP-SHA256;
7: COSE) is refused with :class:`UnsupportedEncString`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from vaults_bitwarden.native.kdf import (
    KdfError,
    KdfParams,
    KdfType,
    make_master_key,
)

if TYPE_CHECKING:  # RSA is imported when an organisation key is first needed
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.asymmetric.padding import OAEP

__all__ = [
    "EncStringError",
    "KdfError",
    "KdfParams",
    "KdfType",
    "MacMismatch",
    "SymmetricKey",
    "UnsupportedEncString",
    "decrypt_rsa",
    "decrypt_text",
    "decrypt_type2",
    "enc_string_type",
    "encrypt_text",
    "encrypt_type2",
    "load_private_key",
    "make_master_key",
    "master_password_hash",
    "oaep_sha1",
    "stretch_master_key",
    "unwrap_symmetric_key",
]

_AES_BLOCK_BITS: Final = 128
_IV_BYTES: Final = 16
_MAC_BYTES: Final = 32
_MAX_ENC_STRING: Final = 4 << 20
"""An EncString longer than this (4 MiB) is refused before any base64 decoding."""


class EncStringError(ValueError):
    """An EncString is malformed, of a refused type, or fails authentication.

    Messages name the problem only: never the ciphertext, a key or a plaintext."""


class UnsupportedEncString(EncStringError):
    """An EncString of a type this client refuses (anything but 2, 4 and 6)."""


class MacMismatch(EncStringError):
    """The HMAC of a type-2 EncString does not match: wrong key or tampered data."""


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


def master_password_hash(master_key: bytes, master_password: str) -> str:
    """The server-authentication hash a client sends as the ``password`` form field."""
    digest = hashlib.pbkdf2_hmac("sha256", master_key, master_password.encode("utf-8"), 1, 32)
    return _b64(digest)


def _hkdf_expand(key: bytes, info: bytes) -> bytes:
    return HKDFExpand(algorithm=hashes.SHA256(), length=32, info=info).derive(key)


def stretch_master_key(master_key: bytes) -> SymmetricKey:
    """HKDF-Expand the 32-byte master key into a 64-byte symmetric key (``enc`` ‖ ``mac``)."""
    return SymmetricKey(
        enc_key=_hkdf_expand(master_key, b"enc"), mac_key=_hkdf_expand(master_key, b"mac")
    )


# -- EncStrings ---------------------------------------------------------------------------

_TYPE_NAMES: Final = {
    0: "AES-256-CBC without a MAC",
    1: "AES-128-CBC + HMAC-SHA256",
    3: "RSA-2048-OAEP-SHA256",
    5: "RSA-2048-OAEP-SHA256 + HMAC",
    7: "COSE",
}


def enc_string_type(enc_string: str) -> int:
    """The type number of an EncString (``N.`` prefix); raises :class:`EncStringError`."""
    if not isinstance(enc_string, str) or len(enc_string) > _MAX_ENC_STRING:
        raise EncStringError("an EncString must be a string of reasonable size")
    header, dot, _ = enc_string.partition(".")
    if not dot or not header.isdigit() or len(header) > 2:
        raise EncStringError("not an EncString (no 'N.' type prefix)")
    return int(header)


def _refuse(kind: int) -> UnsupportedEncString:
    name = _TYPE_NAMES.get(kind)
    what = f"type {kind} ({name})" if name else f"unknown type {kind}"
    return UnsupportedEncString(
        f"EncString {what} is refused: only types 2 (AES-256-CBC + HMAC-SHA256) and 4/6 "
        "(RSA-OAEP) are accepted"
    )


def _b64decode(part: str) -> bytes:
    try:
        return base64.b64decode(part, validate=True)
    except ValueError:
        raise EncStringError("an EncString part is not base64") from None


def decrypt_type2(key: SymmetricKey, enc_string: str) -> bytes:
    """Check the MAC (constant time) of an EncString type 2, then decrypt it."""
    kind = enc_string_type(enc_string)
    if kind != 2:
        raise (
            _refuse(kind)
            if kind not in (4, 6)
            else EncStringError(f"expected a symmetric EncString (type 2), got RSA type {kind}")
        )
    parts = enc_string[2:].split("|")
    if len(parts) != 3:
        raise EncStringError("an EncString of type 2 has three parts (iv|ciphertext|mac)")
    iv, ciphertext, mac = (_b64decode(p) for p in parts)
    if len(iv) != _IV_BYTES or len(mac) != _MAC_BYTES:
        raise EncStringError("an EncString of type 2 has a 16-byte iv and a 32-byte MAC")
    if not ciphertext or len(ciphertext) % _IV_BYTES:
        raise EncStringError("an EncString of type 2 has whole AES blocks of ciphertext")
    expected = hmac.new(key.mac_key, iv + ciphertext, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, mac):
        raise MacMismatch("EncString MAC does not match (wrong key or tampered data)")
    decryptor = Cipher(algorithms.AES(key.enc_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(_AES_BLOCK_BITS).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise EncStringError("an EncString of type 2 has bad padding") from None


def encrypt_type2(key: SymmetricKey, plaintext: bytes) -> str:
    """EncString type 2: ``2.b64(iv)|b64(ciphertext)|b64(hmac(iv‖ciphertext))``, random iv."""
    iv = os.urandom(_IV_BYTES)
    padder = padding.PKCS7(_AES_BLOCK_BITS).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key.enc_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.new(key.mac_key, iv + ciphertext, hashlib.sha256).digest()
    return f"2.{_b64(iv)}|{_b64(ciphertext)}|{_b64(mac)}"


def encrypt_text(key: SymmetricKey, value: str | None) -> str | None:
    """A text field as a client writes it: ``None`` stays ``None``, text becomes type 2.

    Use the item's own key when it has one (``cipher.key``), else the organisation key
    for an organisation item, else the user key."""
    return None if value is None else encrypt_type2(key, value.encode("utf-8"))


def decrypt_text(key: SymmetricKey, enc_string: str | None) -> str | None:
    """A type-2 text field back to ``str`` (``None`` stays ``None``)."""
    if enc_string is None:
        return None
    try:
        return decrypt_type2(key, enc_string).decode("utf-8")
    except UnicodeDecodeError:
        raise EncStringError("an EncString does not hold UTF-8 text") from None


def oaep_sha1() -> OAEP:
    """The padding of EncString types 4 and 6: RSA-OAEP with SHA-1 (Bitwarden's definition)."""
    from cryptography.hazmat.primitives.asymmetric.padding import MGF1, OAEP

    sha1 = hashes.SHA1()  # noqa: S303 - fixed by the Bitwarden format
    return OAEP(mgf=MGF1(algorithm=sha1), algorithm=sha1, label=None)


def decrypt_rsa(private_key: rsa.RSAPrivateKey, enc_string: str) -> bytes:
    """Decrypt an EncString of type 4 or 6 (RSA-2048-OAEP-SHA1)."""
    kind = enc_string_type(enc_string)
    if kind not in (4, 6):
        raise (
            _refuse(kind)
            if kind != 2
            else EncStringError("expected an RSA EncString (type 4 or 6), got type 2")
        )
    parts = enc_string[2:].split("|")
    if (kind == 4 and len(parts) != 1) or (kind == 6 and len(parts) != 2):
        raise EncStringError(f"an EncString of type {kind} has the wrong number of parts")
    try:
        return private_key.decrypt(_b64decode(parts[0]), oaep_sha1())
    except (ValueError, InvalidKey):
        raise EncStringError("RSA decryption failed (wrong key or tampered data)") from None


def unwrap_symmetric_key(
    enc_string: str,
    key: SymmetricKey | None = None,
    private_key: rsa.RSAPrivateKey | None = None,
) -> SymmetricKey:
    """A 64-byte key wrapped as type 2 under ``key`` or as type 4/6 under ``private_key``."""
    kind = enc_string_type(enc_string)
    if kind == 2 and key is not None:
        raw = decrypt_type2(key, enc_string)
    elif kind in (4, 6) and private_key is not None:
        raw = decrypt_rsa(private_key, enc_string)
    elif kind in (2, 4, 6):
        raise EncStringError(f"no key to unwrap an EncString of type {kind}")
    else:
        raise _refuse(kind)
    if len(raw) != 64:
        raise EncStringError("a wrapped key is not a 64-byte Bitwarden symmetric key")
    return SymmetricKey.from_bytes(raw)


def load_private_key(der: bytes) -> rsa.RSAPrivateKey:
    """The account's RSA private key from its PKCS#8 DER form."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    try:
        # the DER came out of an authenticated EncString under the user key; OpenSSL's RSA
        # consistency check costs ~0.2 s per process and is skipped, as the key is trusted
        key = load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError):
        raise EncStringError("the account's private key is not a PKCS#8 RSA key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise EncStringError("the account's private key is not an RSA key")
    return key
