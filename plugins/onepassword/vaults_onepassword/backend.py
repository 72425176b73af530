"""The ``op`` backend: 1Password secret references over Connect, the ``op`` CLI or the SDK.

Transport choice (``from_env``):

1. ``VAULTS_ONEPASSWORD_TRANSPORT=sdk`` -- the service-account SDK (``OP_SERVICE_ACCOUNT_TOKEN``);
2. ``OP_CONNECT_HOST`` + ``OP_CONNECT_TOKEN`` -- Connect REST (or ``…_TRANSPORT=connect``);
3. otherwise the ``op`` CLI (``VAULTS_ONEPASSWORD_OP``, default ``op``; or ``…_TRANSPORT=cli``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar, Protocol

from vaults.backend import DEFAULT_CONCURRENCY, VaultBackend
from vaults.errors import ConfigurationError, ReadOnlyVault, VaultsError, WriteConflict
from vaults.refs import Reference
from vaults_onepassword.items import OnePasswordItem
from vaults_onepassword.references import ItemKey, OpRef, parse_op_reference

if TYPE_CHECKING:  # pydantic loads on the first lookup, not when the plugin is listed
    from vaults.models import Credential, TotpSecret

__all__ = ["OnePasswordBackend", "Transport"]

TRANSPORT_ENV = "VAULTS_ONEPASSWORD_TRANSPORT"
_TRANSPORTS = {"": "auto", "auto": "auto", "connect": "connect", "cli": "cli", "op": "cli"}


class Transport(Protocol):
    name: str

    def fetch_items(self, keys: Sequence[ItemKey]) -> list[OnePasswordItem | VaultsError]: ...

    async def afetch_items(
        self, keys: Sequence[ItemKey], concurrency: int | None = None
    ) -> list[OnePasswordItem | VaultsError]: ...

    def close(self) -> None: ...

    async def aclose(self) -> None: ...


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw[:20]!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum:g}")
    return value


def _build(item: OnePasswordItem, ref: OpRef) -> Credential:
    """:func:`~vaults_onepassword.credentials.build_credential` (imports pydantic)."""
    from vaults_onepassword.credentials import build_credential

    return build_credential(item, ref)


class OnePasswordBackend(VaultBackend):
    """``op://VAULT/ITEM[/[SECTION/]FIELD][?attribute=otp]`` references."""

    scheme: ClassVar[str] = "op"
    display_name: ClassVar[str] = "1Password"
    env_vars: ClassVar[tuple[str, ...]] = (
        "OP_CONNECT_HOST",
        "OP_CONNECT_TOKEN",
        "OP_SERVICE_ACCOUNT_TOKEN",
        "VAULTS_ONEPASSWORD_TRANSPORT",
        "VAULTS_ONEPASSWORD_OP",
        "VAULTS_ONEPASSWORD_VAULT",
        "VAULTS_ONEPASSWORD_TIMEOUT",
        "VAULTS_ONEPASSWORD_CONCURRENCY",
    )

    def __init__(
        self,
        transport: Transport,
        *,
        default_vault: str | None = None,
        concurrency: int = 16,
    ) -> None:
        self.transport = transport
        self.default_vault = default_vault or None
        self.concurrency = max(1, concurrency)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OnePasswordBackend:
        wanted = env.get(TRANSPORT_ENV, "").strip().lower()
        concurrency = int(_number(env, "VAULTS_ONEPASSWORD_CONCURRENCY", 16, minimum=1))
        default_vault = env.get("VAULTS_ONEPASSWORD_VAULT", "").strip() or None
        host = env.get("OP_CONNECT_HOST", "").strip()
        token = env.get("OP_CONNECT_TOKEN", "").strip()
        transport: Transport
        from pydantic import SecretStr

        if wanted == "sdk":
            from vaults_onepassword.sdk import SdkTransport

            sa_token = env.get("OP_SERVICE_ACCOUNT_TOKEN", "").strip()
            if not sa_token:
                raise ConfigurationError(
                    "VAULTS_ONEPASSWORD_TRANSPORT=sdk needs OP_SERVICE_ACCOUNT_TOKEN"
                )
            transport = SdkTransport(SecretStr(sa_token), concurrency=concurrency)
        elif wanted not in _TRANSPORTS:
            raise ConfigurationError(
                f"{TRANSPORT_ENV} must be one of connect, cli, sdk (got {wanted[:20]!r})"
            )
        elif _TRANSPORTS[wanted] == "connect" or (
            _TRANSPORTS[wanted] == "auto" and (host or token)
        ):
            if not (host and token):
                missing = "OP_CONNECT_TOKEN" if host else "OP_CONNECT_HOST"
                raise ConfigurationError(
                    f"1Password Connect needs OP_CONNECT_HOST and OP_CONNECT_TOKEN; {missing} "
                    "is not set"
                )
            from vaults_onepassword.connect import ConnectTransport

            transport = ConnectTransport(
                host,
                SecretStr(token),
                timeout=_number(env, "VAULTS_ONEPASSWORD_TIMEOUT", 10.0, minimum=0.01),
                concurrency=concurrency,
            )
        else:
            from vaults_onepassword.op_cli import OpCliTransport

            transport = OpCliTransport(
                env,
                executable=env.get("VAULTS_ONEPASSWORD_OP", "").strip() or "op",
                timeout=_number(env, "VAULTS_ONEPASSWORD_TIMEOUT", 30.0, minimum=0.01),
                concurrency=min(concurrency, 8),
            )
        return cls(transport, default_vault=default_vault, concurrency=concurrency)

    # -- references ------------------------------------------------------------------------
    def parse(self, ref: Reference) -> OpRef:
        return parse_op_reference(ref, self.default_vault)

    def _parse_all(self, refs: Sequence[Reference]) -> list[OpRef | VaultsError]:
        parsed: list[OpRef | VaultsError] = []
        for ref in refs:
            try:
                parsed.append(self.parse(ref))
            except VaultsError as exc:
                parsed.append(exc)
        return parsed

    @staticmethod
    def _keys(parsed: Sequence[OpRef | VaultsError]) -> list[ItemKey]:
        keys: dict[ItemKey, None] = {}
        for entry in parsed:
            if isinstance(entry, OpRef):
                keys[entry.key] = None
        return list(keys)

    @staticmethod
    def _assemble(
        parsed: Sequence[OpRef | VaultsError],
        keys: Sequence[ItemKey],
        items: Sequence[OnePasswordItem | VaultsError],
    ) -> list[Credential | VaultsError]:
        by_key = dict(zip(keys, items, strict=True))
        results: list[Credential | VaultsError] = []
        for entry in parsed:
            if isinstance(entry, VaultsError):
                results.append(entry)
                continue
            item = by_key[entry.key]
            if isinstance(item, VaultsError):
                results.append(item)
                continue
            try:
                results.append(_build(item, entry))
            except VaultsError as exc:
                results.append(exc)
        return results

    # -- VaultBackend ---------------------------------------------------------------------
    def fetch(self, ref: Reference) -> Credential:
        (result,) = self.fetch_many([ref])
        if isinstance(result, VaultsError):
            raise result
        return result

    async def afetch(self, ref: Reference) -> Credential:
        (result,) = await self.afetch_many([ref])
        if isinstance(result, VaultsError):
            raise result
        return result

    def fetch_many(self, refs: Sequence[Reference]) -> list[Credential | VaultsError]:
        """Group by vault, look each vault up once, fetch distinct items concurrently."""
        parsed = self._parse_all(refs)
        keys = self._keys(parsed)
        items = self.transport.fetch_items(keys) if keys else []
        return self._assemble(parsed, keys, items)

    async def afetch_many(
        self, refs: Sequence[Reference], concurrency: int = DEFAULT_CONCURRENCY
    ) -> list[Credential | VaultsError]:
        parsed = self._parse_all(refs)
        keys = self._keys(parsed)
        items = await self.transport.afetch_items(keys, max(1, concurrency)) if keys else []
        return self._assemble(parsed, keys, items)

    # -- writing ----------------------------------------------------------------------------
    def check_writable(self) -> None:
        if not callable(getattr(self.transport, "write_otp", None)):
            raise ReadOnlyVault(
                f"the 1Password {self.transport.name} transport cannot store secrets"
                + (
                    " (the service-account SDK transport is read-only here; use Connect or op)"
                    if self.transport.name == "sdk"
                    else ""
                )
            )

    def store_totp(self, ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
        """Set the item's one-time password field (an ``otpauth://`` URI) as 1Password's
        apps do; every other field as it is."""
        self.check_writable()
        parsed = self.parse(ref)
        (found,) = self.transport.fetch_items([parsed.key])
        if isinstance(found, VaultsError):
            raise found
        if found.id != item.id or not found.vault_id:
            raise WriteConflict(
                f"{ref.raw} no longer names 1Password item {item.id}; nothing written"
            )
        writer = getattr(self.transport, "write_otp")  # noqa: B009 - checked above
        writer(found.vault_id, found.id, secret.to_uri() if secret else None, f"item {item.id}")

    def close(self) -> None:
        self.transport.close()

    async def aclose(self) -> None:
        await self.transport.aclose()
