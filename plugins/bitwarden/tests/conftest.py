"""Shared helpers of the Bitwarden plugin tests.

``make_item`` builds item JSON as ``bw get item`` / ``bw serve`` print it (for unit tests).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

import pytest

_counter = itertools.count(1)


def new_id() -> str:
    return str(uuid.UUID(int=0x5EED_0000_0000_4000_8000_000000000000 + next(_counter)))


def login_item(
    name: str,
    *,
    id: str | None = None,
    username: str | None = "user@example.test",
    password: str | None = "pw-not-a-secret",
    totp: str | None = None,
    uris: list[str | tuple[str, int | None]] | None = None,
    fields: list[dict[str, Any]] | None = None,
    organization_id: str | None = None,
    collection_ids: list[str] | None = None,
    favorite: bool = False,
    revision: str = "2025-01-01T00:00:00.000Z",
    deleted: str | None = None,
    kind: int = 1,
) -> dict[str, Any]:
    uri_entries = []
    for entry in uris or []:
        uri, match = (entry, None) if isinstance(entry, str) else entry
        uri_entries.append({"match": match, "uri": uri})
    item: dict[str, Any] = {
        "passwordHistory": None,
        "revisionDate": revision,
        "creationDate": "2024-01-01T00:00:00.000Z",
        "deletedDate": deleted,
        "object": "item",
        "id": id or new_id(),
        "organizationId": organization_id,
        "folderId": None,
        "type": kind,
        "reprompt": 0,
        "name": name,
        "notes": None,
        "favorite": favorite,
        "fields": fields or [],
        "collectionIds": collection_ids or [],
    }
    if kind == 1:
        item["login"] = {
            "fido2Credentials": [],
            "uris": uri_entries,
            "username": username,
            "password": password,
            "totp": totp,
            "passwordRevisionDate": None,
        }
    elif kind == 2:
        item["secureNote"] = {"type": 0}
    return item


ItemFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_item() -> ItemFactory:
    """``make_item(name, username=..., totp=..., uris=[...], ...)`` -> item JSON."""
    return login_item
