"""parse_reference: edge cases and errors."""

from __future__ import annotations

import pytest

from vaults.errors import InvalidInput, InvalidReference
from vaults.refs import Reference, parse_reference


@pytest.mark.parametrize(
    ("raw", "scheme", "body", "path"),
    [
        ("keepass://Title", "keepass", "Title", "Title"),
        ("keepass://Work/Sub/Title", "keepass", "Work/Sub/Title", "Work/Sub/Title"),
        ("KeePass://Title", "keepass", "Title", "Title"),
        ("  bitwarden://GitHub  ", "bitwarden", "GitHub", "GitHub"),
        ("op://Private/GitHub", "op", "Private/GitHub", "Private/GitHub"),
        ("keepass://a%2Fb%20title", "keepass", "a%2Fb%20title", "a/b title"),
        ("keepass://Zürich Bank ✓", "keepass", "Zürich Bank ✓", "Zürich Bank ✓"),
        ("bitwarden://x?field=otp&y=1", "bitwarden", "x?field=otp&y=1", "x"),
        ("my-vault+v2.x://id", "my-vault+v2.x", "id", "id"),
        ("keepass://with://inside", "keepass", "with://inside", "with://inside"),
        ("keepass:// padded ", "keepass", " padded", " padded"),
    ],
)
def test_valid_references(raw: str, scheme: str, body: str, path: str) -> None:
    ref = parse_reference(raw)
    assert isinstance(ref, Reference)
    assert (ref.scheme, ref.body, ref.path) == (scheme, body, path)
    assert ref.raw == raw.strip()
    assert str(ref) == raw.strip()


def test_query() -> None:
    ref = parse_reference("bitwarden://x?field=otp&field=password&empty=&sp=a%20b")
    assert ref.query == {"field": "password", "empty": "", "sp": "a b"}
    assert parse_reference("keepass://x").query == {}


def test_frozen_and_hashable() -> None:
    ref = parse_reference("keepass://x")
    assert ref == parse_reference("keepass://x")
    assert {ref: 1}[parse_reference("keepass://x")] == 1
    with pytest.raises(AttributeError):
        ref.scheme = "op"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "no scheme"),
        ("   ", "no scheme"),
        ("Title", "no scheme"),
        ("keepass:Title", "did you mean 'keepass://Title'"),
        ("keepass:/Title", "did you mean 'keepass://Title'"),
        ("://Title", "scheme"),
        ("1pass://x", "scheme"),
        ("kee pass://x", "scheme"),
        ("ke_pass://x", "scheme"),
        ("a" * 40 + "://x", "scheme"),
        ("keepass://", "names no item"),
        ("keepass://   ", "names no item"),
        ("keepass://a\x00b", "control"),
        ("keepass://a\nb", "control"),
        ("keepass://" + "x" * 5000, "too long"),
    ],
)
def test_invalid_references(raw: str, problem: str) -> None:
    with pytest.raises(InvalidReference, match=problem) as info:
        parse_reference(raw)
    assert isinstance(info.value, InvalidInput)
    assert info.value.exit_code == 2
    assert len(str(info.value)) < 300  # long input is cut, not echoed whole


@pytest.mark.parametrize("raw", [None, 42, b"keepass://x"])
def test_non_text(raw: object) -> None:
    with pytest.raises(InvalidReference):
        parse_reference(raw)  # type: ignore[arg-type]
