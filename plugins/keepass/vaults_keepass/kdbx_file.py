"""What a file on disk is before pykeepass reads it: KDBX version, header, key file.

Facts from the KDBX format (keepass.info "KDBX 4 file format", KeePassXC src/format):
the file starts with the signatures ``03 D9 A2 9A`` and ``67 FB 4B B5`` (``65 FB 4B B5`` is a
KeePass 1.x ``.kdb``), then the minor and major version (little endian). A KDBX 3.x header
is a list of ``id (1 byte), size (2 bytes), data`` fields ending with id 0; KDBX 3.1 stores
the SHA-256 of those header bytes in ``Meta/HeaderHash`` so a tampered header is detected.
KDBX 2.x is KDBX 3.0 under an older version number.

Key files (KeePass "Key files"): XML version 1.0 (``<Data>`` base64 of 32 bytes) and 2.0
(``<Data Hash="…">`` hex, the hash being the first 4 bytes of the data's SHA-256), 32 raw
bytes, 64 hex digits, or any other file (hashed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from vaults.errors import ConfigurationError, VaultUnavailable

__all__ = ["KdbxFile", "check_header_hash", "check_key_file", "read_kdbx", "readable_bytes"]

SIGNATURE_1: Final = b"\x03\xd9\xa2\x9a"
SIGNATURE_KDBX: Final = b"\x67\xfb\x4b\xb5"
SIGNATURE_KDBX_PRE: Final = b"\x66\xfb\x4b\xb5"
SIGNATURE_KDB: Final = b"\x65\xfb\x4b\xb5"
MAX_DATABASE_BYTES: Final = 512 * 1024 * 1024
MAX_KEY_FILE_BYTES: Final = 16 * 1024 * 1024


@dataclass(frozen=True)
class KdbxFile:
    """A database file's bytes and version. ``data`` is what pykeepass is given."""

    path: Path
    data: bytes
    major: int
    minor: int

    @property
    def version(self) -> str:
        return f"{self.major}.{self.minor}"


def read_kdbx(path: Path) -> KdbxFile:
    """Read and classify ``path``; refuses what is not a KDBX 2, 3 or 4 file (exit 2)."""
    name = path.name
    if path.is_dir():
        raise ConfigurationError(f"{path} is a directory, not a KeePass database (.kdbx)")
    try:
        size = path.stat().st_size
        if size > MAX_DATABASE_BYTES:
            raise ConfigurationError(f"{name} is larger than {MAX_DATABASE_BYTES >> 20} MiB")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"KeePass database {path} does not exist") from None
    except OSError as exc:
        raise VaultUnavailable(f"cannot read KeePass database {path}: {exc.strerror}") from None
    if len(data) < 12 or data[:4] != SIGNATURE_1:
        raise ConfigurationError(f"{name} is not a KeePass database (no KDBX signature)")
    second = data[4:8]
    if second == SIGNATURE_KDB:
        raise ConfigurationError(
            f"{name} is a KeePass 1.x database (.kdb), which is not supported: "
            "import it into KeePassXC or KeePass 2 and save it as .kdbx"
        )
    if second not in (SIGNATURE_KDBX, SIGNATURE_KDBX_PRE):
        raise ConfigurationError(f"{name} is not a KeePass 2 database (unknown signature)")
    minor, major = struct.unpack("<HH", data[8:12])
    if major not in (2, 3, 4):
        raise ConfigurationError(
            f"{name} is a KDBX {major}.{minor} database; KDBX 2.x, 3.x and 4.x are supported"
        )
    return KdbxFile(path=path, data=data, major=major, minor=minor)


def readable_bytes(data: bytes) -> bytes:
    """``data`` as pykeepass can read it: a KDBX 2.x file is presented as the KDBX 3.0 it
    is laid out as (read-only use); anything else unchanged."""
    if data[:4] == SIGNATURE_1 and len(data) >= 12 and struct.unpack("<H", data[10:12])[0] == 2:
        return data[:8] + struct.pack("<HH", 0, 3) + data[12:]
    return data


def kdbx3_header(data: bytes) -> bytes:
    """The bytes of a KDBX 2.x/3.x header (signatures, version and every field)."""
    pos = 12
    while pos + 3 <= len(data):
        field_id = data[pos]
        (size,) = struct.unpack("<H", data[pos + 1 : pos + 3])
        pos += 3 + size
        if field_id == 0:
            return data[:pos]
    raise VaultUnavailable("the KeePass database header is truncated")


def check_header_hash(file: KdbxFile, stored: str | None) -> None:
    """Refuse a KDBX 3.x file whose header does not match ``Meta/HeaderHash`` (as KeePassXC
    does: "Header doesn't match hash"). KDBX 4 headers are checked by pykeepass (SHA-256
    and HMAC); files without a stored hash (3.0, 2.x) cannot be checked."""
    if file.major >= 4 or not stored:
        return
    try:
        expected = base64.b64decode(stored, validate=True)
    except (binascii.Error, ValueError):
        expected = b""
    actual = hashlib.sha256(kdbx3_header(file.data)).digest()
    if expected != actual:
        raise VaultUnavailable(
            f"{file.path.name}: the database header does not match its stored hash; the file "
            "is damaged or was tampered with, so it is not used"
        )


_VERSION = re.compile(rb"<Version>\s*([0-9.]+)\s*</Version>")
_DATA = re.compile(rb"<Data(?:\s+Hash\s*=\s*\"([^\"]*)\")?\s*>([^<]*)</Data>")


def _xml_key_problem(text: bytes) -> str | None:
    """What is wrong with an XML key file, or None. Read with two patterns rather than an
    XML parser: the format is tiny and fixed, and no entity is ever expanded."""
    if b"<KeyFile" not in text:
        return None  # not a KeePass XML key file: KeePass hashes the whole file
    version = _VERSION.search(text)
    data = _DATA.search(text)
    if data is None or not data.group(2).strip():
        return "it is an XML key file without Key/Data"
    raw = re.sub(rb"\s", b"", data.group(2)).decode("ascii", errors="replace")
    if version is not None and version.group(1).startswith(b"2"):
        try:
            key = bytes.fromhex(raw)
        except ValueError:
            return "its Key/Data is not hexadecimal"
        digest = (data.group(1) or b"").decode("ascii", errors="replace").strip()
        if digest and hashlib.sha256(key).digest()[:4].hex().upper() != digest.upper():
            return "its Key/Data does not match its Hash attribute (the file was altered)"
        return None
    try:
        base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        return "its Key/Data is not valid base64"
    return None


def check_key_file(path: Path) -> None:
    """Refuse an unreadable or broken key file, naming the key file (exit 2)."""
    if path.is_dir():
        raise ConfigurationError(f"KeePass key file {path} is a directory")
    try:
        if path.stat().st_size > MAX_KEY_FILE_BYTES:
            raise ConfigurationError(
                f"KeePass key file {path.name} is larger than {MAX_KEY_FILE_BYTES >> 20} MiB"
            )
        text = path.read_bytes()
    except FileNotFoundError:
        raise ConfigurationError(f"KeePass key file {path} does not exist") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read KeePass key file {path}: {exc.strerror}") from None
    head = text.lstrip()[:64].lower()
    if head.startswith(b"<?xml") or head.startswith(b"<keyfile"):
        problem = _xml_key_problem(text)
        if problem is not None:
            raise ConfigurationError(f"KeePass key file {path.name} is broken: {problem}")
