"""An unlocked Bitwarden vault: the keys, and the items decrypted as the official clients do.

Built from the (encrypted) ``GET /api/sync`` document and the master password:

- the user key is the profile's ``key`` (type 2 under the stretched master key); a MAC
  failure there means a wrong master password;
- the RSA private key is the profile's ``privateKey`` (type 2 under the user key);
- each organisation key is the organisation's ``key`` (type 4/6 under the private key);
- an item is encrypted under its own ``key`` when it has one (type 2 under the user or
  organisation key), else under the organisation key (organisation items) or the user key.

Only what lookups need is decrypted up front (names, URIs, metadata: :meth:`Vault.listing`);
secrets are decrypted for the one item a lookup selects (:meth:`Vault.reveal`). A URI whose
``uriChecksum`` does not match is dropped, as the official clients drop it, for items with
their own key (older items without one have no checksum to check).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from vaults.errors import AuthenticationFailed, ItemNotFound, VaultUnavailable
from vaults_bitwarden.native.crypto import (
    EncStringError,
    KdfParams,
    MacMismatch,
    SymmetricKey,
    decrypt_text,
    decrypt_type2,
    encrypt_text,
    load_private_key,
    make_master_key,
    stretch_master_key,
    unwrap_symmetric_key,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["UndecryptableItem", "Vault", "unlock"]

log = logging.getLogger("vaults_bitwarden.api")

Json = dict[str, Any]
_LOGIN: Final = 1
_SECURE_NOTE: Final = 2


class UndecryptableItem(VaultUnavailable):
    """An item (or a key) fails authentication: tampered data or a broken key."""


def _get(data: Mapping[str, Any], name: str) -> Any:
    """A member in camelCase or PascalCase (servers write either)."""
    if name in data:
        return data[name]
    return data.get(name[:1].upper() + name[1:])


def _profile(sync: Mapping[str, Any]) -> Mapping[str, Any]:
    profile = _get(sync, "profile")
    if not isinstance(profile, Mapping):
        raise VaultUnavailable("the Bitwarden server's sync reply has no profile")
    return profile


def _wrapped_private_key(profile: Mapping[str, Any]) -> str | None:
    keys = _get(profile, "accountKeys")
    if isinstance(keys, Mapping):
        pair = keys.get("publicKeyEncryptionKeyPair")
        if isinstance(pair, Mapping) and isinstance(pair.get("wrappedPrivateKey"), str):
            return str(pair["wrappedPrivateKey"])
    value = _get(profile, "privateKey")
    return value if isinstance(value, str) else None


def _checksum(uri: str) -> str:
    return base64.b64encode(hashlib.sha256(uri.encode("utf-8")).digest()).decode("ascii")


def _decrypt_nested(key: SymmetricKey, value: Any) -> Any:
    """Decrypt every EncString inside a card/identity/ssh key/secure note object."""
    if isinstance(value, str) and value.startswith("2."):
        return decrypt_text(key, value)
    if isinstance(value, Mapping):
        return {k: _decrypt_nested(key, v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decrypt_nested(key, v) for v in value]
    return value


@dataclass
class Vault:
    """The keys and items of one account, after unlocking. Keys never leave memory."""

    user_key: SymmetricKey = field(repr=False)
    private_key: rsa.RSAPrivateKey | None = field(repr=False)
    org_keys: dict[str, SymmetricKey] = field(repr=False)
    ciphers: dict[str, Json] = field(repr=False)
    organizations: list[Json]
    raw_collections: list[Any] = field(repr=False)
    """The sync's collections, names still encrypted (see :attr:`collections`)."""
    folders: list[Json]
    broken: dict[str, str] = field(default_factory=dict)
    """Ids of items that could not be decrypted → why (never listed; named on lookup by id)."""
    wrapped_org_keys: dict[str, str] = field(default_factory=dict, repr=False)
    """Organisation keys still wrapped (RSA): unwrapped on first use."""
    wrapped_private_key: str | None = field(default=None, repr=False)
    _listing: list[Json] | None = field(default=None, repr=False)
    _names: list[Json] | None = field(default=None, repr=False)
    _key_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    _collections: list[Json] | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"Vault(items={len(self.ciphers)}, organizations={len(self.org_keys)})"

    @property
    def collections(self) -> list[Json]:
        """The collections with their names, decrypted on first use: their organisation keys
        are RSA-wrapped, and a lookup of a personal item needs none of them."""
        if self._collections is None:
            self._collections = _named_list(self.raw_collections, "collection", self.owner_key)
        return self._collections

    # -- keys ---------------------------------------------------------------------------
    def _org_key(self, org_id: str) -> SymmetricKey | None:
        key = self.org_keys.get(org_id)
        if key is not None:
            return key
        with self._key_lock:
            return self._unwrap_org_key(org_id)

    def _unwrap_org_key(self, org_id: str) -> SymmetricKey | None:
        key = self.org_keys.get(org_id)
        if key is None and org_id in self.wrapped_org_keys:
            if self.private_key is None:
                if self.wrapped_private_key is None:
                    return None
                self.private_key = load_private_key(
                    decrypt_type2(self.user_key, self.wrapped_private_key)
                )
            key = unwrap_symmetric_key(
                self.wrapped_org_keys.pop(org_id), private_key=self.private_key
            )
            self.org_keys[org_id] = key
        return key

    def owner_key(self, cipher: Mapping[str, Any]) -> SymmetricKey:
        """The user key, or the organisation key for an organisation item."""
        org = _get(cipher, "organizationId")
        if org is None:
            return self.user_key
        try:
            key = self._org_key(str(org).lower())
        except EncStringError as exc:
            raise UndecryptableItem(
                f"cannot decrypt the key of organisation {org}: {exc}"
            ) from None
        if key is None:
            raise UndecryptableItem(
                f"no key for organisation {org} (not a confirmed member?); cannot decrypt item "
                f"{_get(cipher, 'id')}"
            )
        return key

    def item_key(self, cipher: Mapping[str, Any]) -> SymmetricKey:
        """The key an item's fields are encrypted under: its own ``key`` when it has one,
        else :meth:`owner_key`. Use it to encrypt fields when writing the item back."""
        owner = self.owner_key(cipher)
        wrapped = _get(cipher, "key")
        if wrapped is None:
            return owner
        return unwrap_symmetric_key(str(wrapped), owner)

    # -- listing (no secrets) -------------------------------------------------------------
    def _uris(self, login: Mapping[str, Any], key: SymmetricKey, checked: bool) -> list[Json]:
        uris: list[Json] = []
        for entry in _get(login, "uris") or []:
            if not isinstance(entry, Mapping) or _get(entry, "uri") is None:
                continue
            uri = decrypt_text(key, _get(entry, "uri"))
            if uri is None:
                continue
            if checked:
                checksum = _get(entry, "uriChecksum")
                if checksum is None or decrypt_text(key, checksum) != _checksum(uri):
                    log.warning("dropped a URI whose checksum does not match (item tampered?)")
                    continue
            match = _get(entry, "match")
            uris.append({"match": match if isinstance(match, int) else None, "uri": uri})
        return uris

    def _summary(self, cipher: Json, *, uris: bool = True) -> Json:
        key = self.item_key(cipher)
        kind = _get(cipher, "type")
        item: Json = {
            "object": "item",
            "id": str(_get(cipher, "id")).lower(),
            "organizationId": _lower(_get(cipher, "organizationId")),
            "folderId": _lower(_get(cipher, "folderId")),
            "type": kind,
            "reprompt": _get(cipher, "reprompt") or 0,
            "name": decrypt_text(key, _get(cipher, "name")) or "",
            "favorite": bool(_get(cipher, "favorite")),
            "collectionIds": [str(c).lower() for c in _get(cipher, "collectionIds") or []],
            "revisionDate": _get(cipher, "revisionDate"),
            "creationDate": _get(cipher, "creationDate"),
            "deletedDate": _get(cipher, "deletedDate"),
        }
        login = _get(cipher, "login")
        if kind == _LOGIN and isinstance(login, Mapping):
            checked = _get(cipher, "key") is not None
            item["login"] = {"uris": self._uris(login, key, checked) if uris else []}
        return item

    def _summaries(self, *, uris: bool) -> list[Json]:
        listing = []
        for cipher_id, cipher in self.ciphers.items():
            if _get(cipher, "deletedDate") is not None:
                continue
            try:
                listing.append(self._summary(cipher, uris=uris))
            except (EncStringError, UndecryptableItem) as exc:
                if cipher_id not in self.broken:
                    log.warning("Bitwarden item %s cannot be decrypted: %s", cipher_id, exc)
                self.broken[cipher_id] = str(exc)
        return listing

    def listing(self) -> list[Json]:
        """Every item not in the trash, without secrets (id, name, URIs, organisation,
        collections, folder, favourite, reprompt, dates). Decrypted once per sync."""
        if self._listing is None:
            self._listing = self._summaries(uris=True)
        return self._listing

    def names(self) -> list[Json]:
        """:meth:`listing` without the URIs (``login.uris`` empty): enough to look up by name
        or id, and cheaper to decrypt."""
        if self._listing is not None:
            return self._listing
        if self._names is None:
            self._names = self._summaries(uris=False)
        return self._names

    def export_index(self) -> str | None:
        """The listing (and the ids that failed) as one EncString under the user key."""
        document = {"listing": self.listing(), "broken": self.broken}
        return encrypt_text(self.user_key, json.dumps(document, separators=(",", ":")))

    def import_index(self, index: str) -> bool:
        """Take the listing from :meth:`export_index` (of the same sync); False if unusable."""
        try:
            document = json.loads(decrypt_text(self.user_key, index) or "")
        except (EncStringError, ValueError, RecursionError):
            return False
        if not isinstance(document, dict) or not isinstance(document.get("listing"), list):
            return False
        broken = document.get("broken")
        self._listing = [entry for entry in document["listing"] if isinstance(entry, dict)]
        self.broken = dict(broken) if isinstance(broken, dict) else {}
        return True

    def cipher(self, item_id: str) -> Json | None:
        return self.ciphers.get(item_id.lower())

    # -- one item, with its secrets -------------------------------------------------------
    def reveal(self, item_id: str) -> Json:
        """The whole item as ``bw get item`` prints it (decrypted now; trash included)."""
        cipher = self.cipher(item_id)
        if cipher is None:
            raise ItemNotFound(f"Bitwarden has no item with id {item_id}")
        try:
            return self._reveal(cipher)
        except EncStringError as exc:
            raise UndecryptableItem(
                f"Bitwarden item {item_id} cannot be decrypted: {exc}"
            ) from None

    def _reveal(self, cipher: Json) -> Json:
        item = self._summary(cipher)
        key = self.item_key(cipher)
        item["notes"] = decrypt_text(key, _get(cipher, "notes"))
        item["key"] = _get(cipher, "key")
        fields = []
        for raw in _get(cipher, "fields") or []:
            if not isinstance(raw, Mapping):
                continue
            entry: Json = {
                "name": decrypt_text(key, _get(raw, "name")),
                "value": decrypt_text(key, _get(raw, "value")),
                "type": _get(raw, "type"),
            }
            linked = _get(raw, "linkedId")
            if linked is not None:
                entry["linkedId"] = linked
            fields.append(entry)
        item["fields"] = fields
        login = _get(cipher, "login")
        if item["type"] == _LOGIN and isinstance(login, Mapping):
            item["login"].update(
                username=decrypt_text(key, _get(login, "username")),
                password=decrypt_text(key, _get(login, "password")),
                totp=decrypt_text(key, _get(login, "totp")),
                passwordRevisionDate=_get(login, "passwordRevisionDate"),
            )
        for part in ("secureNote", "card", "identity", "sshKey"):
            value = _get(cipher, part)
            if isinstance(value, Mapping):
                item[part] = _decrypt_nested(key, value)
        if item["type"] == _SECURE_NOTE and "secureNote" not in item:
            item["secureNote"] = {"type": 0}
        return item


def _lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def unlock(
    sync: Mapping[str, Any],
    master_key: bytes,
    *,
    source: str,
) -> Vault:
    """Decrypt the key hierarchy of a sync document with the master key.

    Raises :class:`AuthenticationFailed` when the master key does not open the user key
    (a wrong ``BW_PASSWORD``), :class:`UndecryptableItem` for broken account keys."""
    profile = _profile(sync)
    protected = _get(profile, "key")
    if not isinstance(protected, str):
        raise VaultUnavailable(f"{source}: the account has no protected user key")
    try:
        user_key = unwrap_symmetric_key(protected, stretch_master_key(master_key))
    except MacMismatch:
        raise AuthenticationFailed(
            f"{source}: BW_PASSWORD does not unlock this account (wrong master password)"
        ) from None
    except EncStringError as exc:
        raise AuthenticationFailed(f"{source}: cannot unlock the user key: {exc}") from None
    wrapped_org_keys: dict[str, str] = {}
    organizations: list[Json] = []
    for org in _get(profile, "organizations") or []:
        if not isinstance(org, Mapping) or _get(org, "id") is None:
            continue
        org_id = str(_get(org, "id")).lower()
        organizations.append({"object": "organization", "id": org_id, "name": _get(org, "name")})
        enc = _get(org, "key")
        if isinstance(enc, str):
            wrapped_org_keys[org_id] = enc  # unwrapped (RSA) when an item of it is first read

    ciphers: dict[str, Json] = {}
    for cipher in _get(sync, "ciphers") or []:
        if isinstance(cipher, dict) and isinstance(_get(cipher, "id"), str):
            ciphers[str(_get(cipher, "id")).lower()] = cipher
    vault = Vault(
        user_key=user_key,
        private_key=None,
        org_keys={},
        ciphers=ciphers,
        organizations=organizations,
        raw_collections=list(_get(sync, "collections") or []),
        folders=[],
        wrapped_org_keys=wrapped_org_keys,
        wrapped_private_key=_wrapped_private_key(profile),
    )
    vault.folders = _named_list(_get(sync, "folders") or [], "folder", lambda _: user_key)
    return vault


def _named_list(
    members: list[Any],
    kind: str,
    key_for: Callable[[Mapping[str, Any]], SymmetricKey],
) -> list[Json]:
    entries: list[Json] = []
    for raw in members:
        if not isinstance(raw, Mapping) or _get(raw, "id") is None:
            continue
        entry: Json = {"object": kind, "id": str(_get(raw, "id")).lower()}
        if _get(raw, "organizationId") is not None:
            entry["organizationId"] = str(_get(raw, "organizationId")).lower()
        try:
            entry["name"] = decrypt_text(key_for(raw), _get(raw, "name"))
        except (EncStringError, UndecryptableItem):
            entry["name"] = None
        entries.append(entry)
    return entries


def derive_master_key(password: str, salt: str, kdf: KdfParams) -> bytes:
    """The master key (the slow part of unlocking)."""
    return make_master_key(password, salt, kdf)
