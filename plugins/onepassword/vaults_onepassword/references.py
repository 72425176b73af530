"""1Password secret references: ``op://VAULT/ITEM[/[SECTION/]FIELD][?attribute=otp]``.

The native syntax of 1Password (``op read``, ``op inject``): VAULT and ITEM are a name/title
or an id (26 lowercase alphanumerics); a whole reference may be quoted so that names can hold
spaces. ``op://ITEM`` is accepted when a default vault is configured
(``VAULTS_ONEPASSWORD_VAULT``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vaults.errors import InvalidReference
from vaults.refs import Reference

__all__ = ["ItemKey", "OpRef", "is_op_id", "parse_op_reference"]

_ID = re.compile(r"[a-z0-9]{26}")
_OTP_ATTRIBUTES = {"otp", "totp"}


def is_op_id(text: str) -> bool:
    """Whether ``text`` has the shape of a 1Password vault or item id."""
    return bool(_ID.fullmatch(text))


@dataclass(frozen=True)
class ItemKey:
    """Which item to fetch: the vault and the item as the reference wrote them."""

    vault: str
    item: str


@dataclass(frozen=True)
class OpRef:
    """A parsed ``op://`` reference."""

    raw: str
    vault: str
    item: str
    section: str | None = None
    field: str | None = None
    otp: bool = False
    """``?attribute=otp`` / ``?attribute=totp``: only the current code is wanted."""

    @property
    def key(self) -> ItemKey:
        return ItemKey(self.vault, self.item)

    @property
    def is_field(self) -> bool:
        return self.field is not None


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def parse_op_reference(ref: Reference, default_vault: str | None = None) -> OpRef:
    """Parse ``ref`` (scheme ``op``); raises :class:`InvalidReference` naming the problem."""
    path = _unquote(ref.path.strip())
    if not path:
        raise InvalidReference(f"{ref.raw!r} names no 1Password item")
    segments = [_unquote(s) for s in path.split("/")]
    if any(not s.strip() for s in segments):
        raise InvalidReference(
            f"{ref.raw!r} has an empty part; write op://VAULT/ITEM[/[SECTION/]FIELD]"
        )
    if len(segments) == 1:
        if not default_vault:
            raise InvalidReference(
                f"{ref.raw!r} names no vault: write op://VAULT/ITEM "
                "(or set VAULTS_ONEPASSWORD_VAULT to a default vault)"
            )
        segments.insert(0, default_vault)
    if len(segments) > 4:
        raise InvalidReference(
            f"{ref.raw!r} has too many parts; write op://VAULT/ITEM[/[SECTION/]FIELD] "
            "(use the item's id when its title contains '/')"
        )
    otp = False
    for key, value in ref.query.items():
        if key != "attribute":
            raise InvalidReference(f"{ref.raw!r}: unsupported query parameter {key!r}")
        wanted = value.strip().lower()
        if wanted in _OTP_ATTRIBUTES:
            otp = True
        elif wanted != "value":
            raise InvalidReference(
                f"{ref.raw!r}: unsupported attribute {value!r} (supported: otp, totp, value)"
            )
    vault, item, *rest = segments
    section = rest[0] if len(rest) == 2 else None
    field = rest[-1] if rest else None
    return OpRef(ref.raw, vault, item, section, field, otp)
