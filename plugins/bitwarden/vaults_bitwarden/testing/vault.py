"""The mutable vault contents served by the test server.

Items given in clear text (:class:`VaultItem`) are encrypted once when added, so repeated
syncs return identical documents. Ciphers a client writes (``bw create item``,
``bw edit item``, ``bw serve``'s ``POST /object/item``) are stored exactly as the client
encrypted them. Every change moves the account revision date forward, which is what
makes ``bw sync`` fetch the vault again.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.items import VaultItem, coerce_item
from vaults_bitwarden.testing.wire import (
    CipherRequestError,
    Json,
    bitwarden_date,
    cipher_from_request,
    encrypt_cipher,
    sync_response,
)

__all__ = ["VaultContents"]


@dataclass(frozen=True)
class _Entry:
    item: VaultItem | None
    """The clear-text item, or None for a cipher a client wrote (only its ciphertext exists)."""
    creation_date: datetime
    cipher: Json


def _now_ms() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class VaultContents:
    """Thread-safe store of the account's items, with the account revision date."""

    def __init__(
        self, account: BitwardenAccount, items: Iterable[VaultItem | Mapping[str, Any]] = ()
    ) -> None:
        self._account = account
        self._lock = threading.Lock()
        self._entries: dict[str, _Entry] = {}
        self._revision_date = _now_ms()
        self._folder_revision_date = self._revision_date
        for item in items:
            self.add_item(item)

    def _bump(self) -> datetime:
        # Called with the lock held. Strictly increasing, millisecond resolution.
        candidate = _now_ms()
        if candidate <= self._revision_date:
            candidate = self._revision_date + timedelta(milliseconds=1)
        self._revision_date = candidate
        return candidate

    def _entry(self, item: VaultItem, creation_date: datetime | None) -> _Entry:
        revision = self._bump()
        created = revision if creation_date is None else creation_date
        cipher = encrypt_cipher(self._account, item, creation_date=created, revision_date=revision)
        return _Entry(item=item, creation_date=created, cipher=cipher)

    def add_item(self, item: VaultItem | Mapping[str, Any]) -> VaultItem:
        """Add a new item (its id must be new) and bump the revision date."""
        vault_item = coerce_item(item)
        with self._lock:
            if vault_item.id in self._entries:
                raise ValueError(f"an item with id {vault_item.id} already exists")
            self._entries[vault_item.id] = self._entry(vault_item, None)
        return vault_item

    def update_item(self, item: VaultItem | Mapping[str, Any]) -> VaultItem:
        """Replace the item with the same id and bump the revision date."""
        vault_item = coerce_item(item)
        with self._lock:
            old = self._entries.get(vault_item.id)
            if old is None:
                raise KeyError(vault_item.id)
            self._entries[vault_item.id] = self._entry(vault_item, old.creation_date)
        return vault_item

    def remove_item(self, item_id: str) -> VaultItem | None:
        """Delete an item (or a client-written cipher: returns None) and bump the revision."""
        with self._lock:
            entry = self._entries.pop(item_id)
            self._bump()
        return entry.item

    # -- ciphers written by clients ---------------------------------------------------------
    def create_cipher(self, request: Json, collection_ids: list[str] | None = None) -> Json:
        """Store a client's encrypted cipher under a new id; return the stored document."""
        with self._lock:
            revision = self._bump()
            cipher_id = str(uuid.uuid4())
            cipher = cipher_from_request(
                self._account,
                request,
                cipher_id=cipher_id,
                collection_ids=list(collection_ids or ()),
                creation_date=revision,
                revision_date=revision,
            )
            self._entries[cipher_id] = _Entry(item=None, creation_date=revision, cipher=cipher)
            return dict(cipher)

    def replace_cipher(self, cipher_id: str, request: Json) -> Json:
        """``PUT /api/ciphers/{id}``: replace a cipher with the client's new encryption.

        Raises :class:`KeyError` for an unknown id and :class:`CipherRequestError` when the
        client's ``lastKnownRevisionDate`` is not the stored one (someone else changed it)."""
        with self._lock:
            old = self._entries[cipher_id.lower()]
            known = request.get("lastKnownRevisionDate") if isinstance(request, dict) else None
            if known is not None and not _same_moment(str(known), old.cipher["revisionDate"]):
                raise CipherRequestError(
                    "The cipher you are updating is out of date. Please save your work, "
                    "sync your vault, and try again."
                )
            revision = self._bump()
            cipher = cipher_from_request(
                self._account,
                request,
                cipher_id=old.cipher["id"],
                collection_ids=list(old.cipher.get("collectionIds") or ()),
                creation_date=old.creation_date,
                revision_date=revision,
            )
            if old.cipher.get("organizationId") != cipher.get("organizationId"):
                raise CipherRequestError("Use the share endpoint to move a cipher.")
            self._entries[cipher["id"]] = _Entry(None, old.creation_date, cipher)
            return dict(cipher)

    def delete_cipher(self, cipher_id: str, *, permanent: bool = False) -> None:
        """``PUT /api/ciphers/{id}/delete`` (to the trash) or ``DELETE`` (for good)."""
        with self._lock:
            old = self._entries[cipher_id.lower()]
            revision = self._bump()
            if permanent:
                del self._entries[cipher_id.lower()]
                return
            cipher = dict(old.cipher)
            cipher.update(
                deletedDate=bitwarden_date(revision), revisionDate=bitwarden_date(revision)
            )
            self._entries[cipher_id.lower()] = _Entry(old.item, old.creation_date, cipher)

    def restore_cipher(self, cipher_id: str) -> Json:
        """``PUT /api/ciphers/{id}/restore``: out of the trash."""
        with self._lock:
            old = self._entries[cipher_id.lower()]
            revision = self._bump()
            cipher = dict(old.cipher)
            cipher.update(deletedDate=None, revisionDate=bitwarden_date(revision))
            self._entries[cipher_id.lower()] = _Entry(old.item, old.creation_date, cipher)
            return dict(cipher)

    def cipher(self, cipher_id: str) -> Json:
        """The stored (encrypted) document of one cipher; :class:`KeyError` if unknown."""
        with self._lock:
            return dict(self._entries[cipher_id.lower()].cipher)

    @property
    def ciphers(self) -> tuple[Json, ...]:
        with self._lock:
            return tuple(dict(e.cipher) for e in self._entries.values())

    @property
    def items(self) -> tuple[VaultItem, ...]:
        """The items given in clear text (ciphers written by clients are not among them)."""
        with self._lock:
            return tuple(e.item for e in self._entries.values() if e.item is not None)

    @property
    def revision_date(self) -> datetime:
        with self._lock:
            return self._revision_date

    def revision_epoch_ms(self) -> int:
        return round(self.revision_date.timestamp() * 1000)

    def sync_document(self) -> Json:
        with self._lock:
            ciphers = [e.cipher for e in self._entries.values()]
            folder_revision = self._folder_revision_date
        return sync_response(self._account, ciphers, folder_revision_date=folder_revision)


def _same_moment(a: str, b: str) -> bool:
    """Two server dates equal to the millisecond (clients send them back re-formatted)."""
    try:
        first = datetime.fromisoformat(a.replace("Z", "+00:00"))
        second = datetime.fromisoformat(b.replace("Z", "+00:00"))
        return abs((first - second).total_seconds()) < 0.001
    except (ValueError, TypeError):  # unparseable, or one without a time zone
        return False
