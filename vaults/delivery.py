"""Where a login's one-time code comes from when it is not (only) in the vault item.

:meth:`vaults.resolver.Vaults.resolve` takes the code from the first source that applies:

1. ``vault`` — the item's own TOTP secret (or the code its vault computed, ``server``);
2. ``pull`` — the user's endpoint (``totp_url``), asked with a signed request
   (:func:`vaults.codes.pull`) until it hands over a code;
3. ``inbox`` — codes pushed for ``totp_identifier`` (``vaults serve``, ``vaults codes push``),
   waited for without polling (:meth:`vaults.codes.Inbox.wait`).

An item declares its own delivery in custom fields, so hosts pass nothing:

* ``totp_identifier`` — the e-mail address or phone number the site sends codes to;
* ``totp_url`` — the user's pull endpoint;
* ``totp_type`` — ``authenticator`` (the code comes from the vault secret only), ``email`` or
  ``text`` (it comes by message: the vault secret, if any, is skipped);
* ``totp_api_key`` — the pull endpoint's signing key (make it a hidden field; it is masked in
  every output whatever its type). Without it, ``VAULTS_PULL_API_KEY`` is used.

Explicit arguments to ``resolve`` override the field of the same name. This module only
decides; :mod:`vaults.delivery_run` fetches (imported when a delivery runs, as are the
store and any HTTP client). Its names are also importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vaults.errors import (
    ConfigurationError,
    InvalidInput,
    NoCode,
)

if TYPE_CHECKING:
    from pydantic import SecretStr

    from vaults.delivery_run import (
        Delivered,
        DeliveryRun,
        Waiting,
        adeliver,
        apply_delivered,
        deliver,
    )
    from vaults.models import Credential
    from vaults.plain import (
        PlainCredential,  # pydantic loads only when a delivered code is put on a credential
    )

__all__ = [
    "API_KEY_FIELD",
    "DEFAULT_CODE_TIMEOUT",
    "DELIVERED_LIFESPAN",
    "IDENTIFIER_FIELD",
    "PULL_ALLOWED_ENV",
    "PULL_API_KEY_ENV",
    "TYPE_FIELD",
    "URL_FIELD",
    "Delivered",
    "DeliveryPlan",
    "DeliveryRun",
    "DeliverySource",
    "TotpType",
    "Waiting",
    "adeliver",
    "apply_delivered",
    "deliver",
    "global_key_allowed",
    "mask_api_key_field",
    "plan_delivery",
]

TotpType = Literal["authenticator", "email", "text"]
DeliverySource = Literal["pull", "inbox"]

IDENTIFIER_FIELD = "totp_identifier"
URL_FIELD = "totp_url"
TYPE_FIELD = "totp_type"
API_KEY_FIELD = "totp_api_key"
PULL_API_KEY_ENV = "VAULTS_PULL_API_KEY"
PULL_ALLOWED_ENV = "VAULTS_PULL_ALLOWED"
"""Comma-separated URL prefixes: when set, ``VAULTS_PULL_API_KEY`` is sent only to pull
endpoints under one of them (an item's own ``totp_api_key`` goes to its own URL)."""

DEFAULT_CODE_TIMEOUT = 900.0
"""How long ``resolve`` waits for a pulled or pushed code by default (15 minutes)."""
DELIVERED_LIFESPAN = 600
"""A pulled code's assumed validity (seconds), as the inbox's default lifespan."""

_TYPE_ALIASES: dict[str, TotpType] = {
    "authenticator": "authenticator",
    "totp": "authenticator",
    "app": "authenticator",
    "email": "email",
    "e-mail": "email",
    "mail": "email",
    "text": "text",
    "sms": "text",
    "phone": "text",
}


def named(cred: Credential | PlainCredential) -> str:
    """How messages name the item (also used by :mod:`vaults.delivery_run`)."""
    return f"{cred.name!r} ({cred.vault})"


def _field_text(cred: Credential | PlainCredential, name: str) -> str | None:
    found = cred.field(name)
    if found is None or found.value is None:
        return None
    return found.value.get_secret_value().strip() or None


def _given(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text")
    return value.strip() or None


def parse_totp_type(
    value: str | None, cred: Credential | PlainCredential | None = None
) -> TotpType | None:
    """``authenticator``, ``email`` or ``text`` (``sms``/``phone`` read as ``text``), or None."""
    if value is None or not value.strip():
        return None
    found = _TYPE_ALIASES.get(value.strip().lower())
    if found is None:
        where = f"{named(cred)} has " if cred is not None else ""
        raise ConfigurationError(
            f"{where}totp_type {value.strip()[:40]!r} is not one of authenticator, email, text"
        )
    return found


@dataclass(frozen=True)
class DeliveryPlan:
    """Where ``resolve`` will get the code: the pull endpoint or the inbox."""

    source: DeliverySource
    identifier: str | None
    url: str | None = None
    api_key: SecretStr | None = field(default=None, repr=False)

    @property
    def target(self) -> str:
        """What is waited on: the identifier, or the endpoint's URL without secrets."""
        if self.source == "pull" and self.url is not None:
            from vaults.redact import url_without_secrets

            try:
                return url_without_secrets(self.url)
            except ValueError:
                return "(a malformed URL)"
        return self.identifier or ""


def plan_delivery(
    cred: Credential | PlainCredential,
    *,
    totp_identifier: str | None = None,
    totp_url: str | None = None,
    totp_type: str | None = None,
    env: Mapping[str, str] | None = None,
) -> DeliveryPlan | None:
    """How the code for ``cred`` is delivered, or None when the vault alone answers.

    None means: keep the vault's code (source 1), or there is no code and nothing to wait
    for. Raises :class:`~vaults.errors.NoCode` for ``totp_type=authenticator`` without a
    secret, :class:`~vaults.errors.ConfigurationError` for ``email``/``text`` with nowhere
    to get the code from, or a pull endpoint without an API key.
    """
    given_type = _given(totp_type, "totp_type")
    kind = parse_totp_type(given_type or _field_text(cred, TYPE_FIELD), cred)
    # the caller's choice (resolve(totp_type=…), --totp-type) is not described as the item's
    has_vault_code = cred.totp_secret is not None or cred.totp is not None
    if kind == "authenticator":
        if not has_vault_code and cred.totp_error is None:  # an unusable secret: told as such
            if given_type:
                raise NoCode(
                    f"totp_type 'authenticator' was asked for, but {named(cred)} has no TOTP "
                    "secret in the vault"
                )
            raise NoCode(
                f"{named(cred)} has totp_type 'authenticator' but no TOTP secret in the vault"
            )
        return None
    if kind is None and has_vault_code:
        return None  # source 1 wins
    identifier = _given(totp_identifier, "totp_identifier") or _field_text(cred, IDENTIFIER_FIELD)
    url = _given(totp_url, "totp_url") or _field_text(cred, URL_FIELD)
    if url is None and identifier is None:
        if kind is None:
            return None  # a plain item without a code: unchanged
        where = (
            f"totp_type {kind!r} was asked for, but {named(cred)} has"
            if given_type
            else f"{named(cred)} has totp_type {kind!r} but"
        )
        raise ConfigurationError(
            f"{where} no totp_identifier or totp_url: add one to the item or pass "
            "--totp-identifier / --totp-url"
        )
    if url is None:
        return DeliveryPlan(source="inbox", identifier=identifier)
    key_text = _field_text(cred, API_KEY_FIELD)
    if key_text is None:
        key_text = (env or {}).get(PULL_API_KEY_ENV, "").strip()
        if key_text and not global_key_allowed(url, env or {}):
            raise ConfigurationError(
                f"the pull endpoint of {named(cred)} is not in {PULL_ALLOWED_ENV}, so "
                f"{PULL_API_KEY_ENV} is not sent to it: add a hidden field {API_KEY_FIELD} to "
                f"the item, or the endpoint's URL to {PULL_ALLOWED_ENV}"
            )
    if not key_text:
        raise ConfigurationError(
            f"the pull endpoint of {named(cred)} needs an API key: set {PULL_API_KEY_ENV} or "
            f"add a hidden field {API_KEY_FIELD} to the item"
        )
    from pydantic import SecretStr

    return DeliveryPlan(source="pull", identifier=identifier, url=url, api_key=SecretStr(key_text))


def global_key_allowed(url: str, env: Mapping[str, str]) -> bool:
    """Whether ``VAULTS_PULL_API_KEY`` may be sent to ``url``: always when
    ``VAULTS_PULL_ALLOWED`` is unset, else when ``url`` lies under one of its prefixes (at a
    path boundary: ``https://me.example`` covers ``https://me.example/codes``, not
    ``https://me.example.attacker.test``)."""
    from vaults.codes.signature import canonical_url

    raw = env.get(PULL_ALLOWED_ENV, "").strip()
    if not raw:
        return True
    try:
        target = canonical_url(url)
    except InvalidInput:
        return False
    for entry in raw.split(","):
        try:
            prefix = canonical_url(entry)
        except InvalidInput:
            continue
        if not entry.strip().endswith("/") and prefix.endswith("/") and "?" not in prefix:
            prefix = prefix[:-1]  # "https://me.example" was written without a path
        if target == prefix or (
            target.startswith(prefix) and (prefix.endswith("/") or target[len(prefix)] in "/?")
        ):
            return True
    return False


def mask_api_key_field(cred: Credential | PlainCredential) -> None:
    """Make a ``totp_api_key`` field hidden, so no output shows it whatever its vault type."""
    if not any(f.name.casefold() == API_KEY_FIELD and f.type != "hidden" for f in cred.fields):
        return
    from vaults.plain import PlainCredential  # loaded by the vault's answer

    if isinstance(cred, PlainCredential):
        cred.fields = [f.hidden() if f.name.casefold() == API_KEY_FIELD else f for f in cred.fields]
    else:
        cred.fields = [f.hidden() if f.name.casefold() == API_KEY_FIELD else f for f in cred.fields]


_RUN_NAMES = frozenset(
    {"Delivered", "DeliveryRun", "Waiting", "adeliver", "apply_delivered", "deliver"}
)


def __getattr__(name: str) -> Any:
    """The running half's names (:mod:`vaults.delivery_run`), imported on first use: the
    CLI's resolve of a vault code never needs them."""
    if name in _RUN_NAMES:
        from vaults import delivery_run

        return getattr(delivery_run, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
