"""The ``bitwarden://`` backend: lookups in as few round trips as Bitwarden allows.

Round trips (``bw serve`` requests; ``bw`` runs for the CLI transport):

- ``bitwarden://<id>``: 1 (a search for the id; ``bw get item <id>`` for the CLI), plus
  ``GET /object/item/<id>`` only when the search does not list it (trash, archive, absent);
- ``bitwarden://<name>``: 1 (``GET /list/object/items?search=<name>``), exact name matched locally;
- ``bitwarden://?url=…``: 1 (``GET /list/object/items``), registered domain matched locally;
- ``resolve_many`` of N references: 1 (``GET /list/object/items``), all matched locally.

``organization=``/``collection=`` given by name add one listing each. The TOTP code is
computed locally from ``login.totp`` by the host, never fetched with a second call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from vaults.backend import VaultBackend
from vaults.errors import ItemNotFound, ReadOnlyVault, VaultsError
from vaults.refs import Reference
from vaults_bitwarden.lookup import (
    ItemIndex,
    Query,
    Scope,
    parse_query,
    resolve_scope,
    scope_listings,
    search_term,
    select,
)
from vaults_bitwarden.settings import ENV_VARS, BitwardenSettings
from vaults_bitwarden.transport import Item, Transport, WritingTransport

if TYPE_CHECKING:  # pydantic loads only when a model is built
    from vaults.models import Credential, TotpSecret
    from vaults.plain import PlainCredential

__all__ = ["BitwardenBackend"]

_ALL_ITEMS = "all items"


def totp_value(secret: TotpSecret | None) -> str | None:
    """What Bitwarden stores in ``login.totp`` for a secret (its apps read both forms)."""
    if secret is None:
        return None
    key = secret.secret.get_secret_value()
    if secret.encoder == "steam":
        return f"steam://{key}"
    plain = (secret.algorithm, secret.digits, secret.period) == ("SHA1", 6, 30)
    if plain and not secret.issuer and not secret.account:
        return key  # a bare key stays a bare key, as typed into Bitwarden's TOTP field
    return secret.to_uri()


def _outside_scope(query: Query) -> ItemNotFound:
    return ItemNotFound(f"Bitwarden has no {query.describe()}")


def decode_plain(item: Item) -> PlainCredential:
    """:func:`vaults_bitwarden.decode.decode_plain`, imported with the first answer: in a
    new process the native transport's KDF (begun in :meth:`BitwardenBackend.from_env`)
    runs meanwhile."""
    from vaults_bitwarden.decode import decode_plain as decode

    return decode(item)


def decode_item(item: Item) -> Credential:
    """:func:`vaults_bitwarden.decode.decode_item`, imported on first use."""
    from vaults_bitwarden.decode import decode_item as decode

    return decode(item)


class BitwardenBackend(VaultBackend):
    """Bitwarden through ``bw serve`` (``VAULTS_BITWARDEN_URL``), the server itself
    (``VAULTS_BITWARDEN_SERVER``, native) or the ``bw`` CLI."""

    scheme: ClassVar[str] = "bitwarden"
    display_name: ClassVar[str] = "Bitwarden"
    env_vars: ClassVar[tuple[str, ...]] = ENV_VARS

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BitwardenBackend:
        """``VAULTS_BITWARDEN_URL`` set: ``bw serve``; else ``VAULTS_BITWARDEN_SERVER`` set:
        the native ``api`` transport; else the ``bw`` CLI (``VAULTS_BITWARDEN_TRANSPORT``
        forces one)."""
        settings = BitwardenSettings.from_env(env)
        # each transport is imported only when chosen (a new process pays for one)
        transport: Transport
        if settings.transport == "serve":
            from vaults_bitwarden.serve_api import ServeTransport

            transport = ServeTransport(settings)
        elif settings.transport == "api":
            from vaults_bitwarden.native import early

            unlocking = early.start(settings)  # the KDF runs while the transport is imported
            from vaults_bitwarden.native.transport import ApiTransport

            transport = ApiTransport(settings, early=unlocking)
        else:
            from vaults_bitwarden.cli_transport import CliTransport

            transport = CliTransport(settings)
        return cls(transport)

    def __repr__(self) -> str:
        return f"BitwardenBackend(transport={self.transport!r})"

    # -- one reference -------------------------------------------------------------
    def _scope(self, query: Query) -> Scope:
        if not query.scoped:
            return Scope()
        need_orgs, need_cols = scope_listings(query)
        orgs = self.transport.list_organizations() if need_orgs else None
        cols = self.transport.list_collections() if need_cols else None
        return resolve_scope(query, orgs, cols)

    async def _ascope(self, query: Query) -> Scope:
        if not query.scoped:
            return Scope()
        need_orgs, need_cols = scope_listings(query)
        orgs = await self.transport.alist_organizations() if need_orgs else None
        cols = await self.transport.alist_collections() if need_cols else None
        return resolve_scope(query, orgs, cols)

    def fetch(self, ref: Reference) -> Credential:
        return self.fetch_plain(ref).to_credential()

    def fetch_plain(self, ref: Reference) -> PlainCredential:
        query = parse_query(ref)
        scope = self._scope(query)
        if query.item_id is not None:
            item = self.transport.get_item(query.item_id, query.describe())
            if not scope.admits(item):
                raise _outside_scope(query)
            return decode_plain(self.transport.reveal(item))
        items = self.transport.list_items(search_term(query), query.describe())
        return decode_plain(self.transport.reveal(self._selected(items, query, scope)))

    async def afetch(self, ref: Reference) -> Credential:
        query = parse_query(ref)
        scope = await self._ascope(query)
        if query.item_id is not None:
            item = await self.transport.aget_item(query.item_id, query.describe())
            if not scope.admits(item):
                raise _outside_scope(query)
            return decode_item(await self.transport.areveal(item))
        items = await self.transport.alist_items(search_term(query), query.describe())
        return decode_item(await self.transport.areveal(self._selected(items, query, scope)))

    @staticmethod
    def _selected(items: Sequence[Item], query: Query, scope: Scope) -> Item:
        item = select(items, query, scope)
        if item is None:  # an id absent from a listing
            raise _outside_scope(query)
        return item

    # -- many references: one listing, matched locally ---------------------------------
    @staticmethod
    def _parse_all(refs: Sequence[Reference]) -> list[Query | VaultsError]:
        parsed: list[Query | VaultsError] = []
        for ref in refs:
            try:
                parsed.append(parse_query(ref))
            except VaultsError as exc:
                parsed.append(exc)
        return parsed

    @staticmethod
    def _listings_needed(queries: Sequence[Query | VaultsError]) -> tuple[bool, bool]:
        flags = [scope_listings(q) for q in queries if isinstance(q, Query)]
        return any(f[0] for f in flags), any(f[1] for f in flags)

    def fetch_many(self, refs: Sequence[Reference]) -> list[Credential | VaultsError]:
        """One ``list items`` for all references (plus one organisation/collection listing
        if a filter names one), matched locally. An id absent from the listing (an item in
        the trash or archive) is fetched on its own."""
        parsed = self._parse_all(refs)
        if sum(isinstance(q, Query) for q in parsed) <= 1:
            return super().fetch_many(refs)
        need_orgs, need_cols = self._listings_needed(parsed)
        try:
            index = ItemIndex(self.transport.list_items(None, _ALL_ITEMS))
            orgs = self.transport.list_organizations() if need_orgs else None
            cols = self.transport.list_collections() if need_cols else None
        except VaultsError as exc:
            return [exc for _ in parsed]
        results: list[Credential | VaultsError] = []
        for query in parsed:
            if isinstance(query, VaultsError):
                results.append(query)
                continue
            try:
                scope = resolve_scope(query, orgs, cols)
                item = index.select(query, scope)
                if item is None:  # not listed: in the trash or archive, or absent
                    item = self.transport.get_item(
                        query.item_id or "", query.describe(), listed=False
                    )
                    if not scope.admits(item):
                        raise _outside_scope(query)
                results.append(decode_item(self.transport.reveal(item)))
            except VaultsError as exc:
                results.append(exc)
        return results

    async def afetch_many(
        self, refs: Sequence[Reference], concurrency: int = 8
    ) -> list[Credential | VaultsError]:
        """Async :meth:`fetch_many` (``concurrency`` is moot: one request does it all)."""
        parsed = self._parse_all(refs)
        if sum(isinstance(q, Query) for q in parsed) <= 1:
            return await super().afetch_many(refs, concurrency)
        need_orgs, need_cols = self._listings_needed(parsed)
        try:
            index = ItemIndex(await self.transport.alist_items(None, _ALL_ITEMS))
            orgs = await self.transport.alist_organizations() if need_orgs else None
            cols = await self.transport.alist_collections() if need_cols else None
        except VaultsError as exc:
            return [exc for _ in parsed]
        results: list[Credential | VaultsError] = []
        for query in parsed:
            if isinstance(query, VaultsError):
                results.append(query)
                continue
            try:
                scope = resolve_scope(query, orgs, cols)
                item = index.select(query, scope)
                if item is None:  # not listed: in the trash or archive, or absent
                    item = await self.transport.aget_item(
                        query.item_id or "", query.describe(), listed=False
                    )
                    if not scope.admits(item):
                        raise _outside_scope(query)
                results.append(decode_item(await self.transport.areveal(item)))
            except VaultsError as exc:
                results.append(exc)
        return results

    # -- writing ------------------------------------------------------------------------
    def _writer(self) -> WritingTransport:
        if not callable(getattr(self.transport, "write_totp", None)):
            raise ReadOnlyVault(
                f"the Bitwarden {self.transport.name} transport cannot store secrets"
            )
        return self.transport  # type: ignore[return-value]

    def check_writable(self) -> None:
        self._writer()

    def store_totp(self, ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
        """Set the login's TOTP field (``login.totp``) as Bitwarden's apps do: the
        ``otpauth://`` URI, the bare key for a bare default key, ``steam://KEY`` for Steam
        Guard; every other field as it is."""
        self._writer().write_totp(item.id, totp_value(secret), f"item {item.id}")

    # -- diagnostics and lifecycle ----------------------------------------------------------
    def status(self) -> str:
        """Bitwarden's vault state: ``unlocked``, ``locked`` or ``unauthenticated``."""
        return self.transport.status()

    async def astatus(self) -> str:
        return await self.transport.astatus()

    def close(self) -> None:
        self.transport.close()

    async def aclose(self) -> None:
        await self.transport.aclose()
