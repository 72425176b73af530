"""The :class:`Vaults` host object: resolve references to credentials with live codes."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

import anyio

from vaults.backend import DEFAULT_CONCURRENCY, VaultBackend
from vaults.errors import InvalidTotpSecret, UnknownScheme, VaultsError
from vaults.host import PluginHost, make_host
from vaults.models import Credential
from vaults.refs import Reference, parse_reference
from vaults.totp import DEFAULT_MIN_REMAINING, code_for_entry

__all__ = ["Vaults"]

RefLike = str | Reference


class Vaults:
    """Resolve ``SCHEME://…`` references to :class:`~vaults.models.Credential` objects.

    >>> with Vaults() as vaults:  # doctest: +SKIP
    ...     cred = vaults.resolve("keepass://Work/GitHub")
    ...     cred.username, cred.password.get_secret_value(), cred.totp.code

    Backends are created lazily (``from_env``) the first time their scheme is used, so a
    plugin whose vault is not configured costs nothing until asked for.
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
    ) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        self._host = host
        self._instances: dict[str, VaultBackend] = {}
        for backend in backends:
            self._instances[backend.scheme.lower()] = backend
        self.min_remaining = min_remaining
        self.concurrency = max(1, concurrency)
        self.clock = clock
        self._lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------
    @property
    def host(self) -> PluginHost:
        if self._host is None:
            self._host = make_host(env=self.env)
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

    def _finish(
        self, cred: Credential, ref: Reference, min_remaining: float | None, now: float | None
    ) -> Credential:
        cred.ref = ref.raw
        if cred.totp is None and cred.totp_secret is not None:
            try:
                cred.totp = code_for_entry(
                    cred.totp_secret,
                    self.clock() if now is None else now,
                    self.min_remaining if min_remaining is None else min_remaining,
                )
            except InvalidTotpSecret:
                raise
            cred.totp_source = "vault"
        elif cred.totp is not None and cred.totp_source is None:
            cred.totp_source = "server"
        return cred

    # -- single ---------------------------------------------------------------------
    def resolve(
        self, ref: RefLike, *, min_remaining: float | None = None, now: float | None = None
    ) -> Credential:
        """Resolve one reference: username, password and (if the item has one) a live code."""
        parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
        cred = self.backend(parsed.scheme).fetch(parsed)
        return self._finish(cred, parsed, min_remaining, now)

    async def aresolve(
        self, ref: RefLike, *, min_remaining: float | None = None, now: float | None = None
    ) -> Credential:
        """Async :meth:`resolve`."""
        parsed = ref if isinstance(ref, Reference) else parse_reference(ref)
        backend = await anyio.to_thread.run_sync(self.backend, parsed.scheme)
        cred = await backend.afetch(parsed)
        return self._finish(cred, parsed, min_remaining, now)

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
    def close(self) -> None:
        with self._lock:
            instances, self._instances = list(self._instances.values()), {}
        for backend in instances:
            backend.close()

    async def aclose(self) -> None:
        with self._lock:
            instances, self._instances = list(self._instances.values()), {}
        for backend in instances:
            await backend.aclose()

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
