"""Google Authenticator exports (``otpauth-migration://offline?data=…``), unpacked.

The ``data`` parameter is base64 of a protobuf ``MigrationPayload``: repeated
``otp_parameters`` (field 1), each with ``secret`` (1, bytes), ``name`` (2), ``issuer`` (3),
``algorithm`` (4: 1 SHA1, 2 SHA256, 3 SHA512, 4 MD5), ``digits`` (5: 1 six, 2 eight),
``type`` (6: 1 HOTP, 2 TOTP) and ``counter`` (7). The wire format is decoded here (varints
and length-delimited fields only; anything else is skipped by its wire type), so no
protobuf runtime is needed. Every account becomes an ``otpauth://`` URI; an account we
cannot compute (MD5, unknown type) is listed with the reason instead.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from vaults.errors import InvalidTotpSecret

__all__ = ["MigrationAccount", "is_migration_uri", "parse_migration"]

MAX_DATA: Final = 256 * 1024
"""Largest accepted ``data`` parameter (base64 characters); real exports are a few KiB."""
MAX_ACCOUNTS: Final = 1000
_ALGORITHMS: Final = {0: "SHA1", 1: "SHA1", 2: "SHA256", 3: "SHA512", 4: "MD5"}
_DIGITS: Final = {0: 6, 1: 6, 2: 8}
_TYPES: Final = {0: "totp", 1: "hotp", 2: "totp"}


@dataclass(frozen=True)
class MigrationAccount:
    """One account of an export. ``uri`` is None when ``problem`` says why it cannot be used."""

    name: str
    issuer: str
    kind: str
    uri: str | None = field(default=None, repr=False)
    problem: str | None = None

    @property
    def label(self) -> str:
        if self.issuer and self.name and not self.name.startswith(f"{self.issuer}:"):
            return f"{self.issuer}: {self.name}"
        return self.name or self.issuer or "(unnamed)"


def _fail(problem: str) -> InvalidTotpSecret:
    return InvalidTotpSecret(f"invalid Google Authenticator export: {problem}")


def is_migration_uri(text: str) -> bool:
    return text.strip()[:20].lower() == "otpauth-migration://"


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def done(self) -> bool:
        return self.pos >= len(self.data)

    def varint(self) -> int:
        value = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise _fail("the payload is truncated or malformed")
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7

    def field(self) -> tuple[int, int | bytes]:
        """The next ``(field number, value)``; fixed-width values are skipped (``b""``)."""
        key = self.varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            return number, self.varint()
        if wire == 2:
            size = self.varint()
            end = self.pos + size
            if end > len(self.data):
                raise _fail("the payload is truncated or malformed")
            chunk = self.data[self.pos : end]
            self.pos = end
            return number, chunk
        width = {1: 8, 5: 4}.get(wire)
        if width is None or self.pos + width > len(self.data):
            raise _fail("the payload is truncated or malformed")
        self.pos += width
        return number, b""


def _text(value: int | bytes) -> str:
    if not isinstance(value, bytes):
        raise _fail("an account name is not text")
    return value.decode("utf-8", errors="replace")


def _account(chunk: bytes) -> MigrationAccount:
    reader = _Reader(chunk)
    secret = b""
    name = issuer = ""
    algorithm, digits, kind, counter = 1, 1, 2, 0
    while not reader.done():
        number, value = reader.field()
        if number == 1 and isinstance(value, bytes):
            secret = value
        elif number == 2:
            name = _text(value)
        elif number == 3:
            issuer = _text(value)
        elif number == 4 and isinstance(value, int):
            algorithm = value
        elif number == 5 and isinstance(value, int):
            digits = value
        elif number == 6 and isinstance(value, int):
            kind = value
        elif number == 7 and isinstance(value, int):
            counter = value
    type_name = _TYPES.get(kind)
    found = MigrationAccount(name=name, issuer=issuer, kind=type_name or f"type {kind}")
    if type_name is None:
        return _with(found, problem=f"unknown OTP type {kind}")
    if not secret:
        return _with(found, problem="no secret")
    algorithm_name = _ALGORITHMS.get(algorithm)
    if algorithm_name is None or algorithm_name == "MD5":
        return _with(found, problem="MD5 or unknown algorithms are not supported")
    digit_count = _DIGITS.get(digits)
    if digit_count is None:
        return _with(found, problem=f"unknown digit count {digits}")
    label = _label(name, issuer)
    params: dict[str, str | int] = {"secret": base64.b32encode(secret).decode("ascii").rstrip("=")}
    if issuer:
        params["issuer"] = issuer
    params["algorithm"] = algorithm_name
    params["digits"] = digit_count
    if type_name == "hotp":
        params["counter"] = counter
    else:
        params["period"] = 30
    uri = f"otpauth://{type_name}/{label}?{urlencode(params, quote_via=quote)}"
    return _with(found, uri=uri)


def _label(name: str, issuer: str) -> str:
    """``Issuer:account``, each part escaped (a colon inside a part stays encoded)."""
    if ":" in name:
        head, _, tail = name.partition(":")
        return f"{quote(head.strip(), safe='@')}:{quote(tail.strip(), safe='@')}"
    if issuer and name:
        return f"{quote(issuer, safe='@')}:{quote(name, safe='@')}"
    return quote(name or issuer or "account", safe="@")


def _with(found: MigrationAccount, **changes: str | None) -> MigrationAccount:
    return MigrationAccount(
        name=found.name,
        issuer=found.issuer,
        kind=found.kind,
        uri=changes.get("uri"),
        problem=changes.get("problem"),
    )


def parse_migration(text: str) -> list[MigrationAccount]:
    """Every account in an ``otpauth-migration://offline?data=…`` URI, in export order.

    Raises :class:`~vaults.errors.InvalidTotpSecret` (never echoing the payload) when the
    URI or its payload cannot be read.
    """
    try:
        parts = urlsplit(text.strip())
    except ValueError:
        raise _fail("the URI is malformed") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    data = query.get("data", "").strip()
    if not data:
        raise _fail("the URI has no data parameter")
    if len(data) > MAX_DATA:
        raise _fail(f"the data parameter is longer than {MAX_DATA} characters")
    cleaned = data.replace("-", "+").replace("_", "/").replace(" ", "+")
    try:
        payload = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _fail("the data parameter is not base64") from None
    reader = _Reader(payload)
    accounts: list[MigrationAccount] = []
    while not reader.done():
        number, value = reader.field()
        if number == 1 and isinstance(value, bytes):
            if len(accounts) >= MAX_ACCOUNTS:
                raise _fail(f"more than {MAX_ACCOUNTS} accounts")
            accounts.append(_account(value))
    if not accounts:
        raise _fail("it holds no accounts")
    return accounts
