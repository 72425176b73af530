"""The standard seed every vault plugin stores for the contract (see :class:`VaultContract`).

Every password and TOTP secret contains :data:`CANARY`, so a leak check that looks for it
in reprs, logs and error messages is meaningful. Names avoid ``/ ? # %`` so that
``f"{scheme}://{name}"`` is always a valid reference.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from vaults.models import TotpSecret

__all__ = [
    "CANARY",
    "HOTP_ITEM",
    "MISSING_NAME",
    "SHARED_NAME",
    "STANDARD_SEED",
    "SeedItem",
    "secrets_of",
    "seed_by_key",
]

CANARY: Final = "VAULTSCANARY"
"""Contained in every seeded password and TOTP secret (valid base32, so secrets can hold it)."""

MISSING_NAME: Final = "No Such Item 5d1c"
"""A name no seeded item has (and no seeded name starts with)."""

SHARED_NAME: Final = "Shared Login"
"""The name two seeded items share."""


@dataclass(frozen=True)
class SeedItem:
    """One login to store in the vault under test.

    ``totp`` is the form the vault stores: raw base32, an ``otpauth://`` URI or
    ``steam://SECRET``; vaults that only keep URIs store :meth:`totp_uri` instead.
    """

    key: str
    """Stable key of the item in the seed (``github``…); the factory maps it to the vault id."""
    name: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    totp: str | None = field(default=None, repr=False)
    uris: tuple[str, ...] = ()

    def totp_secret(self) -> TotpSecret | None:
        """The parsed TOTP secret (``None`` without TOTP)."""
        if self.totp is None:
            return None
        from vaults.totp import parse_secret

        return parse_secret(self.totp)

    def totp_uri(self) -> str | None:
        """The TOTP secret as an ``otpauth://`` URI (Steam keeps ``encoder=steam``)."""
        if self.totp is None:
            return None
        if self.totp.lower().startswith("otpauth://"):
            return self.totp
        secret = self.totp_secret()
        assert secret is not None
        label = secret.model_copy(update={"account": secret.account or self.username})
        return label.to_uri()

    def secret_labels(self) -> dict[str, str]:
        """``{secret: label}`` for every string of this item that must never appear outside
        a revealed credential (password, stored TOTP form, normalised TOTP secret)."""
        found: dict[str, str] = {}
        if self.password:
            found[self.password] = f"password of {self.key!r}"
        if self.totp:
            from vaults.totp_core import parse_params

            found[self.totp] = f"stored TOTP secret of {self.key!r}"
            found.setdefault(parse_params(self.totp).secret, f"TOTP secret of {self.key!r}")
        return found


STANDARD_SEED: Final[tuple[SeedItem, ...]] = (
    # The longer name is stored first so "first name that starts with" lookups get it wrong.
    SeedItem(
        key="github_enterprise",
        name="GitHub Enterprise",
        username="octo-ent",
        password=f"ghe-{CANARY}-Pässwörd#2",
        uris=("https://github.example.test/login",),
    ),
    SeedItem(
        key="github",
        name="GitHub",
        username="octocat@example.test",
        password=f"gh {CANARY} pa$$word!1",
        totp=f"{CANARY}GITHUBRAWSECRETQ2345",
        uris=("https://github.com/login",),
    ),
    SeedItem(
        key="acme",
        name="Acme Cloud",
        username="alice@acme.example.test",
        password=f"acme-{CANARY}-{{braces}}[brackets]<angle>",
        totp=(
            f"otpauth://totp/Acme:alice@acme.example.test?secret={CANARY}ACMEOTPAUTHSHA256XYZ"
            "&issuer=Acme&algorithm=SHA256&digits=8&period=30"
        ),
        uris=("https://cloud.acme.example.test/",),
    ),
    SeedItem(
        key="steam",
        name="Steam",
        username="gaben_fan",
        password=f"steam-{CANARY}-~`^=+",
        totp=f"steam://{CANARY}STEAMGUARD234567ABCD",
        uris=("https://store.steampowered.example.test/login",),
    ),
    SeedItem(
        key="unicode",
        name='Zürich Bank: "Café" & Co. (ß) 日本 ✓',
        username="jürgen.müller@example.test",
        password=f"pä$$ «{CANARY}» \"dq\" 'sq' \\back ;&| 日本",
        uris=("https://bank.example.test/zürich",),
    ),
    SeedItem(
        key="shared_1",
        name=SHARED_NAME,
        username="first-user",
        password=f"shared-one-{CANARY}",
        uris=("https://shared.example.test/",),
    ),
    SeedItem(
        key="shared_2",
        name=SHARED_NAME,
        username="second-user",
        password=f"shared-two-{CANARY}",
        uris=("https://shared.example.test/",),
    ),
)
"""The standard seed, in the order a factory should store it."""

HOTP_ITEM: Final = SeedItem(
    key="hotp",
    name="HOTP Counter Login",
    username="counter@example.test",
    password=f"hotp-{CANARY}-pw",
    totp=f"otpauth://hotp/Example:counter@example.test?secret={CANARY}HOTPCOUNTER234567&counter=7",
)
"""Stored only when the contract's ``supports_totp_error`` is on: a TOTP field no code can be
made from (HOTP: no vault here keeps the counter). The login must still resolve, with
``totp=None`` and ``totp_error`` saying why."""


def seed_by_key(seed: Iterable[SeedItem] = STANDARD_SEED) -> dict[str, SeedItem]:
    """``{item.key: item}`` for a seed."""
    return {item.key: item for item in seed}


def secrets_of(seed: Iterable[SeedItem] = STANDARD_SEED) -> dict[str, str]:
    """``{secret: label}`` for every secret of a seed, plus :data:`CANARY`."""
    found = {CANARY: "canary " + repr(CANARY)}
    for item in seed:
        found.update(item.secret_labels())
    return found
