"""The native ``api`` transport: :class:`~vaults_bitwarden.transport.Transport` over the
Bitwarden server itself (:class:`~vaults_bitwarden.native.client.ApiSession`).

Listings come from the unlocked vault in memory, without secrets; the one item a lookup
selects is decrypted by :meth:`ApiTransport.reveal`. ``requests`` counts HTTP requests.
Async methods run the same code in a worker thread (after the first unlock everything is
local, apart from a revision check every 30 s).
"""

from __future__ import annotations

from vaults.errors import InvalidInput, ItemNotFound
from vaults_bitwarden.native.client import ApiSession
from vaults_bitwarden.native.crypto import encrypt_text
from vaults_bitwarden.native.early import EarlyUnlock
from vaults_bitwarden.settings import BitwardenSettings
from vaults_bitwarden.transport import Item, in_thread

__all__ = ["ApiTransport"]


def _camel(key: str) -> str:
    """``Login`` -> ``login`` (servers answer in either case; requests are camelCase)."""
    return key[:1].lower() + key[1:]


class ApiTransport:
    """Bitwarden without Node.js: API key login, local decryption, an encrypted sync cache."""

    name = "api"

    def __init__(self, settings: BitwardenSettings, *, early: EarlyUnlock | None = None) -> None:
        self.session = ApiSession(settings, early=early)

    def __repr__(self) -> str:
        return f"ApiTransport(server={self.session.server!r})"

    @property
    def requests(self) -> int:
        return self.session.requests

    @requests.setter
    def requests(self, value: int) -> None:
        self.session.requests = value

    # -- sync ---------------------------------------------------------------------------
    def get_item(self, item_id: str, what: str, *, listed: bool = True) -> Item:
        vault = self.session.unlocked()
        if vault.cipher(item_id) is None:
            vault = self.session.unlocked(force_check=True)  # created since the last check?
        if item_id.lower() in vault.broken:
            vault.reveal(item_id)  # raises UndecryptableItem naming the item
        if vault.cipher(item_id) is None:
            raise ItemNotFound(f"Bitwarden has no {what}")
        return vault.reveal(item_id)

    def write_totp(self, item_id: str, value: str | None, what: str) -> None:
        """``PUT /api/ciphers/<id>``: the item as the server holds it, every encrypted field
        copied as it is (also those this plugin does not model), ``login.totp`` encrypted
        anew with the item's own key (else its organisation's, else the user's), and
        ``lastKnownRevisionDate`` so the server refuses it when the item changed meanwhile."""
        vault = self.session.unlocked(force_check=True)
        cipher = vault.cipher(item_id)
        if cipher is None:
            raise ItemNotFound(f"Bitwarden has no {what}")
        body = {_camel(key): entry for key, entry in cipher.items()}
        login = body.get("login")
        if body.get("type") != 1 or not isinstance(login, dict):
            raise InvalidInput(f"Bitwarden {what} is not a login: only logins hold a TOTP secret")
        login = {_camel(key): entry for key, entry in login.items()}
        login["totp"] = encrypt_text(vault.item_key(cipher), value)
        body["login"] = login
        body["lastKnownRevisionDate"] = body.get("revisionDate")
        self.session.api("PUT", f"/ciphers/{cipher.get('id') or cipher.get('Id')}", body, what=what)
        self.session.unlocked(force_check=True)  # the write moved the revision: sync now

    def list_items(self, search: str | None, what: str) -> list[Item]:
        """Every item (not in the trash), without secrets. With ``search`` (a lookup by
        name) the URIs are left out: they are not needed, and not decrypted."""
        vault = self.session.unlocked()
        return list(vault.names() if search else vault.listing())

    def reveal(self, item: Item) -> Item:
        """The whole item (secrets decrypted now) for a listing entry."""
        if "fields" in item:
            return item  # already whole (get_item)
        return self.session.unlocked().reveal(str(item["id"]))

    async def areveal(self, item: Item) -> Item:
        if "fields" in item:
            return item
        return await in_thread(self.reveal, item)

    def list_organizations(self) -> list[Item]:
        return list(self.session.unlocked().organizations)

    def list_collections(self) -> list[Item]:
        return list(self.session.unlocked().collections)

    def status(self) -> str:
        return self.session.status()

    def close(self) -> None:
        self.session.close()

    # -- async --------------------------------------------------------------------------
    async def aget_item(self, item_id: str, what: str, *, listed: bool = True) -> Item:
        return await in_thread(lambda: self.get_item(item_id, what, listed=listed))

    async def alist_items(self, search: str | None, what: str) -> list[Item]:
        return await in_thread(self.list_items, search, what)

    async def alist_organizations(self) -> list[Item]:
        return await in_thread(self.list_organizations)

    async def alist_collections(self) -> list[Item]:
        return await in_thread(self.list_collections)

    async def astatus(self) -> str:
        return self.status()

    async def aclose(self) -> None:
        self.close()
