"""One model for a 1Password item, whichever transport fetched it.

Connect (``FullItem``, camelCase) and ``op item get --format json`` (snake_case top level) share
the field shape: ``id``, ``type``, ``purpose``, ``label``, ``value``, ``section.id`` and, for OTP
fields, the server-computed ``totp``. The service-account SDK names things differently
(``title``, ``field_type``, ``section_id``, ``details.content.code``); :func:`from_sdk_item`
maps it onto the same model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vaults.errors import VaultUnavailable

__all__ = ["OTP_TYPES", "ItemField", "OnePasswordItem", "from_sdk_item", "parse_item"]

OTP_TYPES = frozenset({"OTP", "TOTP"})
"""Real servers, the SDKs and ``op`` say ``OTP``; the Connect OpenAPI spec says ``TOTP``."""

_SDK_TYPES = {
    "Text": "STRING",
    "Concealed": "CONCEALED",
    "Totp": "OTP",
    "Email": "EMAIL",
    "Url": "URL",
    "Phone": "PHONE",
    "Date": "DATE",
    "MonthYear": "MONTH_YEAR",
    "Menu": "MENU",
    "SshKey": "SSHKEY",
}


@dataclass(frozen=True)
class ItemField:
    id: str
    type: str
    purpose: str | None = None
    label: str | None = None
    value: str | None = field(default=None, repr=False)
    section_id: str | None = None
    section_label: str | None = None
    totp: str | None = field(default=None, repr=False)
    """The code the server computed for an OTP field (fallback when the secret is unreadable)."""

    @property
    def is_otp(self) -> bool:
        return self.type.upper() in OTP_TYPES

    @property
    def name(self) -> str:
        return self.label or self.id


@dataclass(frozen=True)
class OnePasswordItem:
    id: str
    title: str
    vault_id: str | None
    category: str = "LOGIN"
    archived: bool = False
    urls: tuple[str, ...] = ()
    fields: tuple[ItemField, ...] = ()

    def by_purpose(self, purpose: str) -> ItemField | None:
        return next((f for f in self.fields if f.purpose == purpose), None)

    def otp_field(self) -> ItemField | None:
        """The item's (primary) one-time password field, wherever it sits."""
        return next((f for f in self.fields if f.is_otp), None)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(value: Any) -> list[Any]:
    """A JSON array, else nothing (a wrong-typed member is ignored, not iterated)."""
    return value if isinstance(value, list) else []


def _urls(entries: Any, key: str) -> tuple[str, ...]:
    if not isinstance(entries, list):
        return ()
    found = [e for e in entries if isinstance(e, Mapping) and isinstance(e.get(key), str)]
    found.sort(key=lambda e: not e.get("primary", False))
    return tuple(str(e[key]) for e in found)


def parse_item(data: Any, *, source: str) -> OnePasswordItem:
    """Normalise a Connect ``FullItem`` or an ``op item get`` JSON document."""
    if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
        raise VaultUnavailable(f"{source} returned something that is not a 1Password item")
    sections: dict[str, str | None] = {}
    for section in _list(data.get("sections")):
        if isinstance(section, Mapping) and isinstance(section.get("id"), str):
            sections[section["id"]] = _text(section.get("label"))
    fields: list[ItemField] = []
    for raw in _list(data.get("fields")):
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
            continue
        section = raw.get("section")
        section_id = _text(section.get("id")) if isinstance(section, Mapping) else None
        section_label = _text(section.get("label")) if isinstance(section, Mapping) else None
        if section_id is not None and section_label is None:
            section_label = sections.get(section_id)
        fields.append(
            ItemField(
                id=raw["id"],
                type=str(raw.get("type") or "STRING").upper(),
                purpose=_text(raw.get("purpose")) or None,
                label=_text(raw.get("label")),
                value=_text(raw.get("value")),
                section_id=section_id,
                section_label=section_label,
                totp=_text(raw.get("totp")) or None,
            )
        )
    vault = data.get("vault")
    return OnePasswordItem(
        id=data["id"],
        title=str(data.get("title") or ""),
        vault_id=_text(vault.get("id")) if isinstance(vault, Mapping) else None,
        category=str(data.get("category") or ""),
        archived=str(data.get("state") or "").upper() == "ARCHIVED",
        urls=_urls(data.get("urls"), "href"),
        fields=tuple(fields),
    )


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _enum_text(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


def from_sdk_item(item: Any) -> OnePasswordItem:
    """Normalise an ``onepassword-sdk`` ``Item`` (the built-in login fields have ids
    ``username`` / ``password`` and no ``purpose``)."""
    sections = {
        str(_get(s, "id")): (_text(_get(s, "title")) or None) for s in _get(item, "sections") or []
    }
    fields: list[ItemField] = []
    for raw in _get(item, "fields") or []:
        field_id = str(_get(raw, "id") or "")
        kind = _SDK_TYPES.get(_enum_text(_get(raw, "field_type")), "STRING")
        purpose = None
        if field_id == "username" and not _get(raw, "section_id"):
            purpose = "USERNAME"
        elif field_id == "password" and not _get(raw, "section_id"):
            purpose = "PASSWORD"
        details = _get(raw, "details")
        content = _get(details, "content") if details is not None else None
        code = _text(_get(content, "code")) if content is not None else None
        section_id = _text(_get(raw, "section_id")) or None
        fields.append(
            ItemField(
                id=field_id,
                type=kind,
                purpose=purpose,
                label=_text(_get(raw, "title")),
                value=_text(_get(raw, "value")) or None,
                section_id=section_id,
                section_label=sections.get(section_id) if section_id else None,
                totp=code or None,
            )
        )
    websites = _get(item, "websites") or []
    return OnePasswordItem(
        id=str(_get(item, "id")),
        title=str(_get(item, "title") or ""),
        vault_id=_text(_get(item, "vault_id")),
        category=_enum_text(_get(item, "category")),
        urls=tuple(str(_get(w, "url")) for w in websites if _get(w, "url")),
        fields=tuple(fields),
    )
