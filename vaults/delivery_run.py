"""How one ``resolve`` waits for a code :mod:`vaults.delivery` planned: pulls from the
user's endpoint or waits on the inbox, then puts the code or magic link on the credential.

Imported only when a delivery runs (a vault code needs none of this).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from vaults.delivery import DELIVERED_LIFESPAN, DeliveryPlan, DeliverySource, named
from vaults.errors import (
    AuthenticationFailed,
    CodeTimeout,
    VaultsError,
    VaultUnavailable,
)

if TYPE_CHECKING:
    from vaults.codes.binding import SiteBinding
    from vaults.codes.extract import ExtractedCode
    from vaults.codes.inbox import Inbox
    from vaults.codes.records import PushedCode
    from vaults.host import PluginHost
    from vaults.models import Credential

__all__ = ["Delivered", "DeliveryRun", "Waiting", "adeliver", "apply_delivered", "deliver"]


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
    return type(exc)(f"{named(cred)}: {exc.message}")


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
