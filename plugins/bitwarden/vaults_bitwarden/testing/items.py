"""Plain-data description of the vault items a test server holds.

Callers describe items in clear text; the server encrypts them the way a real
Bitwarden client would before handing them to the CLI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Literal

__all__ = ["CustomField", "FieldType", "LinkedId", "VaultItem", "coerce_item", "coerce_items"]

ItemKind = Literal["login", "note"]


class FieldType(IntEnum):
    """Bitwarden custom field types."""

    TEXT = 0
    HIDDEN = 1
    BOOLEAN = 2
    LINKED = 3


class LinkedId(IntEnum):
    """What a linked field of a login points at."""

    USERNAME = 100
    PASSWORD = 101


@dataclass(frozen=True)
class CustomField:
    """One custom field. ``value`` is None for linked fields, which carry ``linked_id``."""

    name: str
    value: str | None = field(default=None, repr=False)
    type: FieldType = FieldType.TEXT
    linked_id: LinkedId | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", FieldType(self.type))
        if self.linked_id is not None:
            object.__setattr__(self, "linked_id", LinkedId(self.linked_id))
        if self.type is FieldType.LINKED and (self.linked_id is None or self.value is not None):
            raise ValueError("a linked field has a linked_id and no value")
        if self.type is not FieldType.LINKED and self.linked_id is not None:
            raise ValueError("only linked fields have a linked_id")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CustomField:
        linked = data.get("linked_id", data.get("linkedId"))
        return cls(
            name=str(data["name"]),
            value=None if data.get("value") is None else str(data["value"]),
            type=FieldType(int(data.get("type", FieldType.TEXT))),
            linked_id=None if linked is None else LinkedId(int(linked)),
        )


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class VaultItem:
    """One vault item in clear text.

    ``organization`` puts the item in the test organisation (and its collection),
    encrypted under the organisation key. ``own_cipher_key`` gives it a per-item key.
    ``in_folder`` files it in the account's folder. ``kind="note"`` makes a secure note
    (no login part). Secret-bearing attributes are kept out of ``repr``.
    """

    name: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    totp: str | None = field(default=None, repr=False)
    uris: tuple[str, ...] = ()
    fields: tuple[CustomField, ...] = ()
    notes: str | None = field(default=None, repr=False)
    organization: bool = False
    own_cipher_key: bool = False
    in_folder: bool = False
    favorite: bool = False
    kind: ItemKind = "login"
    id: str = field(default_factory=_new_id)

    def __post_init__(self) -> None:
        object.__setattr__(self, "uris", tuple(self.uris))
        object.__setattr__(
            self,
            "fields",
            tuple(
                f if isinstance(f, CustomField) else CustomField.from_mapping(f)
                for f in self.fields
            ),
        )
        uuid.UUID(self.id)
        if self.kind == "note" and (self.username or self.password or self.totp or self.uris):
            raise ValueError("a secure note has no username, password, TOTP or URIs")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> VaultItem:
        """Build from a plain dict (keys as the attribute names; ``id`` optional)."""
        known = {
            "name",
            "username",
            "password",
            "totp",
            "uris",
            "fields",
            "notes",
            "organization",
            "own_cipher_key",
            "in_folder",
            "favorite",
            "kind",
            "id",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown vault item keys: {sorted(unknown)}")
        kwargs: dict[str, Any] = dict(data)
        kwargs["uris"] = tuple(str(u) for u in data.get("uris", ()) or ())
        kwargs["fields"] = tuple(
            f if isinstance(f, CustomField) else CustomField.from_mapping(f)
            for f in data.get("fields", ()) or ()
        )
        if kwargs.get("id") is None:
            kwargs.pop("id", None)
        return cls(**kwargs)


def coerce_item(item: VaultItem | Mapping[str, Any]) -> VaultItem:
    return item if isinstance(item, VaultItem) else VaultItem.from_mapping(item)


def coerce_items(items: Iterable[VaultItem | Mapping[str, Any]]) -> tuple[VaultItem, ...]:
    return tuple(coerce_item(i) for i in items)
