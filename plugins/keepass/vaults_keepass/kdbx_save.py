"""Encrypt a changed database to bytes the way KeePass and KeePassXC expect to read it back.

pykeepass rotates every seed and IV before a save (good: no two writes share a key stream),
which changes a KDBX 3.1 header; but the copy of the header's SHA-256 that KDBX 3.1 keeps in
``Meta/HeaderHash`` stays the old one, and KeePassXC then refuses the file ("Header doesn't
match hash"). :func:`encrypt` stores the new header's hash there (only when the element
exists, as it does in files KeePass and KeePassXC write) and builds the file again with the
same header.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
from typing import Any

__all__ = ["encrypt", "kdbx3_header"]

_PREFIX = 12  # signature 1, signature 2, minor + major version


def kdbx3_header(data: bytes) -> bytes:
    """The header of a KDBX 3.x file: the prefix and every field up to end-of-header."""
    offset = _PREFIX
    while True:
        if offset + 3 > len(data):
            raise ValueError("the KDBX 3 header is truncated")
        field_id = data[offset]
        (length,) = struct.unpack_from("<H", data, offset + 1)
        offset += 3 + length
        if field_id == 0:
            return data[:offset]


def _build(kp: Any) -> bytes:
    from pykeepass.kdbx_parsing import KDBX

    buffer = io.BytesIO()
    KDBX.build_stream(
        kp.kdbx,
        buffer,
        password=kp.password,
        keyfile=kp.keyfile,
        transformed_key=None,
        decrypt=True,
    )
    return buffer.getvalue()


def encrypt(kp: Any) -> bytes:
    """The whole database, encrypted with fresh seeds and IVs, its version, cipher and KDF
    (and their parameters) unchanged."""
    from pykeepass.kdbx_parsing.common import rotate_seeds

    rotate_seeds(kp.kdbx)
    data = _build(kp)
    if kp.version[0] != 3:
        return data
    element = kp.tree.find("Meta/HeaderHash")
    if element is None:
        return data
    header = kdbx3_header(data)
    element.text = base64.b64encode(hashlib.sha256(header).digest()).decode("ascii")
    rebuilt = _build(kp)
    if kdbx3_header(rebuilt) != header:
        raise ValueError("the KDBX 3 header changed between two builds")
    return rebuilt
