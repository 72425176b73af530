"""Put a TOTP secret into a 1Password item the way 1Password's apps do.

An item keeps its one-time password in a field of type ``OTP`` labelled ``one-time password``
whose id is ``TOTP_`` and a 26-character 1Password id, inside a section (like the item JSON
Connect and ``op item get`` return). :func:`with_otp` changes only that: an existing OTP field
gets the new value, else a new field is added to the item's unnamed section (created when the
item has none); every other key of the item, known to this plugin or not, is kept.
"""

from __future__ import annotations

import copy
import secrets
import uuid
from typing import Any

from vaults.errors import InvalidInput
from vaults_onepassword.items import OTP_TYPES

__all__ = ["OTP_LABEL", "with_otp"]

OTP_LABEL = "one-time password"
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_LINKED = "linked items"


def _new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


def _otp_fields(fields: list[Any]) -> list[dict[str, Any]]:
    return [
        f for f in fields if isinstance(f, dict) and str(f.get("type", "")).upper() in OTP_TYPES
    ]


def with_otp(item: dict[str, Any], value: str | None, what: str) -> dict[str, Any]:
    """A copy of ``item`` (Connect or ``op`` item JSON) whose one-time password is ``value``
    (``None``: the OTP field removed)."""
    updated = copy.deepcopy(item)
    fields = updated.setdefault("fields", [])
    if not isinstance(fields, list):
        raise InvalidInput(f"1Password {what} has no field list")
    existing = _otp_fields(fields)
    if len(existing) > 1:
        raise InvalidInput(
            f"1Password {what} has {len(existing)} one-time password fields; edit it in "
            "1Password (which one should change?)"
        )
    if existing:
        field = existing[0]
        field.pop("totp", None)  # computed by the server from the value
        if value is None:
            fields.remove(field)
        else:
            field["value"] = value
        return updated
    if value is None:
        return updated
    sections = updated.setdefault("sections", [])
    if not isinstance(sections, list):
        raise InvalidInput(f"1Password {what} has no section list")
    unnamed = next(
        (
            s
            for s in sections
            if isinstance(s, dict) and s.get("id") != _LINKED and not s.get("label")
        ),
        None,
    )
    if unnamed is None:
        unnamed = {"id": f"Section_{uuid.uuid4().hex.upper()}"}
        sections.append(unnamed)
    fields.append(
        {
            "id": f"TOTP_{_new_id()}",
            "section": {"id": unnamed["id"]},
            "type": "OTP",
            "label": OTP_LABEL,
            "value": value,
        }
    )
    return updated
