"""A dict-backed reference vault (scheme ``memory``) that passes the contract.

Use it to test a host application without a real vault::

    backend, ids = MemoryBackend.from_seed(STANDARD_SEED)
    vaults = Vaults(backends=[backend], env={})

This module is also a plugin (``make_host(plugins=[("memory", vaults.testing.memory)])``);
it is deliberately NOT registered under the ``vaults`` entry point group, so installed
hosts never see it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from pydantic import SecretStr

from vaults.backend import VaultBackend
from vaults.errors import AmbiguousItem, ItemNotFound, ReadOnlyVault
from vaults.markers import hookimpl
from vaults.models import Credential, TotpSecret
from vaults.refs import Reference
from vaults.testing.seed import SeedItem
from vaults.totp import secret_or_error

__all__ = ["MemoryBackend", "MemoryItem", "vaults_register_backends"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MemoryItem:
    id: str
    name: str
    username: str | None = None
    password: SecretStr | None = None
    totp: SecretStr | None = field(default=None, repr=False)
    uris: tuple[str, ...] = ()


class MemoryBackend(VaultBackend):
    """Items live in a dict. A reference body is an item id or an exact item name.

    It stores TOTP secrets (:meth:`store_totp`, as ``otpauth://`` URIs) unless built with
    ``read_only=True``.
    """

    scheme = "memory"
    display_name = "In-memory vault (tests)"

    def __init__(self, items: Iterable[MemoryItem] = (), *, read_only: bool = False) -> None:
        self._items: dict[str, MemoryItem] = {}
        self._lock = threading.Lock()
        self.read_only = read_only
        self.seed_ids: dict[str, str] = {}
        """Seed key -> item id, when built by :meth:`from_seed`."""
        for item in items:
            self._items[item.id] = item

    @classmethod
    def from_seed(cls, seed: Iterable[SeedItem]) -> tuple[MemoryBackend, dict[str, str]]:
        """A backend holding ``seed`` and the mapping seed key -> item id."""
        backend = cls()
        ids = {
            item.key: backend.add(
                item.name,
                username=item.username,
                password=item.password,
                totp=item.totp,
                uris=item.uris,
            )
            for item in seed
        }
        backend.seed_ids = dict(ids)
        return backend, ids

    def add(
        self,
        name: str,
        *,
        username: str | None = None,
        password: str | None = None,
        totp: str | None = None,
        uris: Iterable[str] = (),
        item_id: str | None = None,
    ) -> str:
        """Store an item and return its id (a new UUID unless ``item_id`` is given)."""
        new = MemoryItem(
            id=item_id or str(uuid.uuid4()),
            name=name,
            username=username,
            password=SecretStr(password) if password is not None else None,
            totp=SecretStr(totp) if totp is not None else None,
            uris=tuple(uris),
        )
        with self._lock:
            self._items[new.id] = new
        return new.id

    def _find(self, ref: Reference) -> MemoryItem:
        wanted = ref.path
        with self._lock:
            item = self._items.get(wanted)
            if item is not None:
                return item
            named = [i for i in self._items.values() if i.name == wanted]
        if len(named) > 1:
            raise AmbiguousItem(
                f"{len(named)} items are named {wanted!r} in the memory vault; "
                f"use an id ({self.scheme}://ID)",
                [i.id for i in named],
            )
        if not named:
            raise ItemNotFound(f"no item {wanted!r} in the memory vault")
        return named[0]

    def fetch(self, ref: Reference) -> Credential:
        log.debug("memory vault: looking up %s", ref)
        item = self._find(ref)
        secret, problem = secret_or_error(item.totp)
        return Credential(
            vault=self.scheme,
            id=item.id,
            name=item.name,
            username=item.username,
            password=item.password,
            uris=list(item.uris),
            totp_secret=secret,
            totp_error=problem,
        )

    def check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyVault("this memory vault is read-only: it cannot store secrets")

    def store_totp(self, ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
        self.check_writable()
        with self._lock:
            current = self._items.get(item.id)
            if current is None:
                raise ItemNotFound(f"item {item.id!r} is no longer in the memory vault")
            stored = SecretStr(secret.to_uri()) if secret is not None else None
            self._items[item.id] = replace(current, totp=stored)
        log.debug("memory vault: stored the TOTP secret of %s", item.id)

    def __repr__(self) -> str:
        return f"<MemoryBackend items={len(self._items)}>"


@hookimpl
def vaults_register_backends(register: Callable[[type[VaultBackend]], None]) -> None:
    register(MemoryBackend)
