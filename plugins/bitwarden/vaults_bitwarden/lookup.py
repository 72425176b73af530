"""Which item a ``bitwarden://`` reference names, decided locally over listed items.

Reference forms:

- ``bitwarden://<uuid>`` — by id.
- ``bitwarden://<name>`` — by exact name. ``bw``'s search is fuzzy (a substring of name,
  username or URI), so the listing is filtered to names equal to the reference: an exact
  (case-sensitive) match first, else a case-insensitive one; names are compared in Unicode
  NFC. One match wins (``GitHub`` beats ``GitHub Enterprise``); several raise
  :class:`AmbiguousItem` with their ids; none raises :class:`ItemNotFound`.
- ``bitwarden://?url=https://portal.example.com/login`` — by login URI (see :func:`select_by_url`).

``organization=`` and ``collection=`` (an id, or a name matched case-insensitively) narrow
any form: ``bitwarden://GitHub?organization=Acme``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import IntEnum
from typing import Final, NamedTuple

from vaults.errors import AmbiguousItem, InvalidReference, ItemNotFound
from vaults.refs import Reference
from vaults_bitwarden.decode import entries, item_id, item_name
from vaults_bitwarden.domains import Location, locate
from vaults_bitwarden.transport import Item

__all__ = [
    "Item",
    "ItemIndex",
    "MatchStrategy",
    "Query",
    "Scope",
    "is_uuid",
    "parse_query",
    "resolve_scope",
    "scope_listings",
    "search_term",
    "select",
    "select_by_name",
    "select_by_url",
    "url_rank",
]


_UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_KEYS: Final = ("url", "organization", "collection")


def is_uuid(text: str) -> bool:
    return _UUID.fullmatch(text.strip()) is not None


class Query(NamedTuple):
    """A parsed reference: exactly one of ``item_id``, ``name``, ``url`` is set."""

    raw: str
    item_id: str | None = None
    name: str | None = None
    url: str | None = None
    organization: str | None = None
    collection: str | None = None

    def describe(self) -> str:
        """How error messages name what was asked for."""
        if self.item_id is not None:
            what = f"item with id {self.item_id}"
        elif self.name is not None:
            what = f"item named {self.name!r}"
        else:
            what = f"login for URL {self.url!r}"
        scope = [
            f"{key} {value!r}"
            for key, value in (("organization", self.organization), ("collection", self.collection))
            if value is not None
        ]
        return f"{what} in {' and '.join(scope)}" if scope else what

    @property
    def scoped(self) -> bool:
        return self.organization is not None or self.collection is not None


def parse_query(ref: Reference) -> Query:
    """Read a ``bitwarden://`` reference; raises :class:`InvalidReference` when malformed."""
    params = ref.query
    unknown = sorted(set(params) - set(_KEYS))
    if unknown:
        raise InvalidReference(
            f"bitwarden references accept only {', '.join(k + '=' for k in _KEYS)} parameters, "
            f"not {', '.join(unknown)}= (percent-encode '&' and '?' inside a url= value)"
        )
    organization = params.get("organization", "").strip() or None
    collection = params.get("collection", "").strip() or None
    url = params.get("url", "").strip() or None
    path = ref.path
    if url is not None:
        if path.strip():
            raise InvalidReference(
                "a bitwarden reference names an item or a url=, not both: "
                "write bitwarden://?url=https://… or bitwarden://NAME"
            )
        if locate(url) is None:
            raise InvalidReference(f"url= must be an http(s) address, got {url[:80]!r}")
        return Query(ref.raw, url=url, organization=organization, collection=collection)
    if not path.strip():
        raise InvalidReference(
            "a bitwarden reference needs an item id, a name or ?url=…, "
            "e.g. bitwarden://GitHub or bitwarden://?url=https://github.com"
        )
    if is_uuid(path):
        return Query(
            ref.raw, item_id=path.strip().lower(), organization=organization, collection=collection
        )
    return Query(ref.raw, name=path, organization=organization, collection=collection)


def search_term(query: Query) -> str | None:
    """The ``search`` to send with the listing for ``query``, or ``None`` for a full listing.

    ``bw`` lowercases the item name but strips accents from the search text only, so a
    search can miss a name with accents: such names (anything non-ASCII) list everything.
    """
    if query.name is not None and query.name.isascii() and query.name.strip():
        return query.name
    return None


# -- organisation / collection scope -----------------------------------------------


class Scope(NamedTuple):
    """Allowed organisation and collection ids (``None``: no restriction)."""

    organizations: frozenset[str] | None = None
    collections: frozenset[str] | None = None

    def admits(self, item: Item) -> bool:
        if self.organizations is not None:
            org = item.get("organizationId")
            if not isinstance(org, str) or org.lower() not in self.organizations:
                return False
        if self.collections is not None:
            ids = entries(item.get("collectionIds"))
            if not any(isinstance(c, str) and c.lower() in self.collections for c in ids):
                return False
        return True


def _ids_named(
    kind: str, value: str, entries: Iterable[Item], keep: Callable[[Item], bool]
) -> frozenset[str]:
    wanted = unicodedata.normalize("NFC", value).casefold()
    ids = frozenset(
        str(entry["id"]).lower()
        for entry in entries
        if isinstance(entry.get("id"), str)
        and keep(entry)
        and unicodedata.normalize("NFC", str(entry.get("name") or "")).casefold() == wanted
    )
    if not ids:
        raise ItemNotFound(f"Bitwarden has no {kind} named {value!r}")
    return ids


def scope_listings(query: Query) -> tuple[bool, bool]:
    """Whether resolving ``query``'s scope needs the organisation / collection listings
    (only names need them; ids are used as given)."""
    return (
        query.organization is not None and not is_uuid(query.organization),
        query.collection is not None and not is_uuid(query.collection),
    )


def resolve_scope(
    query: Query,
    organizations: Sequence[Item] | None = None,
    collections: Sequence[Item] | None = None,
) -> Scope:
    """The :class:`Scope` of ``query``; names are looked up in the listings (required
    when :func:`scope_listings` says so). Every organisation/collection with that name
    counts; a collection name only counts inside the organisation filter."""
    orgs: frozenset[str] | None = None
    if query.organization is not None:
        if is_uuid(query.organization):
            orgs = frozenset({query.organization.lower()})
        else:
            orgs = _ids_named("organization", query.organization, organizations or (), _any)
    cols: frozenset[str] | None = None
    if query.collection is not None:
        if is_uuid(query.collection):
            cols = frozenset({query.collection.lower()})
        else:
            allowed = orgs

            def in_orgs(entry: Item) -> bool:
                org = entry.get("organizationId")
                return allowed is None or (isinstance(org, str) and org.lower() in allowed)

            cols = _ids_named("collection", query.collection, collections or (), in_orgs)
    return Scope(orgs, cols)


def _any(_: Item) -> bool:
    return True


# -- by name -----------------------------------------------------------------------------


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _named(exact: list[Item], name: str, near: Callable[[], int], what: str) -> Item:
    if len(exact) == 1:
        return exact[0]
    if exact:
        raise AmbiguousItem(
            f"Bitwarden: {len(exact)} items are named {name!r}; use bitwarden://<id> "
            "or add ?organization=/?collection=",
            sorted(item_id(i) for i in exact),
        )
    count = near()
    hint = f" ({count} other item names contain that text)" if count else ""
    raise ItemNotFound(f"Bitwarden has no {what}{hint}")


def select_by_name(items: Iterable[Item], name: str, what: str) -> Item:
    """The one item called ``name`` (see the module docstring for the rule)."""
    return ItemIndex(items).by_name(name, Scope(), what)


# -- by URL --------------------------------------------------------------------------------


class MatchStrategy(IntEnum):
    """Bitwarden's per-URI match detection (``login.uris[].match``; ``null`` = domain)."""

    DOMAIN = 0
    HOST = 1
    STARTS_WITH = 2
    EXACT = 3
    REGEX = 4
    NEVER = 5


class Rank(IntEnum):
    NONE = 0
    DOMAIN = 1
    HOST = 2
    EXACT = 3


def _uri_rank(uri: str, strategy: int | None, target: str, where: Location) -> Rank:
    stored = uri.strip()
    if strategy == MatchStrategy.NEVER:
        return Rank.NONE
    if strategy == MatchStrategy.REGEX:
        try:
            return Rank.HOST if re.search(stored, target, re.IGNORECASE) else Rank.NONE
        except re.error:
            return Rank.NONE
    found = locate(stored)
    same_page = stored == target or (found is not None and found.page == where.page)
    if strategy == MatchStrategy.EXACT:
        return Rank.EXACT if same_page else Rank.NONE
    if strategy == MatchStrategy.STARTS_WITH:
        if same_page:
            return Rank.EXACT
        return Rank.HOST if target.startswith(stored) else Rank.NONE
    if found is None:
        return Rank.NONE
    if same_page:
        return Rank.EXACT
    if found.origin == where.origin:
        return Rank.HOST
    if strategy == MatchStrategy.HOST:
        return Rank.NONE
    return Rank.DOMAIN if found.domain == where.domain else Rank.NONE


def url_rank(item: Item, url: str) -> int:
    """How well ``item`` matches ``url``: 3 same page, 2 same host (and port), 1 same
    registered domain, 0 no match. Each URI's own match setting is honoured."""
    where = locate(url)
    login = item.get("login")
    if where is None or item.get("type", 1) != 1 or not isinstance(login, Mapping):
        return Rank.NONE
    best = Rank.NONE
    for entry in entries(login.get("uris")):
        if not isinstance(entry, Mapping):
            continue
        uri = entry.get("uri")
        if not isinstance(uri, str) or not uri.strip():
            continue
        strategy = entry.get("match")
        best = max(
            best,
            _uri_rank(uri, strategy if isinstance(strategy, int) else None, url.strip(), where),
        )
    return int(best)


def _revision(item: Item) -> float:
    raw = item.get("revisionDate")
    if not isinstance(raw, str) or not raw:
        return 0.0
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def select_by_url(items: Iterable[Item], url: str, what: str) -> Item:
    """The login for ``url``. Ties are broken deterministically, in this order:

    1. the best rank (:func:`url_rank`: same page > same host > same registered domain);
    2. favourites first;
    3. the most recently revised item (``revisionDate``);
    4. the smallest item id.
    """
    ranked = [(url_rank(i, url), i) for i in items]
    candidates = [(rank, i) for rank, i in ranked if rank > 0]
    if not candidates:
        raise ItemNotFound(f"Bitwarden has no {what}")
    best = min(
        candidates,
        key=lambda pair: (
            -pair[0],
            not bool(pair[1].get("favorite")),
            -_revision(pair[1]),
            item_id(pair[1]),
        ),
    )
    return best[1]


class ItemIndex:
    """A listing indexed once by id, NFC name and case-folded name, so that matching N
    references against M items costs O(N + M), not O(N x M)."""

    def __init__(self, items: Iterable[Item]) -> None:
        self.items = list(items)
        self._ids: dict[str, Item] = {}
        self._names: dict[str, list[Item]] = {}
        self._folded: dict[str, list[Item]] = {}
        for item in self.items:
            self._ids.setdefault(item_id(item), item)
            name = _nfc(item_name(item))
            self._names.setdefault(name, []).append(item)
            self._folded.setdefault(name.casefold(), []).append(item)

    def by_name(self, name: str, scope: Scope, what: str) -> Item:
        wanted = _nfc(name)
        exact = [i for i in self._names.get(wanted, ()) if scope.admits(i)]
        if not exact:
            exact = [i for i in self._folded.get(wanted.casefold(), ()) if scope.admits(i)]

        def near() -> int:
            folded = wanted.casefold()
            return sum(
                1 for key, items in self._folded.items() if folded in key
                for i in items if scope.admits(i)
            )  # fmt: skip

        return _named(exact, name, near, what)

    def select(self, query: Query, scope: Scope) -> Item | None:
        """The item ``query`` names (``None`` for an id absent from the listing)."""
        if query.item_id is not None:
            item = self._ids.get(query.item_id)
            return item if item is not None and scope.admits(item) else None
        what = query.describe()
        if query.url is not None:
            return select_by_url((i for i in self.items if scope.admits(i)), query.url, what)
        return self.by_name(query.name or "", scope, what)


def select(items: Iterable[Item], query: Query, scope: Scope) -> Item | None:
    """The item ``query`` names among ``items`` (``None`` for an id absent from them)."""
    return ItemIndex(items).select(query, scope)
