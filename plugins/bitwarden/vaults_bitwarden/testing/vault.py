"""The mutable vault contents served by the test server.

Items are encrypted once when added, so repeated syncs return identical documents.
Every change moves the account revision date forward, which is what makes
``bw sync`` fetch the vault again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.items import VaultItem, coerce_item
from vaults_bitwarden.testing.wire import Json, encrypt_cipher, sync_response

__all__ = ["VaultContents"]


@dataclass(frozen=True)
class _Entry:
    item: VaultItem
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

    def remove_item(self, item_id: str) -> VaultItem:
        """Delete an item and bump the revision date."""
        with self._lock:
            entry = self._entries.pop(item_id)
            self._bump()
        return entry.item

    @property
    def items(self) -> tuple[VaultItem, ...]:
        with self._lock:
            return tuple(e.item for e in self._entries.values())

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
