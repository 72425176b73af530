"""Parsing ``op://`` secret references."""

from __future__ import annotations

import pytest
from vaults_onepassword.references import OpRef, is_op_id, parse_op_reference

from vaults.errors import InvalidReference
from vaults.refs import parse_reference


def parse(raw: str, default_vault: str | None = None) -> OpRef:
    return parse_op_reference(parse_reference(raw), default_vault)


@pytest.mark.parametrize(
    ("raw", "vault", "item", "section", "field", "otp"),
    [
        ("op://Personal/GitHub", "Personal", "GitHub", None, None, False),
        ("op://Personal/My Bank Login", "Personal", "My Bank Login", None, None, False),
        ("op://Personal/GitHub/password", "Personal", "GitHub", None, "password", False),
        (
            "op://Personal/GitHub/add more/one-time password",
            "Personal",
            "GitHub",
            "add more",
            "one-time password",
            False,
        ),
        (
            "op://Personal/GitHub/one-time password?attribute=otp",
            "Personal",
            "GitHub",
            None,
            "one-time password",
            True,
        ),
        ("op://Personal/GitHub?attribute=totp", "Personal", "GitHub", None, None, True),
        (
            "op://Personal/GitHub/password?attribute=value",
            "Personal",
            "GitHub",
            None,
            "password",
            False,
        ),
        ("op://Personal/My%20Item", "Personal", "My Item", None, None, False),
        ('op://"Personal/My Item/password"', "Personal", "My Item", None, "password", False),
        ('op://Personal/"My Item"', "Personal", "My Item", None, None, False),
        (
            'op://Personal/Mock "Quot\'d" Server',
            "Personal",
            'Mock "Quot\'d" Server',
            None,
            None,
            False,
        ),
    ],
)
def test_valid_references(
    raw: str, vault: str, item: str, section: str | None, field: str | None, otp: bool
) -> None:
    ref = parse(raw)
    assert (ref.vault, ref.item, ref.section, ref.field, ref.otp) == (
        vault,
        item,
        section,
        field,
        otp,
    )
    assert ref.raw == raw


@pytest.mark.parametrize(
    "raw",
    [
        "op://GitHub",  # no vault and no default
        "op://Personal/",
        "op://Personal//password",
        "op://a/b/c/d/e",
        "op://Personal/GitHub?attribute=ssh-format",
        "op://Personal/GitHub?ssh-format=openssh",
    ],
)
def test_invalid_references(raw: str) -> None:
    with pytest.raises(InvalidReference):
        parse(raw)


def test_default_vault_applies_to_item_only_references() -> None:
    ref = parse("op://GitHub", default_vault="Personal")
    assert (ref.vault, ref.item) == ("Personal", "GitHub")
    assert parse("op://Work/VPN", default_vault="Personal").vault == "Work"


def test_id_shape() -> None:
    assert is_op_id("hfnjvi6aymbsnfc2xeeoheizda")
    assert not is_op_id("HFNJVI6AYMBSNFC2XEEOHEIZDA")
    assert not is_op_id("Personal")
    assert not is_op_id("hfnjvi6aymbsnfc2xeeoheizd")
