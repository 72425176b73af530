"""The :class:`Vaults` host object: resolve references to credentials with live codes.

A single :meth:`Vaults.resolve` also gets codes the vault does not hold (a pull endpoint, the
pushed-codes inbox): see :mod:`vaults.delivery` for the order and the item fields.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from vaults.backend import DEFAULT_CONCURRENCY, VaultBackend
from vaults.delivery import (
    DEFAULT_CODE_TIMEOUT,
    DeliveryPlan,
    mask_api_key_field,
    plan_delivery,
)
from vaults.errors import (
    InvalidInput,
    RepromptRequired,
    UnknownScheme,
    VaultsError,
)
from vaults.host import PluginHost, make_host
from vaults.refs import Reference, parse_reference
from vaults.totp_core import DEFAULT_MIN_REMAINING

if TYPE_CHECKING:  # pydantic loads when a model is built: never on the CLI's fast path
    from vaults.codes.inbox import Inbox
    from vaults.delivery_run import DeliveryRun, Waiting
    from vaults.enrol import SecretInput, TotpStored
    from vaults.models import Credential
    from vaults.plain import PlainCredential

__all__ = ["Vaults", "Waiting"]

RefLike = str | Reference
CredentialT = TypeVar("CredentialT", bound="Credential | PlainCredential")


def _check_timeout(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput("the code timeout must be a number of seconds")
    if value < 0 or math.isinf(value):
        raise InvalidInput("the code timeout must be zero or more seconds")
    return float(value)


def _check_since(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput("since must be epoch seconds")
    return float(value)


class Vaults:
    """Resolve ``SCHEME://…`` references to :class:`~vaults.models.Credential` objects.

    >>> with Vaults() as vaults:  # doctest: +SKIP
    ...     cred = vaults.resolve("keepass://Work/GitHub")
    ...     cred.username, cred.password.get_secret_value(), cred.totp.code

    Backends are created lazily (``from_env``) the first time their scheme is used, so a
    plugin whose vault is not configured costs nothing until asked for.

    Codes that arrive by e-mail or SMS (see :meth:`resolve`): ``inbox`` is the codes inbox
    to wait on (default: opened on first need from ``store_url``, else ``VAULTS_STORE``,
    else the default SQLite file, and closed with this object); ``consume`` (default on)
    takes each code a resolve returns, so two concurrent logins for one identifier never
    get the same code; ``code_timeout`` is the default wait (15 minutes); ``pull_interval``
    the seconds between requests to a pull endpoint (default 10). An item that asks for the
    master password again (Bitwarden's re-prompt) raises
    :class:`~vaults.errors.RepromptRequired` unless ``allow_reprompt=True``. A delivered
    magic link, or a code bound to an origin (``@site #code``), is used only when its site's
    registrable domain is one of the item's URIs' (others are skipped with a warning and the
    wait goes on) unless ``allow_foreign_links=True``.
    """

    def __init__(
        self,
        host: PluginHost | None = None,
        *,
        env: Mapping[str, str] | None = None,
        backends: Iterable[VaultBackend] = (),
        min_remaining: float = DEFAULT_MIN_REMAINING,
        concurrency: int = DEFAULT_CONCURRENCY,
        clock: Callable[[], float] = time.time,
        inbox: Inbox | None = None,
        store_url: str | None = None,
        consume: bool = True,
        code_timeout: float = DEFAULT_CODE_TIMEOUT,
        pull_interval: float | None = None,
        allow_reprompt: bool = False,
        allow_foreign_links: bool = False,
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self.allow_reprompt = allow_reprompt
        self.allow_foreign_links = allow_foreign_links
        self._host = host
        self._instances: dict[str, VaultBackend] = {}
        for backend in backends:
            self._instances[backend.scheme.lower()] = backend
        self.min_remaining = min_remaining
        self.concurrency = max(1, concurrency)
        self.clock = clock
        self._lock = threading.Lock()
        self.consume = consume
        self.code_timeout = _check_timeout(code_timeout)
        self.pull_interval = pull_interval
        self.store_url = store_url
        self._inbox = inbox
        self._own_inbox = False
        self._inbox_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------
    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = make_host(env=self.env, lazy=True)
        return self._host

    def backend(self, scheme: str) -> VaultBackend:
        """The backend instance for ``scheme`` (created on first use)."""
        key = scheme.lower()
        with self._lock:
            instance = self._instances.get(key)
            if instance is None:
                try:
                    backend_class = self.host.backend_class(key)
                except UnknownScheme:
                    if not self._instances:
                        raise
                    known = ", ".join(sorted({*self.host.backends(), *self._instances}))
                    raise UnknownScheme(  # also name the backends given to Vaults(backends=)
                        f"no vault plugin handles '{scheme}://' references (installed schemes: "
                        f"{known}); see 'vaults plugins'"
                    ) from None
                instance = backend_class.from_env(self.env)
                self._instances[key] = instance
            return instance

    def inbox(self) -> Inbox:
        """The codes inbox resolve waits on (opened on first use)."""
        with self._inbox_lock:
            if self._inbox is None:
                from vaults.codes.inbox import Inbox

                self._inbox = Inbox(self.store_url, env=self.env, host=self._host)
                self._own_inbox = True
            return self._inbox

    def _wall_clock(self) -> float:
        """Now, on the clock the inbox stamps codes with."""
        return self._inbox.clock() if self._inbox is not None else time.time()

    def _admit(self, cred: CredentialT) -> CredentialT:
        if cred.reprompt and not self.allow_reprompt:
            raise RepromptRequired(
                f"{cred.vault} item {cred.name!r} ({cred.id}) asks for the master password "
                "again before use; allow it with Vaults(allow_reprompt=True) or --allow-reprompt"
            )
        return cred

    def _finish(
        self, cred: CredentialT, ref: Reference, min_remaining: float | None, now: float | None
    ) -> CredentialT:
        self._admit(cred)
        cred.ref = ref.raw
        mask_api_key_field(cred)
        if cred.totp is None and cred.totp_secret is not None:
            at = self.clock() if now is None else now
            left = self.min_remaining if min_remaining is None else min_remaining
            from vaults.plain import PlainCode, PlainCredential  # loaded by the vault's answer

            if isinstance(cred, PlainCredential):
                cred.totp = PlainCode.for_entry(cred.totp_secret, at, left)
            else:
                from vaults.totp import code_for_entry

                cred.totp = code_for_entry(cred.totp_secret, at, left)
            cred.totp_source = "vault"
            cred.totp_error = None
        elif cred.totp is not None and cred.totp_source is None:
            cred.totp_source = "server"
        return cred

    # -- single ---------------------------------------------------------------------
    def _run(
        self,
        plan: DeliveryPlan,
        since: float,
        wait: bool,
        timeout: float | None,
        on_wait: Callable[[Waiting], None] | None,
        cred: Credential,
    ) -> DeliveryRun:
        from vaults.codes.binding import SiteBinding
        from vaults.delivery_run import DeliveryRun

        return DeliveryRun(
            accept=None if self.allow_foreign_links else SiteBinding.for_uris(cred.uris),
            plan=plan,
            since=since,
            timeout=self.code_timeout if timeout is None else _check_timeout(timeout),
            wait=bool(wait),
            consume=self.consume,
            pull_interval=self.pull_interval,
            on_wait=on_wait,
        )

    def resolve(
        self,
        ref: RefLike,
        *,
        totp_identifier: str | None = None,
        totp_url: str | None = None,
        totp_type: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        since: float | None = None,
        on_wait: Callable[[Waiting], None] | None = None,
        min_remaining: float | None = None,
        now: float | None = None,
    ) -> Credential:
        """Resolve one reference: username, password and a one-time code, wherever it comes from.

        The code comes from the first source that applies (``totp_source`` says which):

        1. ``vault`` (or ``server``): the item's TOTP secret (or its vault's computed code);
        2. ``pull``: the pull endpoint ``totp_url``, POSTed a signed request until it answers
           (key: the item's ``totp_api_key`` field, else ``VAULTS_PULL_API_KEY``);
        3. ``inbox``: codes pushed for ``totp_identifier``, waited for event-driven.

        ``totp_identifier``, ``totp_url`` and ``totp_type`` default to the item's custom
        fields of those names; an argument overrides its field. ``totp_type``
        ``authenticator`` uses the vault secret only (:class:`~vaults.errors.NoCode` without
        one); ``email``/``text`` skip the vault secret and wait for a message. A magic link
        from (2) or (3) is returned as ``magic_link`` instead of a code.

        Only inbox codes created after ``since`` count (default: the moment this call
        started, so a code from an earlier login is never reused); each is consumed unless
        the object was made with ``consume=False``. Waits up to ``timeout`` seconds (default
        ``code_timeout``, 15 minutes; 0: one look), then raises
        :class:`~vaults.errors.CodeTimeout` naming the item and the source. ``wait=False``
        looks once (one pull request) and returns the credential without a code when none
        is there yet. ``on_wait(Waiting)`` is called when the call starts to block.

        When the vault answers, nothing else is opened: no store, no HTTP client.
        """
        found = self.resolve_plain(
            ref,
            totp_identifier=totp_identifier,
            totp_url=totp_url,
            totp_type=totp_type,
            wait=wait,
            timeout=timeout,
            since=since,
            on_wait=on_wait,
            min_remaining=min_remaining,
            now=now,
        )
        from vaults.plain import PlainCredential

        return found.to_credential() if isinstance(found, PlainCredential) else found

    def resolve_plain(
        self,
        ref: RefLike,
        *,
        totp_identifier: str | None = None,
        totp_url: str | None = None,
        totp_type: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        since: float | None = None,
        on_wait: Callable[[Waiting], None] | None = None,
        min_remaining: float | None = None,
        now: float | None = None,
    ) -> Credential | PlainCredential:
        """:meth:`resolve`, answering with a :class:`~vaults.plain.PlainCredential` when the
        item's backend has the fast path (:meth:`~vaults.backend.VaultBackend.fetch_plain`)
        and its vault alone answers: no pydantic import (what the CLI uses)."""
        started = self._wall_clock() if since is None else _check_since(since)
        parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
        found = self._admit(self.backend(parsed.scheme).fetch_plain(parsed))
        plan = plan_delivery(
            found,
            totp_identifier=totp_identifier,
            totp_url=totp_url,
            totp_type=totp_type,
            env=self.env,
        )
        if plan is None:
            return self._finish(found, parsed, min_remaining, now)
        from vaults.plain import PlainCredential

        cred = found.to_credential() if isinstance(found, PlainCredential) else found
        run = self._run(plan, started, wait, timeout, on_wait, cred)
        cred.ref = parsed.raw
        mask_api_key_field(cred)
        host = self.host if plan.source == "pull" else None
        from vaults.delivery_run import apply_delivered, deliver

        return apply_delivered(cred, deliver(cred, run, inbox=self.inbox, host=host))

    async def aresolve(
        self,
        ref: RefLike,
        *,
        totp_identifier: str | None = None,
        totp_url: str | None = None,
        totp_type: str | None = None,
        wait: bool = True,
        timeout: float | None = None,
        since: float | None = None,
        on_wait: Callable[[Waiting], None] | None = None,
        min_remaining: float | None = None,
        now: float | None = None,
    ) -> Credential:
        """Async :meth:`resolve`: waits with the inbox's ``await_wait`` / ``apull``, so no
        thread is held while a code is awaited, and the wait is cancellable."""
        import anyio.to_thread  # only async callers pay for anyio

        started = self._wall_clock() if since is None else _check_since(since)
        parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
        backend = await anyio.to_thread.run_sync(self.backend, parsed.scheme)
        cred = self._admit(await backend.afetch(parsed))
        plan = plan_delivery(
            cred,
            totp_identifier=totp_identifier,
            totp_url=totp_url,
            totp_type=totp_type,
            env=self.env,
        )
        if plan is None:
            return self._finish(cred, parsed, min_remaining, now)
        run = self._run(plan, started, wait, timeout, on_wait, cred)
        cred.ref = parsed.raw
        mask_api_key_field(cred)
        host = self.host if plan.source == "pull" else None
        from vaults.delivery_run import adeliver, apply_delivered

        return apply_delivered(cred, await adeliver(cred, run, inbox=self.inbox, host=host))

    # -- writing ----------------------------------------------------------------------
    def set_totp(
        self,
        ref: RefLike,
        secret: SecretInput | None = None,
        *,
        qr: str | Path | None = None,
        replace: bool = False,
    ) -> Credential:
        """Store a TOTP secret in the item ``ref`` names; return the item read back.

        ``secret`` is anything ``vaults totp`` accepts (raw base32, ``otpauth://``,
        ``steam://``) or a :class:`~vaults.models.TotpSecret`; ``qr`` is a setup QR image
        instead (needs ``vaults[qr]``). The returned credential's code is the given
        secret's (checked by reading the item back; a mismatch writes the previous secret
        back and raises :class:`~vaults.errors.WriteNotVerified`).

        The same secret again writes nothing. A different secret already on the item
        raises :class:`~vaults.errors.TotpAlreadySet` unless ``replace=True``. A plugin
        that cannot write raises :class:`~vaults.errors.ReadOnlyVault`; unknown and
        ambiguous items fail as in :meth:`resolve`.
        """
        return self.store_totp(ref, secret, qr=qr, replace=replace).credential

    async def aset_totp(
        self,
        ref: RefLike,
        secret: SecretInput | None = None,
        *,
        qr: str | Path | None = None,
        replace: bool = False,
    ) -> Credential:
        """Async :meth:`set_totp`."""
        return (await self.astore_totp(ref, secret, qr=qr, replace=replace)).credential

    def store_totp(
        self,
        ref: RefLike,
        secret: SecretInput | None = None,
        *,
        qr: str | Path | None = None,
        replace: bool = False,
    ) -> TotpStored:
        """:meth:`set_totp`, also telling whether anything was written (``changed``)."""
        from vaults import enrol

        parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
        given = enrol.secret_from_input(secret, qr)
        backend = self.backend(parsed.scheme)
        stored = enrol.store(
            backend, parsed, given, replace=replace, clock=self.clock, admit=self._admit
        )
        self._finish(stored.credential, parsed, None, None)
        return stored

    async def astore_totp(
        self,
        ref: RefLike,
        secret: SecretInput | None = None,
        *,
        qr: str | Path | None = None,
        replace: bool = False,
    ) -> TotpStored:
        """Async :meth:`store_totp`."""
        import anyio.to_thread  # only async callers pay for anyio

        from vaults import enrol

        parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
        given = (
            enrol.secret_from_input(secret)
            if qr is None
            else await anyio.to_thread.run_sync(enrol.secret_from_input, secret, qr)
        )
        backend = await anyio.to_thread.run_sync(self.backend, parsed.scheme)
        stored = await enrol.astore(
            backend, parsed, given, replace=replace, clock=self.clock, admit=self._admit
        )
        self._finish(stored.credential, parsed, None, None)
        return stored

    # -- batch ------------------------------------------------------------------------
    def _group(
        self, refs: Sequence[RefLike]
    ) -> tuple[list[Credential | VaultsError | None], dict[str, list[tuple[int, Reference]]]]:
        results: list[Credential | VaultsError | None] = [None] * len(refs)
        groups: dict[str, list[tuple[int, Reference]]] = {}
        for index, ref in enumerate(refs):
            try:
                parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
            except VaultsError as exc:
                results[index] = exc
                continue
            groups.setdefault(parsed.scheme, []).append((index, parsed))
        return results, groups

    def _place(
        self,
        results: list[Credential | VaultsError | None],
        members: list[tuple[int, Reference]],
        answers: Sequence[Credential | VaultsError],
        min_remaining: float | None,
        now: float | None,
    ) -> None:
        for (index, parsed), answer in zip(members, answers, strict=True):
            if isinstance(answer, VaultsError):
                results[index] = answer
                continue
            try:
                results[index] = self._finish(answer, parsed, min_remaining, now)
            except VaultsError as exc:
                results[index] = exc

    def resolve_many(
        self,
        refs: Sequence[RefLike],
        *,
        min_remaining: float | None = None,
        now: float | None = None,
    ) -> list[Credential | VaultsError]:
        """Resolve several references, results in input order; a failure is returned in its
        place (a :class:`~vaults.errors.VaultsError`), never raised. Each backend gets its
        references in one ``fetch_many`` call so it can batch; backends run concurrently."""
        results, groups = self._group(refs)

        def run(scheme: str, members: list[tuple[int, Reference]]) -> None:
            try:
                answers = self.backend(scheme).fetch_many([p for _, p in members])
            except VaultsError as exc:
                answers = [exc] * len(members)
            self._place(results, members, answers, min_remaining, now)

        if len(groups) == 1:
            ((scheme, members),) = groups.items()
            run(scheme, members)
        elif groups:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=min(len(groups), self.concurrency)) as pool:
                for future in [pool.submit(run, s, m) for s, m in groups.items()]:
                    future.result()
        return [r for r in results if r is not None]

    async def aresolve_many(
        self,
        refs: Sequence[RefLike],
        *,
        min_remaining: float | None = None,
        now: float | None = None,
    ) -> list[Credential | VaultsError]:
        """Async :meth:`resolve_many`; at most ``concurrency`` lookups in flight per backend."""
        import anyio.to_thread  # only async callers pay for anyio

        results, groups = self._group(refs)

        async def run(scheme: str, members: list[tuple[int, Reference]]) -> None:
            try:
                backend = await anyio.to_thread.run_sync(self.backend, scheme)
                answers = await backend.afetch_many([p for _, p in members], self.concurrency)
            except VaultsError as exc:
                answers = [exc] * len(members)
            self._place(results, members, answers, min_remaining, now)

        async with anyio.create_task_group() as group:
            for scheme, members in groups.items():
                group.start_soon(run, scheme, members)
        return [r for r in results if r is not None]

    # -- lifecycle --------------------------------------------------------------------
    def _close_inbox(self) -> None:
        with self._inbox_lock:
            inbox, own = self._inbox, self._own_inbox
            if own:
                self._inbox, self._own_inbox = None, False
        if inbox is not None and own:
            inbox.close()

    def close(self) -> None:
        with self._lock:
            instances, self._instances = list(self._instances.values()), {}
        for backend in instances:
            backend.close()
        self._close_inbox()

    async def aclose(self) -> None:
        with self._lock:
            instances, self._instances = list(self._instances.values()), {}
        for backend in instances:
            await backend.aclose()
        self._close_inbox()

    def __enter__(self) -> Vaults:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Vaults:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def __getattr__(name: str) -> Any:
    """``Waiting`` (exported here since the first release) loads with the delivery code."""
    if name == "Waiting":
        from vaults.delivery_run import Waiting

        return Waiting
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
