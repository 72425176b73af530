"""Render seed data the way 1Password puts it on the wire.

Connect REST (camelCase, OpenAPI ``Vault`` / ``Item`` / ``FullItem``) and ``op item get --format
json`` (snake_case top-level keys, fields carrying ``reference``). OTP fields get a ``totp`` code
computed at render time, like the real server and CLI do.
"""

from __future__ import annotations

from typing import Any

from vaults_onepassword.testing.otp_oracle import current_code

JsonDict = dict[str, Any]

_SEED_ONLY_ITEM_KEYS = {"state", "otpWireType", "sections", "fields"}
_OTP_TYPES = {"OTP", "TOTP"}


def is_archived(item: JsonDict) -> bool:
    return item.get("state") == "ARCHIVED"


def active_items(vault: JsonDict) -> list[JsonDict]:
    return [i for i in vault["items"] if not is_archived(i)]


def connect_vault(vault: JsonDict) -> JsonDict:
    return {
        "id": vault["id"],
        "name": vault["name"],
        "attributeVersion": 1,
        "contentVersion": 1 + sum(int(i.get("version", 1)) for i in vault["items"]),
        "items": len(active_items(vault)),
        "type": vault.get("type", "USER_CREATED"),
        "createdAt": vault.get("createdAt"),
        "updatedAt": vault.get("updatedAt"),
    }


def connect_summary(vault: JsonDict, item: JsonDict) -> JsonDict:
    """An ``Item`` as listed by ``GET /v1/vaults/{v}/items``: no sections, no fields."""
    out: JsonDict = {"id": item["id"], "title": item["title"], "vault": {"id": vault["id"]}}
    out.update({k: v for k, v in item.items() if k not in _SEED_ONLY_ITEM_KEYS | {"id", "title"}})
    if is_archived(item):
        out["state"] = "ARCHIVED"
    return out


def _server_code(item: JsonDict, fld: JsonDict, at: float | None) -> str | None:
    source = fld.get("serverSecret") or fld.get("value")
    return current_code(source, at) if isinstance(source, str) else None


def _otp_type(item: JsonDict) -> str:
    return str(item.get("otpWireType", "OTP"))


def connect_field(item: JsonDict, fld: JsonDict, at: float | None = None) -> JsonDict:
    out = {k: v for k, v in fld.items() if k != "serverSecret"}
    if fld.get("section") is not None:
        out["section"] = {"id": fld["section"]["id"]}
    if fld.get("type") in _OTP_TYPES:
        out["type"] = _otp_type(item)
        code = _server_code(item, fld, at)
        if code is not None:
            out["totp"] = code
    return out


def connect_item(vault: JsonDict, item: JsonDict, at: float | None = None) -> JsonDict:
    """A ``FullItem`` as returned by ``GET /v1/vaults/{v}/items/{i}``."""
    out = connect_summary(vault, item)
    out["sections"] = [dict(s) for s in item.get("sections", [])]
    out["fields"] = [connect_field(item, f, at) for f in item.get("fields", [])]
    return out


def _section_labels(item: JsonDict) -> dict[str, str | None]:
    return {s["id"]: s.get("label") for s in item.get("sections", [])}


def op_reference(vault: JsonDict, item: JsonDict, fld: JsonDict) -> str:
    parts = [vault["name"], item["title"]]
    if fld.get("section") is not None:
        sid = fld["section"]["id"]
        parts.append(_section_labels(item).get(sid) or sid)
    parts.append(fld.get("label") or fld["id"])
    return "op://" + "/".join(parts)


def op_field(vault: JsonDict, item: JsonDict, fld: JsonDict, at: float | None = None) -> JsonDict:
    out: JsonDict = {"id": fld["id"], "type": fld.get("type", "STRING")}
    for key in ("purpose", "label", "value", "entropy"):
        if key in fld:
            out[key] = fld[key]
    if fld.get("section") is not None:
        sid = fld["section"]["id"]
        section: JsonDict = {"id": sid}
        label = _section_labels(item).get(sid)
        if label:
            section["label"] = label
        out["section"] = section
    if fld.get("type") in _OTP_TYPES:
        out["type"] = _otp_type(item)
        code = _server_code(item, fld, at)
        if code is not None:
            out["totp"] = code
    out["reference"] = op_reference(vault, item, fld)
    return out


def op_item(vault: JsonDict, item: JsonDict, at: float | None = None) -> JsonDict:
    """``op item get ITEM --vault V --format json`` output."""
    out: JsonDict = {
        "id": item["id"],
        "title": item["title"],
        "version": item.get("version", 1),
        "vault": {"id": vault["id"], "name": vault["name"]},
        "category": item.get("category", "LOGIN"),
        "last_edited_by": item.get("lastEditedBy", ""),
        "created_at": item.get("createdAt"),
        "updated_at": item.get("updatedAt"),
    }
    username = next(
        (f.get("value") for f in item.get("fields", []) if f.get("purpose") == "USERNAME"), None
    )
    if username:
        out["additional_information"] = username
    if item.get("urls"):
        out["urls"] = [dict(u) for u in item["urls"]]
    if item.get("sections"):
        out["sections"] = [dict(s) for s in item["sections"]]
    out["fields"] = [op_field(vault, item, f, at) for f in item.get("fields", [])]
    return out
