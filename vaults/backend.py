"""The base class every vault backend implements (one backend per reference scheme)."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from vaults.errors import ReadOnlyVault, VaultsError
from vaults.refs import Reference

if TYPE_CHECKING:  # pydantic loads only when a model is built (see vaults.plain)
    from vaults.models import Credential, TotpSecret
    from vaults.plain import PlainCredential

__all__ = ["DEFAULT_CONCURRENCY", "VaultBackend"]

DEFAULT_CONCURRENCY = 8


class VaultBackend(abc.ABC):
    """A vault plugin's backend. Subclasses set ``scheme`` and implement :meth:`fetch`.

    ``fetch`` returns a :class:`~vaults.models.Credential` carrying the item's parsed
    ``totp_secret`` (the host turns it into a code), or raises a :mod:`vaults.errors`
    error: "mine but missing" is :class:`~vaults.errors.ItemNotFound`, never ``None``.
    """

    scheme: ClassVar[str]
    """The reference scheme this backend owns (``keepass``, ``bitwarden``, ``op``…)."""
    display_name: ClassVar[str] = ""
    env_vars: ClassVar[tuple[str, ...]] = ()
    """Environment variables it reads (shown by ``vaults plugins``)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> VaultBackend:
        """Build the backend from configuration; raise ConfigurationError when incomplete."""
        return cls()

    @abc.abstractmethod
    def fetch(self, ref: Reference) -> Credential:
        """Look the item up and return it (username, password, TOTP secret, fields)."""

    def fetch_plain(self, ref: Reference) -> PlainCredential | Credential:
        """Optional fast path: :meth:`fetch` without building pydantic models.

        Override it to return a :class:`~vaults.plain.PlainCredential` (and implement
        :meth:`fetch` as ``return self.fetch_plain(ref).to_credential()``): the CLI then
        resolves without importing pydantic, which costs more than the rest of a
        ``vaults resolve``. The default returns :meth:`fetch`'s credential.
        """
        return self.fetch(ref)

    async def afetch(self, ref: Reference) -> Credential:
        """Async :meth:`fetch`; the default runs ``fetch`` in a worker thread."""
        import anyio.to_thread  # only async callers pay for anyio

        return await anyio.to_thread.run_sync(self.fetch, ref)

    def fetch_many(self, refs: Sequence[Reference]) -> list[Credential | VaultsError]:
        """Fetch several references; one failure is returned in place, never raised.

        Override to batch (one listing call for many items) where the vault allows it.
        """
        results: list[Credential | VaultsError] = []
        for ref in refs:
            try:
                results.append(self.fetch(ref))
            except VaultsError as exc:
                results.append(exc)
        return results

    async def afetch_many(
        self, refs: Sequence[Reference], concurrency: int = DEFAULT_CONCURRENCY
    ) -> list[Credential | VaultsError]:
        """Async :meth:`fetch_many`: concurrent :meth:`afetch`, at most ``concurrency`` at once."""
        import anyio

        results: list[Credential | VaultsError | None] = [None] * len(refs)
        limiter = anyio.Semaphore(max(1, concurrency))

        async def one(index: int, ref: Reference) -> None:
            async with limiter:
                try:
                    results[index] = await self.afetch(ref)
                except VaultsError as exc:
                    results[index] = exc

        async with anyio.create_task_group() as group:
            for index, ref in enumerate(refs):
                group.start_soon(one, index, ref)
        return [r for r in results if r is not None]

    # -- optional: writing ----------------------------------------------------------------
    def check_writable(self) -> None:
        """Raise :class:`~vaults.errors.ReadOnlyVault` when :meth:`store_totp` cannot work.

        Called by :meth:`vaults.Vaults.set_totp` before anything is read. The default refuses
        backends that do not override :meth:`store_totp`; override it to refuse a read-only
        configuration too (then call ``super().check_writable()``).
        """
        if type(self).store_totp is VaultBackend.store_totp:
            raise ReadOnlyVault(f"the {self._label()} vault plugin cannot store secrets")

    def store_totp(self, ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
        """Optional: make ``secret`` the TOTP secret of ``item`` (``None``: remove it).

        ``item`` is what :meth:`fetch` just returned for ``ref`` (its ``id`` names the item
        to write); every other field of the item must stay as it is, including fields the
        plugin does not model. Store it the way the vault's own apps do, so they show the
        same code. Raise :class:`~vaults.errors.WriteConflict` when the item or vault
        changed since it was read (nothing written). The host checks the result by reading
        the item back, and restores the previous secret when it differs.
        """
        raise ReadOnlyVault(f"the {self._label()} vault plugin cannot store secrets")

    async def astore_totp(
        self, ref: Reference, item: Credential, secret: TotpSecret | None
    ) -> None:
        """Async :meth:`store_totp`; the default runs it in a worker thread."""
        import anyio.to_thread  # only async callers pay for anyio

        await anyio.to_thread.run_sync(self.store_totp, ref, item, secret)

    def _label(self) -> str:
        return self.display_name or getattr(self, "scheme", "") or type(self).__name__

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release connections and processes."""

    async def aclose(self) -> None:
        self.close()
