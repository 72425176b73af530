"""Reference parsing and local matching: exact names, URLs on the registered domain, scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from vaults_bitwarden.domains import locate, registered_domain
from vaults_bitwarden.lookup import (
    Query,
    Scope,
    parse_query,
    resolve_scope,
    scope_listings,
    search_term,
    select,
    select_by_name,
    select_by_url,
    url_rank,
)

from vaults.errors import AmbiguousItem, InvalidReference, ItemNotFound
from vaults.refs import parse_reference

if TYPE_CHECKING:
    from conftest import ItemFactory

UUID = "0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01"
ORG = "11111111-2222-4333-8444-555555555555"
COL = "99999999-2222-4333-8444-555555555555"


def q(ref: str) -> Query:
    return parse_query(parse_reference(ref))


# -- references ------------------------------------------------------------------------


def test_uuid_is_an_id_lookup_in_lower_case() -> None:
    assert q(f"bitwarden://{UUID.upper()}").item_id == UUID


def test_anything_else_is_a_name() -> None:
    query = q("bitwarden://GitHub Enterprise")
    assert (query.name, query.item_id, query.url) == ("GitHub Enterprise", None, None)


def test_percent_encoded_name() -> None:
    assert q("bitwarden://What%3F%20Me%2FYou").name == "What? Me/You"


def test_url_lookup_with_filters() -> None:
    query = q("bitwarden://?url=https://portal.example.com/login&organization=Acme&collection=Ops")
    assert query.url == "https://portal.example.com/login"
    assert (query.organization, query.collection) == ("Acme", "Ops")
    assert query.describe() == (
        "login for URL 'https://portal.example.com/login' "
        "in organization 'Acme' and collection 'Ops'"
    )


def test_empty_filter_means_absent() -> None:
    assert not q("bitwarden://GitHub?organization=").scoped


@pytest.mark.parametrize(
    ("ref", "problem"),
    [
        ("bitwarden://?folder=x", "folder="),
        ("bitwarden://Name?url=https://a.example", "not both"),
        ("bitwarden://?url=androidapp://com.example", "http(s)"),
        ("bitwarden://?organization=Acme", "needs an item id"),
        ("bitwarden://%20", "needs an item id"),
    ],
)
def test_malformed_references(ref: str, problem: str) -> None:
    with pytest.raises(InvalidReference, match=problem.replace("(", r"\(").replace(")", r"\)")):
        q(ref)


def test_search_term_only_for_ascii_names() -> None:
    assert search_term(q("bitwarden://GitHub")) == "GitHub"
    # bw strips accents from the search text but not from names: list everything instead
    assert search_term(q("bitwarden://Zürich Bank")) is None
    assert search_term(q(f"bitwarden://{UUID}")) is None
    assert search_term(q("bitwarden://?url=https://a.example")) is None


# -- by name -----------------------------------------------------------------------------


def test_exact_name_beats_prefix_and_substring(make_item: ItemFactory) -> None:
    items = [make_item("GitHub Enterprise"), make_item("GitHub"), make_item("My GitHub")]
    assert select_by_name(items, "GitHub", "x") is items[1]
    assert select_by_name(items, "GitHub Enterprise", "x") is items[0]


def test_case_sensitive_match_first_then_case_insensitive(make_item: ItemFactory) -> None:
    items = [make_item("github"), make_item("GitHub")]
    assert select_by_name(items, "GitHub", "x") is items[1]
    with pytest.raises(AmbiguousItem) as caught:
        select_by_name(items, "GITHUB", "x")
    assert set(caught.value.candidates) == {items[0]["id"], items[1]["id"]}


def test_duplicate_names_are_ambiguous_with_sorted_ids(make_item: ItemFactory) -> None:
    items = [make_item("Shared"), make_item("Shared"), make_item("Shared Other")]
    with pytest.raises(AmbiguousItem) as caught:
        select_by_name(items, "Shared", "item named 'Shared'")
    assert list(caught.value.candidates) == sorted([items[0]["id"], items[1]["id"]])
    assert "candidates" in str(caught.value)


def test_unicode_names_compare_in_nfc(make_item: ItemFactory) -> None:
    composed = make_item("Caf\u00e9")
    assert select_by_name([composed], "Cafe\u0301", "x") is composed


def test_no_exact_name_is_not_found_even_with_fuzzy_hits(make_item: ItemFactory) -> None:
    with pytest.raises(ItemNotFound) as caught:
        select_by_name([make_item("GitHub Enterprise")], "GitHub", "item named 'GitHub'")
    assert "item named 'GitHub'" in str(caught.value) and "1 other item" in str(caught.value)


# -- registered domains -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("portal.example.com", "example.com"),
        ("example.com", "example.com"),
        ("a.b.c.example.com", "example.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("example.co.uk", "example.co.uk"),
        ("alice.github.io", "alice.github.io"),
        ("www.example.com.au", "example.com.au"),
        ("LOGIN.Example.COM.", "example.com"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "[::1]"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_registered_domain(host: str, domain: str) -> None:
    assert registered_domain(host) == domain


def test_locate_web_urls_only() -> None:
    here = locate("https://Portal.Example.com/login?x=1#frag")
    assert here is not None
    assert (here.host, here.port, here.path, here.query) == (
        "portal.example.com",
        None,
        "/login",
        "x=1",
    )
    bare = locate("example.com/login")
    assert bare is not None and (bare.scheme, bare.port) == ("http", None)
    other_port = locate("https://example.com:8443")
    assert other_port is not None and other_port.port == 8443
    assert locate("androidapp://com.example.app") is None
    assert locate("") is None
    assert locate("https://example.com:notaport/") is None


# -- by URL ----------------------------------------------------------------------------------


TARGET = "https://portal.example.com/login"


@pytest.mark.parametrize(
    ("uri", "match", "rank"),
    [
        ("https://portal.example.com/login", None, 3),
        ("https://portal.example.com/login/", None, 3),
        ("https://portal.example.com/", None, 2),
        ("https://PORTAL.example.com:443/other", None, 2),
        ("https://portal.example.com:8443/login", None, 1),
        ("https://www.example.com/", None, 1),
        ("portal.example.com", None, 2),  # a bare host: the same host whatever the scheme
        ("http://portal.example.com/login", None, 2),  # another scheme: not the same page
        ("https://example.org/", None, 0),
        ("https://evil-example.com/", None, 0),
        ("https://example.com.evil.test/", None, 0),
        ("androidapp://com.example.portal", None, 0),
        ("https://www.example.com/", 0, 1),
        ("https://portal.example.com/", 1, 2),
        ("https://www.example.com/", 1, 0),
        ("https://portal.example.com/log", 2, 2),
        ("https://portal.example.com/x", 2, 0),
        ("https://portal.example.com/login", 3, 3),
        ("https://portal.example.com/", 3, 0),
        (r"^https://portal\.example\.com/", 4, 2),
        (r"([unclosed", 4, 0),
        ("https://portal.example.com/login", 5, 0),
    ],
)
def test_url_rank_honours_each_uris_match_setting(
    uri: str, match: int | None, rank: int, make_item: ItemFactory
) -> None:
    assert url_rank(make_item("x", uris=[(uri, match)]), TARGET) == rank


def test_best_uri_of_an_item_counts(make_item: ItemFactory) -> None:
    item = make_item("x", uris=["https://other.test/", "https://www.example.com/", TARGET])
    assert url_rank(item, TARGET) == 3


def test_url_ties_are_broken_deterministically(make_item: ItemFactory) -> None:
    domain_only = make_item("domain", uris=["https://example.com/"], favorite=True)
    old = make_item("old", uris=["https://portal.example.com/"], revision="2024-01-01T00:00:00Z")
    new = make_item("new", uris=["https://portal.example.com/"], revision="2025-06-01T00:00:00Z")
    fav = make_item("fav", uris=["https://portal.example.com/"], favorite=True)
    # 1. rank beats everything, even a favourite with a weaker match
    assert select_by_url([domain_only, old], TARGET, "x") is old
    # 2. favourites first among equals
    assert select_by_url([old, new, fav], TARGET, "x") is fav
    # 3. then the most recently revised
    assert select_by_url([old, new], TARGET, "x") is new
    # 4. then the smallest id, whatever the listing order
    twin_a = make_item(
        "a", id="00000000-0000-4000-8000-00000000000a", uris=["https://portal.example.com/"]
    )
    twin_b = make_item(
        "b", id="00000000-0000-4000-8000-00000000000b", uris=["https://portal.example.com/"]
    )
    assert select_by_url([twin_b, twin_a], TARGET, "x") is twin_a
    assert select_by_url([twin_a, twin_b], TARGET, "x") is twin_a


def test_url_without_match_is_not_found(make_item: ItemFactory) -> None:
    with pytest.raises(ItemNotFound, match="login for URL"):
        select(
            [make_item("x", uris=["https://example.org/"])],
            q("bitwarden://?url=https://example.com/"),
            Scope(),
        )


def test_notes_never_match_urls(make_item: ItemFactory) -> None:
    assert url_rank(make_item("note", kind=2), TARGET) == 0


# -- organisation / collection scope ------------------------------------------------------------

ORGS = [
    {"object": "organization", "id": ORG, "name": "Acme"},
    {"object": "organization", "id": "22222222-2222-4333-8444-555555555555", "name": "Other"},
]
COLS = [
    {"object": "collection", "id": COL, "organizationId": ORG, "name": "Ops"},
    {"object": "collection", "id": "88888888-2222-4333-8444-555555555555",
     "organizationId": "22222222-2222-4333-8444-555555555555", "name": "Ops"},
]  # fmt: skip


def test_scope_by_ids_needs_no_listing() -> None:
    query = q(f"bitwarden://X?organization={ORG}&collection={COL}")
    assert scope_listings(query) == (False, False)
    assert resolve_scope(query) == Scope(frozenset({ORG}), frozenset({COL}))


def test_scope_by_names_case_insensitive() -> None:
    query = q("bitwarden://X?organization=acme&collection=OPS")
    assert scope_listings(query) == (True, True)
    # the collection name counts only inside the organisation filter
    assert resolve_scope(query, ORGS, COLS) == Scope(frozenset({ORG}), frozenset({COL}))
    everywhere = resolve_scope(q("bitwarden://X?collection=Ops"), None, COLS)
    assert everywhere.collections is not None and len(everywhere.collections) == 2


def test_unknown_scope_name_is_not_found() -> None:
    with pytest.raises(ItemNotFound, match="no organization named 'Nope'"):
        resolve_scope(q("bitwarden://X?organization=Nope"), ORGS, COLS)


def test_scope_filters_items(make_item: ItemFactory) -> None:
    personal = make_item("Shared")
    org_item = make_item("Shared", organization_id=ORG, collection_ids=[COL])
    query = q("bitwarden://Shared?organization=Acme")
    assert select([personal, org_item], query, resolve_scope(query, ORGS, COLS)) is org_item
    by_col = q(f"bitwarden://Shared?collection={COL}")
    assert select([personal, org_item], by_col, resolve_scope(by_col)) is org_item
    with pytest.raises(AmbiguousItem):
        select([personal, org_item], q("bitwarden://Shared"), Scope())


def test_id_absent_from_listing_is_none(make_item: ItemFactory) -> None:
    assert select([make_item("x")], q(f"bitwarden://{UUID}"), Scope()) is None
