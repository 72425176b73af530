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
decides and fetches; it opens no store and imports no HTTP client until a delivery runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from vaults.errors import (
    AuthenticationFailed,
    CodeTimeout,
    ConfigurationError,
    InvalidInput,
    NoCode,
    VaultsError,
    VaultUnavailable,
)
from vaults.plain import PlainCredential

if TYPE_CHECKING:  # pydantic loads only when a delivered code is put on a credential
    from pydantic import SecretStr

    from vaults.codes.binding import SiteBinding
    from vaults.codes.extract import ExtractedCode
    from vaults.codes.inbox import Inbox
    from vaults.codes.records import PushedCode
    from vaults.host import PluginHost
    from vaults.models import Credential

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


def _named(cred: Credential | PlainCredential) -> str:
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
        where = f"{_named(cred)} has " if cred is not None else ""
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


@dataclass(frozen=True)
class Waiting:
    """Handed to ``resolve(on_wait=…)`` when resolve starts blocking for a code."""

    source: DeliverySource
    target: str
    timeout: float

    def describe(self) -> str:
        if self.source == "pull":
            return f"a code from {self.target} (pull endpoint)"
        return f"a code for {self.target} (inbox)"


@dataclass(frozen=True)
class Delivered:
    """A code or magic link that came from a pull endpoint or the inbox."""

    source: DeliverySource
    otp_type: Literal["totp", "magic_link"]
    value: str = field(repr=False)
    created_at: float
    expires_at: float


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
                    f"totp_type 'authenticator' was asked for, but {_named(cred)} has no TOTP "
                    "secret in the vault"
                )
            raise NoCode(
                f"{_named(cred)} has totp_type 'authenticator' but no TOTP secret in the vault"
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
            f"totp_type {kind!r} was asked for, but {_named(cred)} has"
            if given_type
            else f"{_named(cred)} has totp_type {kind!r} but"
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
                f"the pull endpoint of {_named(cred)} is not in {PULL_ALLOWED_ENV}, so "
                f"{PULL_API_KEY_ENV} is not sent to it: add a hidden field {API_KEY_FIELD} to "
                f"the item, or the endpoint's URL to {PULL_ALLOWED_ENV}"
            )
    if not key_text:
        raise ConfigurationError(
            f"the pull endpoint of {_named(cred)} needs an API key: set {PULL_API_KEY_ENV} or "
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
    if isinstance(cred, PlainCredential):
        cred.fields = [f.hidden() if f.name.casefold() == API_KEY_FIELD else f for f in cred.fields]
    else:
        cred.fields = [f.hidden() if f.name.casefold() == API_KEY_FIELD else f for f in cred.fields]


def apply_delivered(cred: Credential, delivered: Delivered | None) -> Credential:
    """Put a delivered code (``totp``) or magic link (``magic_link``) on ``cred``."""
    cred.totp = None
    cred.magic_link = None
    cred.totp_source = None
    if delivered is None:
        return cred
    if delivered.otp_type == "magic_link":
        cred.magic_link = delivered.value
    else:
        start = math.floor(delivered.created_at)
        end = max(start + 1, math.floor(delivered.expires_at))  # never past the real expiry
        from vaults.models import TotpCode

        cred.totp = TotpCode(
            code=delivered.value,
            valid_from=start,
            valid_until=end,
            period=end - start,
            digits=len(delivered.value),
        )
    cred.totp_source = delivered.source
    return cred


def _from_pull(found: ExtractedCode) -> Delivered:
    now = time.time()
    return Delivered(
        source="pull",
        otp_type=found.otp_type,
        value=found.value,
        created_at=now,
        expires_at=now + DELIVERED_LIFESPAN,
    )


def _from_inbox(code: PushedCode) -> Delivered:
    return Delivered(
        source="inbox",
        otp_type=code.otp_type,
        value=code.value,
        created_at=code.created_at,
        expires_at=code.expires_at,
    )


_NAMED_ERRORS = (CodeTimeout, VaultUnavailable, AuthenticationFailed)


def _named_error(cred: Credential, exc: VaultsError) -> VaultsError:
    """The same error, its message starting with the item it was for."""
    return type(exc)(f"{_named(cred)}: {exc.message}")


# -- pull: one request (wait=False / timeout 0) -------------------------------------------------
def _pull_once(run: DeliveryRun, host: PluginHost | None) -> ExtractedCode | None:
    from vaults.codes.pull_endpoint import pull_once

    plan = run.plan
    assert plan.url is not None and plan.api_key is not None
    return pull_once(
        plan.url, plan.api_key, totp_identifier=plan.identifier, host=host, accept=run.accept
    )


async def _apull_once(run: DeliveryRun, host: PluginHost | None) -> ExtractedCode | None:
    from vaults.codes.pull_endpoint import apull_once

    plan = run.plan
    assert plan.url is not None and plan.api_key is not None
    return await apull_once(
        plan.url, plan.api_key, totp_identifier=plan.identifier, host=host, accept=run.accept
    )


# -- running a plan -----------------------------------------------------------------------
@dataclass(frozen=True)
class DeliveryRun:
    """How one ``resolve`` waits: its arguments, resolved."""

    plan: DeliveryPlan
    since: float
    timeout: float
    wait: bool
    consume: bool
    pull_interval: float | None = None
    on_wait: Callable[[Waiting], None] | None = None
    accept: SiteBinding | None = None
    """Codes and links bound to another site than the item's are skipped (None: all pass)."""

    @property
    def blocking(self) -> bool:
        return self.wait and self.timeout > 0

    @property
    def inbox_timeout(self) -> float:
        """What the inbox is given: the timeout when blocking, else 0 (one look)."""
        return self.timeout if self.blocking else 0

    def announce(self) -> None:
        if self.on_wait is not None and self.blocking:
            self.on_wait(Waiting(self.plan.source, self.plan.target, self.timeout))


def _single_pull(run: DeliveryRun, found: ExtractedCode | None) -> Delivered | None:
    """The answer of a single pull request (``run`` not blocking)."""
    if found is None and run.wait:
        raise CodeTimeout(f"the pull endpoint {run.plan.target} had no code yet")
    return _from_pull(found) if found is not None else None


def _pull_interval(run: DeliveryRun) -> float:
    from vaults.codes.pull_endpoint import DEFAULT_PULL_INTERVAL

    return DEFAULT_PULL_INTERVAL if run.pull_interval is None else run.pull_interval


def deliver(
    cred: Credential,
    run: DeliveryRun,
    *,
    inbox: Callable[[], Inbox],
    host: PluginHost | None,
) -> Delivered | None:
    """Get the code ``run.plan`` names. ``wait=False``: one look (one request), None when
    nothing is there yet. Otherwise waits up to ``run.timeout`` (0: one look), then raises
    :class:`~vaults.errors.CodeTimeout` naming the item and the source."""
    plan = run.plan
    try:
        if plan.source == "pull":
            assert plan.url is not None and plan.api_key is not None
            if not run.blocking:
                return _single_pull(run, _pull_once(run, host))
            from vaults.codes.pull_endpoint import pull

            run.announce()
            found = pull(
                plan.url,
                plan.api_key,
                totp_identifier=plan.identifier,
                interval=_pull_interval(run),
                timeout=run.timeout,
                host=host,
                accept=run.accept,
            )
            return _from_pull(found)
        assert plan.identifier is not None
        box = inbox()
        run.announce()
        try:
            code = box.wait(
                plan.identifier,
                since=run.since,
                timeout=run.inbox_timeout,
                consume=run.consume,
                accept=run.accept,
            )
        except CodeTimeout:
            if run.wait:
                raise
            return None
        return _from_inbox(code)
    except _NAMED_ERRORS as exc:
        raise _named_error(cred, exc) from None


async def adeliver(
    cred: Credential,
    run: DeliveryRun,
    *,
    inbox: Callable[[], Inbox],
    host: PluginHost | None,
) -> Delivered | None:
    """Async :func:`deliver`: waits with :meth:`~vaults.codes.Inbox.await_wait` or
    :func:`~vaults.codes.apull` (cancellable; no thread blocks while waiting)."""
    import anyio.to_thread

    plan = run.plan
    try:
        if plan.source == "pull":
            assert plan.url is not None and plan.api_key is not None
            if not run.blocking:
                return _single_pull(run, await _apull_once(run, host))
            from vaults.codes.pull_endpoint import apull

            run.announce()
            found = await apull(
                plan.url,
                plan.api_key,
                totp_identifier=plan.identifier,
                interval=_pull_interval(run),
                timeout=run.timeout,
                host=host,
                accept=run.accept,
            )
            return _from_pull(found)
        assert plan.identifier is not None
        box = await anyio.to_thread.run_sync(inbox)
        run.announce()
        try:
            code = await box.await_wait(
                plan.identifier,
                since=run.since,
                timeout=run.inbox_timeout,
                consume=run.consume,
                accept=run.accept,
            )
        except CodeTimeout:
            if run.wait:
                raise
            return None
        return _from_inbox(code)
    except _NAMED_ERRORS as exc:
        raise _named_error(cred, exc) from None
