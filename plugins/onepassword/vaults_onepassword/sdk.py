"""The service-account SDK transport (``onepassword-sdk``, extra ``vaults-onepassword[sdk]``).

Chosen only on request (``VAULTS_ONEPASSWORD_TRANSPORT=sdk``) with ``OP_SERVICE_ACCOUNT_TOKEN``.
The SDK is async-only: its calls run on one private event loop (a blocking portal thread) for
the whole process, where the client authenticates once per token; items are fetched with
``client.items.get(vault_id, item_id)``, names are resolved with the vault and item listings.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import importlib.util
import threading
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import anyio
import anyio.from_thread
import anyio.to_thread
from anyio.from_thread import BlockingPortal
from pydantic import SecretStr

from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ConfigurationError,
    ItemNotFound,
    VaultsError,
    VaultUnavailable,
)
from vaults_onepassword.items import OnePasswordItem, from_sdk_item
from vaults_onepassword.references import ItemKey, is_op_id

__all__ = ["SdkTransport", "sdk_available"]

INTEGRATION_NAME = "vaults-onepassword"
INTEGRATION_VERSION = "0.1.0"
INSTALL_HINT = "install the extra: pip install 'vaults-onepassword[sdk]'"

_LOCK = threading.Lock()
_PORTAL: BlockingPortal | None = None
_PORTAL_CM: AbstractContextManager[BlockingPortal] | None = None
_CLIENTS: dict[str, Any] = {}
_AUTH_LOCKS: dict[str, anyio.Lock] = {}
_VAULT_IDS: dict[tuple[str, str], str] = {}


def sdk_available() -> bool:
    """Whether the official ``onepassword-sdk`` package is importable."""
    try:
        return importlib.util.find_spec("onepassword.client") is not None
    except (ImportError, ValueError):
        return False


def _portal() -> BlockingPortal:
    """The process-wide event loop the SDK runs on (started on first use)."""
    global _PORTAL, _PORTAL_CM
    with _LOCK:
        if _PORTAL is None:
            _PORTAL_CM = anyio.from_thread.start_blocking_portal()
            _PORTAL = _PORTAL_CM.__enter__()
            atexit.register(_stop_portal)
        return _PORTAL


def _stop_portal() -> None:
    global _PORTAL, _PORTAL_CM
    with _LOCK:
        cm, _PORTAL_CM, _PORTAL = _PORTAL_CM, None, None
        _CLIENTS.clear()
        _AUTH_LOCKS.clear()
    if cm is not None:
        cm.__exit__(None, None, None)


async def _collect(result: Any) -> list[Any]:
    """SDK listings are lists in new releases, async iterators in older ones."""
    if hasattr(result, "__aiter__"):
        return [entry async for entry in result]
    return list(result or [])


async def _listing(api: Any, *args: Any) -> list[Any]:
    method = getattr(api, "list", None) or api.list_all
    return await _collect(await method(*args))


def _text(value: Any) -> str:
    return str(getattr(value, "value", value) or "")


class SdkTransport:
    """Fetch items through the 1Password service-account SDK."""

    name = "sdk"

    def __init__(self, token: SecretStr, *, concurrency: int = 8) -> None:
        if not sdk_available():
            raise ConfigurationError(
                f"VAULTS_ONEPASSWORD_TRANSPORT=sdk needs the 1Password SDK: {INSTALL_HINT}"
            )
        self._token = token
        self._digest = hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16]
        self.concurrency = max(1, concurrency)

    def _error(self, exc: Exception, key: ItemKey | None) -> VaultsError:
        text = str(exc).replace(self._token.get_secret_value(), "***")
        lowered = text.lower()
        first_line = text.splitlines()[0][:200] if text else type(exc).__name__
        if any(h in lowered for h in ("token", "auth", "unauthorized", "401", "forbidden")):
            return AuthenticationFailed(
                f"the 1Password SDK could not authenticate the service account: {first_line}"
            )
        if key is not None and ("not found" in lowered or "notfound" in lowered):
            return ItemNotFound(f"no 1Password item '{key.item}' in vault '{key.vault}'")
        return VaultUnavailable(f"the 1Password SDK failed: {first_line}")

    async def _client(self) -> Any:
        """The authenticated client for this token: one ``authenticate`` per process (the
        portal loop runs every SDK call, so the lock below is the only one needed)."""
        lock = _AUTH_LOCKS.setdefault(self._digest, anyio.Lock())
        async with lock:
            client = _CLIENTS.get(self._digest)
            if client is None:
                module = importlib.import_module("onepassword.client")
                try:
                    client = await module.Client.authenticate(
                        auth=self._token.get_secret_value(),
                        integration_name=INTEGRATION_NAME,
                        integration_version=INTEGRATION_VERSION,
                    )
                except Exception as exc:
                    raise self._error(exc, None) from None
                _CLIENTS[self._digest] = client
        return client

    async def _vault_id(self, client: Any, key: ItemKey) -> str:
        if is_op_id(key.vault):
            return key.vault
        cached = _VAULT_IDS.get((self._digest, key.vault))
        if cached is not None:
            return cached
        ids = [_text(v.id) for v in await _listing(client.vaults) if v.title == key.vault]
        if not ids:
            raise ItemNotFound(
                f"no 1Password vault named '{key.vault}' is visible to this service account"
            )
        if len(ids) > 1:
            raise AmbiguousItem(
                f"{len(ids)} 1Password vaults are named '{key.vault}'; use the vault id", ids
            )
        _VAULT_IDS[(self._digest, key.vault)] = ids[0]
        return ids[0]

    async def _item_id(self, client: Any, vault_id: str, key: ItemKey) -> str:
        ids = [
            _text(o.id)
            for o in await _listing(client.items, vault_id)
            if o.title == key.item and _text(getattr(o, "state", "active")).lower() != "archived"
        ]
        if not ids:
            raise ItemNotFound(f"no 1Password item '{key.item}' in vault '{key.vault}'")
        if len(ids) > 1:
            raise AmbiguousItem(
                f"{len(ids)} 1Password items in vault '{key.vault}' are titled "
                f"'{key.item}'; use the item id",
                ids,
            )
        return ids[0]

    async def _get(self, key: ItemKey) -> OnePasswordItem:
        client = await self._client()
        try:
            vault_id = await self._vault_id(client, key)
            if is_op_id(key.item):
                try:
                    return from_sdk_item(await client.items.get(vault_id, key.item))
                except Exception as exc:
                    if not isinstance(self._error(exc, key), ItemNotFound):
                        raise
            item_id = await self._item_id(client, vault_id, key)
            return from_sdk_item(await client.items.get(vault_id, item_id))
        except VaultsError:
            raise
        except Exception as exc:
            raise self._error(exc, key) from None

    async def _gather(
        self, keys: Sequence[ItemKey], concurrency: int
    ) -> list[OnePasswordItem | VaultsError]:
        results: list[OnePasswordItem | VaultsError | None] = [None] * len(keys)
        limiter = anyio.CapacityLimiter(max(1, concurrency))

        async def one(index: int, key: ItemKey) -> None:
            async with limiter:
                try:
                    results[index] = await self._get(key)
                except VaultsError as exc:
                    results[index] = exc

        async with anyio.create_task_group() as group:
            for index, key in enumerate(keys):
                group.start_soon(one, index, key)
        return [r for r in results if r is not None]

    def _call(
        self, func: Callable[..., Awaitable[list[OnePasswordItem | VaultsError]]], *args: Any
    ) -> list[OnePasswordItem | VaultsError]:
        return _portal().call(func, *args)

    def fetch_items(self, keys: Sequence[ItemKey]) -> list[OnePasswordItem | VaultsError]:
        return self._call(self._gather, keys, self.concurrency)

    async def afetch_items(
        self, keys: Sequence[ItemKey], concurrency: int | None = None
    ) -> list[OnePasswordItem | VaultsError]:
        return await anyio.to_thread.run_sync(
            self._call, self._gather, keys, concurrency or self.concurrency
        )

    def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
