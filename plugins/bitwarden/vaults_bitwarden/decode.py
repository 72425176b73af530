"""Bitwarden item JSON (what ``bw get item`` / ``bw serve`` return) → a credential.

Empty strings and ``null`` both mean "absent" (``"totp": ""`` → no code). The TOTP secret is
parsed locally (raw base32, ``otpauth://`` or ``steam://``) with Bitwarden's own clean-up
(:data:`TOTP_RULES`); the host computes the code. A secret that gives no code leaves the
credential intact with ``totp_error`` set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from vaults.errors import ItemNotFound, VaultUnavailable
from vaults.plain import PlainCredential, PlainField, Secret
from vaults.totp_core import Base32Rules, totp_or_error

if TYPE_CHECKING:
    from vaults.models import Credential

__all__ = [
    "FIELD_TYPES",
    "ITEM_TYPES",
    "LINKED_TARGETS",
    "TOTP_RULES",
    "decode_item",
    "decode_plain",
    "item_id",
    "item_name",
]

SCHEME: Final = "bitwarden"
ITEM_TYPES: Final = {1: "login", 2: "secure note", 3: "card", 4: "identity", 5: "ssh key"}
FIELD_TYPES: Final = {0: "text", 1: "hidden", 2: "boolean", 3: "linked"}
LINKED_TARGETS: Final = {100: "username", 101: "password"}
"""``linkedId`` of a login's linked custom field → the login property it shows."""
TOTP_RULES: Final = Base32Rules(name="bitwarden", drop_invalid=True)
"""Bitwarden's SDK (``decode_b32`` in sdk-internal's totp.rs) upper-cases the secret and drops
every character outside ``A-Z2-7`` before decoding: ``KAKFJWOSFJ12NWL`` has a code there."""


def _text(value: Any) -> str | None:
    """A non-empty string, else ``None`` (``""`` and ``null`` both mean absent)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text != "" else None


def entries(value: Any) -> list[Any]:
    """A JSON array, else nothing (a wrong-typed member is ignored, not iterated)."""
    return value if isinstance(value, list) else []


def item_id(item: Mapping[str, Any]) -> str:
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise VaultUnavailable("Bitwarden returned an item without an id")
    return value.lower()


def item_name(item: Mapping[str, Any]) -> str:
    value = item.get("name")
    return value if isinstance(value, str) else ""


def _field(raw: Any) -> PlainField | None:
    if not isinstance(raw, Mapping):
        return None
    kind = raw.get("type")
    type_name = FIELD_TYPES.get(kind, f"type {kind}") if isinstance(kind, int) else "text"
    value = _text(raw.get("value"))
    if type_name == "linked":
        # the value of a linked field is the login property it points at, never its content
        linked = raw.get("linkedId")
        value = LINKED_TARGETS.get(linked, f"linked:{linked}") if isinstance(linked, int) else None
    return PlainField(
        name=_text(raw.get("name")) or "",
        value=Secret(value) if value is not None else None,
        type=type_name,
    )


def decode_item(item: Mapping[str, Any]) -> Credential:
    """:func:`decode_plain` as the public :class:`~vaults.models.Credential`."""
    return decode_plain(item).to_credential()


def decode_plain(item: Mapping[str, Any]) -> PlainCredential:
    """The credential in ``item``; raises :class:`ItemNotFound` for an item in the trash. An
    unusable TOTP secret gives ``totp_secret=None`` and ``totp_error`` (never the secret)."""
    ident = item_id(item)
    name = item_name(item)
    if _text(item.get("deletedDate")) is not None:
        raise ItemNotFound(f"Bitwarden item {name!r} ({ident}) is in the trash")
    login = item.get("login") if item.get("type", 1) == 1 else None
    if not isinstance(login, Mapping):
        login = {}
    username = _text(login.get("username"))
    password = _text(login.get("password"))
    uris: list[str] = []
    for entry in entries(login.get("uris")):
        uri = _text(entry.get("uri")) if isinstance(entry, Mapping) else None
        if uri is not None:
            uris.append(uri)
    fields = [f for f in (_field(raw) for raw in entries(item.get("fields"))) if f is not None]
    totp_secret, totp_error = totp_or_error(_text(login.get("totp")), TOTP_RULES)
    return PlainCredential(
        vault=SCHEME,
        id=ident,
        name=name,
        username=username,
        password=Secret(password) if password is not None else None,
        uris=uris,
        fields=fields,
        totp_secret=totp_secret,
        totp_error=totp_error,
        reprompt=item.get("reprompt") == 1,
    )
