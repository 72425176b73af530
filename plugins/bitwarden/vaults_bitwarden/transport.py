"""The operations the backend needs from a Bitwarden transport (``bw serve`` or ``bw``)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from vaults.errors import InvalidInput

__all__ = ["Item", "Transport", "WritingTransport", "in_thread", "with_totp"]

Item = dict[str, Any]
LOGIN_TYPE = 1
T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread (anyio is imported by async callers only)."""
    import anyio.to_thread

    return await anyio.to_thread.run_sync(fn, *args)


def with_totp(item: Item, value: str | None, what: str) -> Item:
    """A copy of the whole item (every field, also those this plugin does not model) with
    only ``login.totp`` changed. Only logins hold a TOTP secret."""
    login = item.get("login")
    if item.get("type") != LOGIN_TYPE or not isinstance(login, dict):
        raise InvalidInput(f"Bitwarden {what} is not a login: only logins hold a TOTP secret")
    updated = copy.deepcopy(item)
    updated["login"]["totp"] = value
    return updated


class Transport(Protocol):
    """One way of talking to Bitwarden. Every call has a timeout; failures raise
    :mod:`vaults.errors` types; ``what`` names the lookup in error messages."""

    name: str
    """``serve``, ``api`` or ``cli``."""
    requests: int
    """Round trips made so far (HTTP requests or ``bw`` runs), for tests and benchmarks."""

    def get_item(self, item_id: str, what: str, *, listed: bool = True) -> Item: ...
    def list_items(self, search: str | None, what: str) -> list[Item]: ...
    def reveal(self, item: Item) -> Item:
        """The whole item for one entry of :meth:`list_items` (the native transport lists
        without secrets and decrypts only the item a lookup selects; the others list whole
        items and return them as they are)."""
        ...

    async def areveal(self, item: Item) -> Item: ...
    def list_organizations(self) -> list[Item]: ...
    def list_collections(self) -> list[Item]: ...
    def status(self) -> str: ...
    def close(self) -> None: ...

    async def aget_item(self, item_id: str, what: str, *, listed: bool = True) -> Item: ...
    async def alist_items(self, search: str | None, what: str) -> list[Item]: ...
    async def alist_organizations(self) -> list[Item]: ...
    async def alist_collections(self) -> list[Item]: ...
    async def astatus(self) -> str: ...
    async def aclose(self) -> None: ...


class WritingTransport(Transport, Protocol):
    """A transport that can store an item's TOTP secret (``bw serve``, ``bw``, native)."""

    def write_totp(self, item_id: str, value: str | None, what: str) -> None:
        """Make ``value`` the item's ``login.totp`` (``None``: remove it), everything else
        as it is; raise :class:`~vaults.errors.WriteConflict` when the item changed
        meanwhile (nothing written)."""
        ...
