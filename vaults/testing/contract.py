"""The vault plugin contract: subclass :class:`VaultContract`, implement one factory.

::

    class TestMyVault(VaultContract):
        scheme = "myvault"
        entry_point = "myvault"

        def create_vault(self, seed, request):
            backend = MyBackend(...)
            ids = {item.key: backend.store(item) for item in seed}
            return SeededVault(backend, ids)

The seeded vault is created once per test class. Capability flags turn optional checks
into skips. See ``docs/writing-a-plugin.md``.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, TypeVar

import anyio
import pytest

from vaults.backend import VaultBackend
from vaults.errors import (
    AmbiguousItem,
    InvalidReference,
    ItemNotFound,
    ReadOnlyVault,
    TotpAlreadySet,
    VaultsError,
)
from vaults.host import ENTRY_POINT_GROUP, make_host
from vaults.models import Credential, TotpSecret
from vaults.plain import PlainCredential
from vaults.refs import Reference, parse_reference
from vaults.resolver import Vaults
from vaults.testing.clock import FrozenClock
from vaults.testing.leaks import Exposure, assert_no_leak, error_texts, record_texts
from vaults.testing.seed import (
    CANARY,
    HOTP_ITEM,
    MISSING_NAME,
    SHARED_NAME,
    STANDARD_SEED,
    SeedItem,
    secrets_of,
)
from vaults.totp import DEFAULT_MIN_REMAINING, code_at, code_for_entry, parse_secret

__all__ = ["SeededVault", "VaultContract"]

T = TypeVar("T")

_ALL_KEYS = [item.key for item in STANDARD_SEED]
_UNIQUE_NAME_KEYS = [item.key for item in STANDARD_SEED if item.name != SHARED_NAME]
_TOTP_KEYS = [item.key for item in STANDARD_SEED if item.totp is not None]
_NO_TOTP_KEYS = [item.key for item in STANDARD_SEED if item.totp is None]

# secrets the write checks store (each holds the canary, so the leak check looks for them)
_WRITE_RAW = f"{CANARY}WRITERAWSECRET234567"
_WRITE_URI = (
    f"otpauth://totp/Written:writer@example.test?secret={CANARY}WRITEOTPAUTHSHA256Q"
    "&issuer=Written&algorithm=SHA256&digits=8&period=30"
)
_WRITE_OTHER = f"{CANARY}REPLACEMENTSECRET567"

Expectation = str | type[VaultsError]
"""A seed key (a credential for that item is expected) or the error class expected."""


@dataclass(frozen=True)
class SeededVault:
    """What the author's factory returns."""

    backend: VaultBackend
    """The backend under test, holding every item of the seed it was given."""
    ids: Mapping[str, str]
    """Seed key -> the id the vault assigned to that item (for every item of the seed)."""
    secrets: Sequence[str] = field(default=(), repr=False)
    """Extra strings that must never leak (master password, API token, session key)."""


def _run(fn: Callable[[], Awaitable[T]]) -> T:
    return anyio.run(fn)


def _describe_result(result: Credential | VaultsError) -> str:
    if isinstance(result, VaultsError):
        return f"{type(result).__name__}({result})"
    return f"Credential(id={result.id!r}, name={result.name!r})"


def _comparable(result: Credential | VaultsError) -> tuple[Any, ...]:
    """A result reduced to what sync and async must agree on."""
    if isinstance(result, AmbiguousItem):
        return ("error", "AmbiguousItem", frozenset(result.candidates))
    if isinstance(result, VaultsError):
        return ("error", type(result).__name__)
    data = result.public_dict(reveal=True)
    if result.totp_source == "server":
        data.pop("totp")  # computed by the server at real time: may differ between two calls
    return ("credential", json.dumps(data, sort_keys=True, default=str))


class VaultContract:
    """Mixin of contract tests for a vault backend. Not collected by itself (not ``Test*``).

    Implement :meth:`create_vault`; set :attr:`scheme` and :attr:`entry_point`; set the
    ``supports_*`` flags your vault lacks to ``False`` (those checks are then skipped).
    """

    scheme: ClassVar[str] = ""
    """The reference scheme of the backend under test (required)."""
    entry_point: ClassVar[str | None] = None
    """The plugin's entry-point name in the ``vaults`` group (required)."""

    supports_lookup_by_id: ClassVar[bool] = True
    supports_lookup_by_name: ClassVar[bool] = True
    supports_duplicate_names: ClassVar[bool] = True
    """Two items may share a name (``False``: ``shared_2`` is left out of the seed)."""
    supports_totp: ClassVar[bool] = True
    supports_otpauth_params: ClassVar[bool] = True
    """Non-default otpauth parameters (SHA256, 8 digits) survive storage."""
    supports_steam: ClassVar[bool] = True
    """Steam Guard secrets (``False``: ``steam`` is left out of the seed)."""
    supports_totp_error: ClassVar[bool] = False
    """The vault stores any text as an item's TOTP (``hotp`` is then added to the seed: it
    must resolve with ``totp=None`` and a ``totp_error``, the login intact)."""
    supports_uris: ClassVar[bool] = True
    supports_async: ClassVar[bool] = True
    supports_batch: ClassVar[bool] = False
    """The backend overrides ``fetch_many`` to batch; it is then also checked directly."""
    supports_store_totp: ClassVar[bool | None] = None
    """Check writing (``Vaults.set_totp``): ``None`` (default) when the backend overrides
    ``store_totp``; ``False`` skips the write checks (e.g. a slow transport whose writes are
    tested elsewhere). They use the seeded vault and put every item they touch back."""

    # -- what the plugin author implements or overrides ----------------------------------
    def create_vault(self, seed: Sequence[SeedItem], request: pytest.FixtureRequest) -> SeededVault:
        """Store every item of ``seed`` in a fresh vault; return the backend and the ids.

        Called once per test class on a fresh instance (keep no state on ``self``).
        ``request`` is the class-scoped fixture request: ``request.getfixturevalue(...)``
        gives class- or session-scoped fixtures (``tmp_path_factory``, a server),
        ``request.addfinalizer`` registers teardown. ``backend.close()`` is called for you.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement create_vault(self, seed, request) -> "
            "SeededVault (or override the class-scoped 'seeded_vault' fixture)"
        )

    def ref_by_id(self, item_id: str) -> str:
        """The reference naming an item by its vault id."""
        return f"{self.scheme}://{item_id}"

    def ref_by_name(self, name: str) -> str:
        """The reference naming an item by its exact name."""
        return f"{self.scheme}://{name}"

    def missing_id(self) -> str:
        """An id shaped like the vault's ids that names no item."""
        return "5f0c1b4e-0000-4000-8000-00000000dead"

    def seed_items(self) -> tuple[SeedItem, ...]:
        """The seed given to :meth:`create_vault`: the standard seed minus flagged-off items."""
        dropped = set()
        if not self.supports_duplicate_names:
            dropped.add("shared_2")
        if not self.supports_steam:
            dropped.add("steam")
        extra = (HOTP_ITEM,) if self.supports_totp_error else ()
        return tuple(item for item in STANDARD_SEED if item.key not in dropped) + extra

    # -- fixtures -------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @staticmethod
    def seeded_vault(request: pytest.FixtureRequest) -> Iterator[SeededVault]:
        """The vault under test, seeded once per class through :meth:`create_vault`."""
        if request.cls is None or not issubclass(request.cls, VaultContract):
            pytest.fail("seeded_vault is for VaultContract subclasses")
        contract = request.cls()
        seed = contract.seed_items()
        seeded = contract.create_vault(seed, request)
        try:
            contract._check_seeded(seeded, seed)
            yield seeded
        finally:
            backend = getattr(seeded, "backend", None)
            if isinstance(backend, VaultBackend):
                backend.close()

    @pytest.fixture
    def contract_clock(self) -> FrozenClock:
        """The frozen clock every resolution in the contract uses."""
        return FrozenClock()

    @pytest.fixture
    def contract_vaults(self, seeded_vault: SeededVault, contract_clock: FrozenClock) -> Vaults:
        """A :class:`~vaults.Vaults` host using only the backend under test."""
        return Vaults(
            host=make_host(load_entrypoints=False),
            env={},
            backends=[seeded_vault.backend],
            clock=contract_clock,
        )

    # -- helpers --------------------------------------------------------------------------
    def _check_seeded(self, seeded: object, seed: Sequence[SeedItem]) -> None:
        name = type(self).__name__
        if not isinstance(seeded, SeededVault):
            pytest.fail(f"{name}.create_vault must return a SeededVault, got {type(seeded)!r}")
        if not isinstance(seeded.backend, VaultBackend):
            pytest.fail(f"SeededVault.backend must be a VaultBackend, got {type(seeded.backend)!r}")
        missing = [item.key for item in seed if not seeded.ids.get(item.key)]
        if missing:
            pytest.fail(f"{name}.create_vault returned no id for seed keys {missing}")
        values = [seeded.ids[item.key] for item in seed]
        if len(set(values)) != len(values):
            pytest.fail(f"{name}.create_vault returned the same id for several items: {values}")

    def _item(self, key: str) -> SeedItem:
        for item in self.seed_items():
            if item.key == key:
                return item
        pytest.skip(f"seed item {key!r} is not stored (capability flags)")

    def _need(self, flag: str) -> None:
        if not getattr(self, flag):
            pytest.skip(f"{flag} = False")

    def _need_entry_point(self) -> str:
        if not self.entry_point:
            pytest.fail(
                f"{type(self).__name__}.entry_point is not set: name the entry point that "
                f"registers the backend ([project.entry-points.{ENTRY_POINT_GROUP}] NAME = ...)"
            )
        return self.entry_point

    def _reachable_ref(self, seeded: SeededVault, item: SeedItem) -> str | None:
        """A reference naming exactly ``item`` (by id if possible), or None."""
        if self.supports_lookup_by_id:
            return self.ref_by_id(seeded.ids[item.key])
        shared = sum(other.name == item.name for other in self.seed_items()) > 1
        if self.supports_lookup_by_name and not shared:
            return self.ref_by_name(item.name)
        return None

    def _any_ref(self, seeded: SeededVault, item: SeedItem) -> str:
        ref = self._reachable_ref(seeded, item)
        if ref is None:
            pytest.skip(f"{item.key!r} cannot be named alone without lookup by id")
        return ref

    def _assert_credential(
        self, cred: object, item: SeedItem, seeded: SeededVault, how: str
    ) -> None:
        assert isinstance(cred, Credential), f"{how}: expected a Credential, got {cred!r}"
        assert cred.vault == self.scheme, f"{how}: credential.vault should be the scheme"
        assert cred.id == seeded.ids[item.key], (
            f"{how}: got item {cred.id!r} ({cred.name!r}), expected {item.key!r} "
            f"with id {seeded.ids[item.key]!r} ({item.name!r})"
        )
        assert cred.name == item.name, f"{how}: wrong name"
        assert cred.username == item.username, f"{how}: wrong username"
        got = cred.password.get_secret_value() if cred.password is not None else None
        same_password = got == item.password  # a bool, so a failure never prints the secret
        assert same_password, (
            f"{how}: the password differs from the seeded one "
            f"(got {'nothing' if got is None else f'{len(got)} chars'}, "
            f"expected {len(item.password or '')} chars)"
        )
        if self.supports_uris:
            missing = [uri for uri in item.uris if uri not in cred.uris]
            assert not missing, f"{how}: uris {missing} missing from {cred.uris}"

    def _assert_totp(
        self, cred: Credential, item: SeedItem, now: float, started: float, ended: float
    ) -> None:
        secret = item.totp_secret()
        assert secret is not None
        assert cred.totp is not None, (
            f"{item.key!r} has a TOTP secret but the credential has no code "
            f"(set Credential.totp_secret, e.g. with vaults.totp.parse_secret)"
            + (f"; totp_error: {cred.totp_error}" if cred.totp_error else "")
        )
        if cred.totp_source == "server":
            # computed by the vault at real time: any window the call overlapped
            first = math.floor(started / secret.period)
            last = math.floor(ended / secret.period) + 1
            allowed = {code_at(secret, w * secret.period).code for w in range(first, last + 1)}
            assert cred.totp.code in allowed, (
                f"{item.key!r}: the vault's code {cred.totp.code!r} is not the code of "
                f"the seeded secret around the call ({sorted(allowed)})"
            )
            return
        expected = code_for_entry(secret, now, DEFAULT_MIN_REMAINING)
        assert (cred.totp.code, cred.totp.valid_from, cred.totp.valid_until) == (
            expected.code,
            expected.valid_from,
            expected.valid_until,
        ), (
            f"{item.key!r}: the code at t={now} differs from the engine's code for the seeded "
            f"secret (algorithm {secret.algorithm}, {secret.digits} digits, period "
            f"{secret.period}{', steam' if secret.encoder else ''})"
        )

    def _resolve_timed(self, vaults: Vaults, ref: str) -> tuple[Credential, float, float]:
        started = time.time()
        cred = vaults.resolve(ref)
        return cred, started, time.time()

    def _batch_plan(self, seeded: SeededVault) -> list[tuple[str, Expectation]]:
        keys = {item.key for item in self.seed_items()}
        by = {item.key: item for item in self.seed_items()}
        plan: list[tuple[str, Expectation]] = []
        by_id, by_name = self.supports_lookup_by_id, self.supports_lookup_by_name
        if by_id:
            plan.append((self.ref_by_id(seeded.ids["github"]), "github"))
        if by_name:
            plan.append((self.ref_by_name(MISSING_NAME), ItemNotFound))
            plan.append((self.ref_by_name(by["acme"].name), "acme"))
        if by_name and "shared_2" in keys:
            plan.append((self.ref_by_name(SHARED_NAME), AmbiguousItem))
        if by_id:
            plan.append((self.ref_by_id(self.missing_id()), ItemNotFound))
        plan.append(("not a reference", InvalidReference))
        if by_id:
            plan.append((self.ref_by_id(seeded.ids["unicode"]), "unicode"))
        if by_name:
            plan.append((self.ref_by_name(by["github"].name), "github"))
            plan.append((self.ref_by_name(by["unicode"].name), "unicode"))
        if by_id:
            plan.append((self.ref_by_id(seeded.ids["github"]), "github"))
        return plan

    def _assert_batch(
        self,
        results: Sequence[Credential | VaultsError],
        plan: Sequence[tuple[str, Expectation]],
        seeded: SeededVault,
        how: str,
    ) -> None:
        assert len(results) == len(plan), (
            f"{how}: {len(plan)} references gave {len(results)} results"
        )
        for index, ((ref, expected), result) in enumerate(zip(plan, results, strict=True)):
            where = f"{how}[{index}] ({ref})"
            if isinstance(expected, str):
                assert not isinstance(result, VaultsError), f"{where}: unexpected {result!r}"
                self._assert_credential(result, self._item(expected), seeded, where)
            else:
                assert isinstance(result, expected), (
                    f"{where}: expected {expected.__name__}, got {_describe_result(result)}"
                )

    # -- the contract: scheme and registration ------------------------------------------
    def test_scheme_is_a_valid_reference_scheme(self, seeded_vault: SeededVault) -> None:
        assert self.scheme, f"{type(self).__name__}.scheme is not set"
        assert type(seeded_vault.backend).scheme == self.scheme, (
            f"the backend's scheme {type(seeded_vault.backend).scheme!r} is not {self.scheme!r}"
        )
        assert parse_reference(f"{self.scheme}://x").scheme == self.scheme, (
            "the scheme must be lower case letters, digits, '+', '-' or '.'"
        )
        samples = [self.ref_by_name("Item"), self.ref_by_id(self.missing_id())]
        for ref in samples:
            assert parse_reference(ref).scheme == self.scheme, f"{ref!r} is not a {self.scheme} ref"

    def test_entry_point_registers_the_backend(self, seeded_vault: SeededVault) -> None:
        name = self._need_entry_point()
        found = [
            ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if ep.name == name
        ]
        assert found, (
            f"no entry point {name!r} in group {ENTRY_POINT_GROUP!r}: declare "
            f"[project.entry-points.{ENTRY_POINT_GROUP}] {name} = 'your_package.plugin' "
            f"and install the distribution (pip install -e .)"
        )
        host = make_host(env={"VAULTS_LOAD_PLUGINS": name})
        host.pm.check_pending()
        backends = host.backends()
        info = next((i for i in host.plugins if i.name == name), None)
        assert info is not None, f"entry point {name!r} was not loaded"
        assert info.error is None, f"plugin {name!r} failed: {info.error}"
        entry = backends.get(self.scheme)
        assert entry is not None, (
            f"plugin {name!r} registered schemes {info.schemes}, not {self.scheme!r}"
        )
        assert entry.plugin == name
        assert isinstance(seeded_vault.backend, entry.backend), (
            f"the backend under test is a {type(seeded_vault.backend).__name__}, but the "
            f"entry point registers {entry.backend.__name__}"
        )

    def test_scheme_is_unique_among_installed_plugins(self) -> None:
        name = self._need_entry_point()
        host = make_host(env={})
        backends = host.backends()
        clashes = [
            f"{info.name}: {info.error}"
            for info in host.plugins
            if info.error and f"scheme {self.scheme!r} is already registered" in info.error
        ]
        assert not clashes, f"several installed plugins claim {self.scheme!r}: {clashes}"
        entry = backends.get(self.scheme)
        assert entry is not None and entry.plugin == name, (
            f"scheme {self.scheme!r} is registered by "
            f"{entry.plugin if entry else 'no plugin'!r}, expected {name!r}"
        )

    # -- the contract: lookups ------------------------------------------------------------
    @pytest.mark.parametrize("key", _ALL_KEYS)
    def test_resolve_by_id(
        self, key: str, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        self._need("supports_lookup_by_id")
        item = self._item(key)
        ref = self.ref_by_id(seeded_vault.ids[key])
        cred = contract_vaults.resolve(ref)
        self._assert_credential(cred, item, seeded_vault, f"resolve({ref!r})")
        assert cred.ref == parse_reference(ref).raw

    @pytest.mark.parametrize("key", _UNIQUE_NAME_KEYS)
    def test_resolve_by_exact_name(
        self, key: str, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        self._need("supports_lookup_by_name")
        item = self._item(key)
        ref = self.ref_by_name(item.name)
        self._assert_credential(
            contract_vaults.resolve(ref), item, seeded_vault, f"resolve({ref!r})"
        )

    def test_exact_name_wins_over_prefix_match(
        self, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        self._need("supports_lookup_by_name")
        short, longer = self._item("github"), self._item("github_enterprise")
        assert longer.name.startswith(short.name)
        for item in (short, longer):
            ref = self.ref_by_name(item.name)
            self._assert_credential(
                contract_vaults.resolve(ref), item, seeded_vault, f"resolve({ref!r})"
            )

    def test_shared_name_is_ambiguous(
        self, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        self._need("supports_lookup_by_name")
        self._need("supports_duplicate_names")
        first, second = self._item("shared_1"), self._item("shared_2")
        ref = self.ref_by_name(SHARED_NAME)
        with pytest.raises(AmbiguousItem) as caught:
            contract_vaults.resolve(ref)
        expected = {seeded_vault.ids[first.key], seeded_vault.ids[second.key]}
        assert set(caught.value.candidates) == expected, (
            f"AmbiguousItem.candidates should hold both item ids {sorted(expected)}"
        )

    def test_missing_name_raises_item_not_found(self, contract_vaults: Vaults) -> None:
        self._need("supports_lookup_by_name")
        with pytest.raises(ItemNotFound) as caught:
            contract_vaults.resolve(self.ref_by_name(MISSING_NAME))
        assert MISSING_NAME in str(caught.value), (
            f"the ItemNotFound message should name the missing item: {caught.value}"
        )

    def test_missing_id_raises_item_not_found(self, contract_vaults: Vaults) -> None:
        self._need("supports_lookup_by_id")
        with pytest.raises(ItemNotFound):
            contract_vaults.resolve(self.ref_by_id(self.missing_id()))

    # -- the contract: one-time codes -----------------------------------------------------
    @pytest.mark.parametrize("key", _TOTP_KEYS)
    def test_totp_code_matches_the_engine(
        self,
        key: str,
        seeded_vault: SeededVault,
        contract_vaults: Vaults,
        contract_clock: FrozenClock,
    ) -> None:
        self._need("supports_totp")
        item = self._item(key)
        if key == "acme":
            self._need("supports_otpauth_params")
        ref = self._any_ref(seeded_vault, item)
        period = (item.totp_secret() or pytest.fail("no secret")).period
        # two different windows: at the start of one, then late in another (skip rule)
        for now in (contract_clock.now, contract_clock.now + 3 * period + 15):
            contract_clock.set(now)
            cred, started, ended = self._resolve_timed(contract_vaults, ref)
            self._assert_totp(cred, item, now, started, ended)
            self._assert_credential(cred, item, seeded_vault, f"resolve({ref!r})")

    @pytest.mark.parametrize("key", _NO_TOTP_KEYS)
    def test_no_totp_gives_none(
        self, key: str, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        item = self._item(key)
        cred = contract_vaults.resolve(self._any_ref(seeded_vault, item))
        assert cred.totp is None, f"{key!r} has no TOTP secret but got a code"
        assert cred.totp_secret is None, f"{key!r} has no TOTP secret but got one"
        assert cred.totp_error is None, f"{key!r} has no TOTP secret but got {cred.totp_error!r}"

    def test_unusable_totp_keeps_the_login(
        self, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        """An item whose TOTP gives no code still resolves: ``totp_error``, not an error."""
        self._need("supports_totp_error")
        ref = self._any_ref(seeded_vault, HOTP_ITEM)
        cred = contract_vaults.resolve(ref)
        assert cred.totp is None and cred.totp_secret is None, (
            f"{ref}: an HOTP secret must give no TOTP code"
        )
        assert cred.totp_error and "HOTP" in cred.totp_error, (
            f"{ref}: totp_error should say the secret is HOTP, got {cred.totp_error!r}"
        )
        self._assert_credential(cred, HOTP_ITEM, seeded_vault, f"resolve({ref!r})")
        assert_no_leak([Exposure("totp_error", cred.totp_error)], secrets_of(self.seed_items()))

    # -- the contract: async and batches --------------------------------------------------
    def test_async_resolve_matches_sync(
        self, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        self._need("supports_async")
        refs = [ref for ref, _ in self._batch_plan(seeded_vault)]

        def sync_one(ref: str) -> Credential | VaultsError:
            try:
                return contract_vaults.resolve(ref)
            except VaultsError as exc:
                return exc

        async def async_all() -> list[Credential | VaultsError]:
            results: list[Credential | VaultsError] = []
            for ref in refs:
                try:
                    results.append(await contract_vaults.aresolve(ref))
                except VaultsError as exc:
                    results.append(exc)
            return results

        sync = [sync_one(ref) for ref in refs]
        asynchronous = _run(async_all)
        for ref, one, other in zip(refs, sync, asynchronous, strict=True):
            assert _comparable(one) == _comparable(other), (
                f"{ref}: resolve gave {_describe_result(one)}, aresolve gave "
                f"{_describe_result(other)}"
            )

    def test_resolve_many_keeps_order_and_failures(
        self, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        plan = self._batch_plan(seeded_vault)
        results = contract_vaults.resolve_many([ref for ref, _ in plan])
        self._assert_batch(results, plan, seeded_vault, "resolve_many")

    def test_async_resolve_many_matches_sync(
        self, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        self._need("supports_async")
        plan = self._batch_plan(seeded_vault)
        refs = [ref for ref, _ in plan]

        async def run() -> list[Credential | VaultsError]:
            return await contract_vaults.aresolve_many(refs)

        results = _run(run)
        self._assert_batch(results, plan, seeded_vault, "aresolve_many")
        sync = contract_vaults.resolve_many(refs)
        assert [_comparable(r) for r in results] == [_comparable(r) for r in sync]

    def test_backend_batch_methods(self, seeded_vault: SeededVault) -> None:
        self._need("supports_batch")
        backend = seeded_vault.backend
        assert type(backend).fetch_many is not VaultBackend.fetch_many, (
            "supports_batch = True but the backend does not override fetch_many"
        )
        plan = [(ref, exp) for ref, exp in self._batch_plan(seeded_vault) if "://" in ref]
        parsed: list[Reference] = [parse_reference(ref) for ref, _ in plan]
        self._assert_batch(backend.fetch_many(parsed), plan, seeded_vault, "fetch_many")
        if self.supports_async:

            async def run() -> list[Credential | VaultsError]:
                return await backend.afetch_many(parsed)

            self._assert_batch(_run(run), plan, seeded_vault, "afetch_many")

    def test_plain_fast_path_matches_the_models(
        self, seeded_vault: SeededVault, contract_vaults: Vaults
    ) -> None:
        """``fetch_plain`` (the CLI's path without pydantic) answers what ``fetch`` does, and
        ``resolve_plain`` what ``resolve`` does; its plain objects print no secret."""
        backend = seeded_vault.backend
        exposures: list[Exposure] = []

        def outcome(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except VaultsError as exc:
                return exc

        def model(found: Any) -> Credential | VaultsError:
            if isinstance(found, PlainCredential):
                exposures.extend(
                    [
                        Exposure(f"repr() of {where}", repr(found)),
                        Exposure(f"str() of {where}", str(found)),
                        Exposure(f"public_dict() of {where}", json.dumps(found.public_dict())),
                        Exposure(f"repr() of {where}.totp", repr(found.totp)),
                        Exposure(f"repr() of {where}.totp_secret", repr(found.totp_secret)),
                        Exposure(f"repr() of {where}.fields", repr(found.fields)),
                    ]
                )
                return found.to_credential()
            assert isinstance(found, Credential | VaultsError), (
                f"{where} returned {type(found).__name__}, not a (Plain)Credential"
            )
            return found

        for ref, _ in self._batch_plan(seeded_vault):
            if "://" not in ref:
                continue
            parsed = parse_reference(ref)
            pairs: list[tuple[str, Callable[[], Any], str, Callable[[], Any]]] = [
                ("fetch_plain", partial(backend.fetch_plain, parsed), "fetch",
                 partial(backend.fetch, parsed)),
                ("resolve_plain", partial(contract_vaults.resolve_plain, ref), "resolve",
                 partial(contract_vaults.resolve, ref)),
            ]  # fmt: skip
            for quick_name, quick_call, full_name, full_call in pairs:
                where = f"{quick_name}({ref!r})"
                quick, full = model(outcome(quick_call)), outcome(full_call)
                assert _comparable(quick) == _comparable(full), (
                    f"{ref}: {quick_name} gave {_describe_result(quick)}, {full_name} gave "
                    f"{_describe_result(full)}"
                )
                if isinstance(quick, Credential) and isinstance(full, Credential):
                    assert quick.totp_secret == full.totp_secret, (
                        f"{ref}: {quick_name} and {full_name} parse the TOTP secret differently"
                    )
        secrets = secrets_of(self.seed_items())
        for index, extra in enumerate(seeded_vault.secrets):
            secrets[extra] = f"SeededVault.secrets[{index}]"
        assert_no_leak(exposures, secrets)

    # -- the contract: secrets stay secret ------------------------------------------------
    def test_no_secret_leaks(
        self,
        seeded_vault: SeededVault,
        contract_vaults: Vaults,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        exposures: list[Exposure] = []

        def credential(where: str, cred: Credential) -> None:
            exposures.extend(
                [
                    Exposure(f"repr() of {where}", repr(cred)),
                    Exposure(f"str() of {where}", str(cred)),
                    Exposure(f"model_dump_json() of {where}", cred.model_dump_json()),
                    Exposure(f"public_dict() of {where}", json.dumps(cred.public_dict())),
                    Exposure(f"repr() of {where}.totp", repr(cred.totp)),
                    Exposure(f"repr() of {where}.totp_secret", repr(cred.totp_secret)),
                    Exposure(f"{where}.totp_error", cred.totp_error or ""),
                ]
            )

        def result(where: str, outcome: Credential | VaultsError) -> None:
            if isinstance(outcome, VaultsError):
                exposures.extend(error_texts(where, outcome))
            else:
                credential(where, outcome)

        plan = self._batch_plan(seeded_vault)
        refs = [ref for ref, _ in plan]
        for item in self.seed_items():
            ref = self._reachable_ref(seeded_vault, item)
            if ref is not None:
                refs.append(ref)
        for ref in refs:
            try:
                credential(f"resolve({ref!r})", contract_vaults.resolve(ref))
            except VaultsError as exc:
                exposures.extend(error_texts(f"the error of resolve({ref!r})", exc))
        for index, outcome in enumerate(contract_vaults.resolve_many(refs)):
            result(f"resolve_many(...)[{index}]", outcome)
        if self.supports_async:

            async def run() -> list[Credential | VaultsError]:
                return await contract_vaults.aresolve_many(refs)

            for index, outcome in enumerate(_run(run)):
                result(f"aresolve_many(...)[{index}]", outcome)
        backend = seeded_vault.backend
        exposures += [
            Exposure("repr() of the backend", repr(backend)),
            Exposure("str() of the backend", str(backend)),
        ]
        exposures += record_texts(caplog.records)
        secrets = secrets_of(self.seed_items())
        for index, extra in enumerate(seeded_vault.secrets):
            secrets[extra] = f"SeededVault.secrets[{index}]"
        assert_no_leak(exposures, secrets)

    # -- the contract: storing TOTP secrets (backends that implement store_totp) -----------
    def _need_store(self, seeded: SeededVault) -> None:
        if self.supports_store_totp is False:
            pytest.skip("supports_store_totp = False")
        if type(seeded.backend).store_totp is VaultBackend.store_totp:
            pytest.skip("the backend does not implement store_totp (read-only plugin)")
        try:
            seeded.backend.check_writable()
        except ReadOnlyVault as exc:
            pytest.skip(f"this configuration cannot write: {exc}")

    def _write_secret(self) -> str:
        return _WRITE_URI if self.supports_otpauth_params else _WRITE_RAW

    def _put_back(self, seeded: SeededVault, ref: str, item: SeedItem) -> None:
        """Restore ``item``'s seeded TOTP secret (or none) through the backend."""
        parsed = parse_reference(ref)
        current = seeded.backend.fetch(parsed)
        seeded.backend.store_totp(parsed, current, item.totp_secret())

    def _assert_holds(
        self, cred: Credential, secret: TotpSecret, now: float, how: str, started: float
    ) -> None:
        assert cred.totp is not None, f"{how}: the item read back has no code"
        if cred.totp_source == "server":
            first = math.floor(started / secret.period) - 1
            last = math.floor(time.time() / secret.period) + 1
            allowed = {code_at(secret, w * secret.period).code for w in range(first, last + 1)}
            assert cred.totp.code in allowed, f"{how}: the vault's code is not the secret's"
            return
        expected = code_for_entry(secret, now, DEFAULT_MIN_REMAINING)
        assert (cred.totp.code, cred.totp.valid_from) == (expected.code, expected.valid_from), (
            f"{how}: the code read back is not the code of the stored secret "
            f"({secret.algorithm}, {secret.digits} digits, period {secret.period})"
        )

    def test_set_totp_on_an_item_without_one(
        self, seeded_vault: SeededVault, contract_vaults: Vaults, contract_clock: FrozenClock
    ) -> None:
        self._need_store(seeded_vault)
        item = self._item("github_enterprise")
        ref = self._any_ref(seeded_vault, item)
        secret = parse_secret(self._write_secret())
        started = time.time()
        try:
            cred = contract_vaults.set_totp(ref, self._write_secret())
            self._assert_credential(cred, item, seeded_vault, f"set_totp({ref!r})")
            self._assert_holds(cred, secret, contract_clock.now, f"set_totp({ref!r})", started)
            again = contract_vaults.resolve(ref)
            self._assert_credential(again, item, seeded_vault, f"resolve({ref!r}) after the write")
            self._assert_holds(again, secret, contract_clock.now, "resolve after set_totp", started)
        finally:
            self._put_back(seeded_vault, ref, item)
        cred = contract_vaults.resolve(ref)
        assert cred.totp is None, "removing the TOTP secret (store_totp(..., None)) left a code"

    def test_set_totp_refuses_a_different_secret(
        self,
        seeded_vault: SeededVault,
        contract_vaults: Vaults,
        contract_clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self._need_store(seeded_vault)
        item = self._item("github")
        ref = self._any_ref(seeded_vault, item)
        calls = self._count_writes(seeded_vault, monkeypatch)
        with pytest.raises(TotpAlreadySet) as caught:
            contract_vaults.set_totp(ref, _WRITE_OTHER)
        assert "already has a TOTP secret" in str(caught.value)
        assert caught.value.exit_code == 1
        assert calls == [], "store_totp was called although the write was refused"
        started = time.time()
        cred = contract_vaults.resolve(ref)
        original = item.totp_secret()
        assert original is not None
        self._assert_holds(cred, original, contract_clock.now, "resolve after a refusal", started)

    def _count_writes(self, seeded: SeededVault, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        """Record the backend's store_totp calls (item ids) for this test."""
        calls: list[str] = []
        backend = seeded.backend
        original = backend.store_totp

        def counting(ref: Reference, item: Credential, secret: TotpSecret | None) -> None:
            calls.append(item.id)
            original(ref, item, secret)

        monkeypatch.setattr(backend, "store_totp", counting)
        return calls

    def test_set_totp_same_secret_writes_nothing(
        self,
        seeded_vault: SeededVault,
        contract_vaults: Vaults,
        contract_clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self._need_store(seeded_vault)
        item = self._item("github")
        ref = self._any_ref(seeded_vault, item)
        assert item.totp is not None
        calls = self._count_writes(seeded_vault, monkeypatch)
        started = time.time()
        for form in (item.totp, item.totp_uri() or item.totp):
            stored = contract_vaults.store_totp(ref, form)
            assert stored.changed is False, "the same secret again should write nothing"
            original = item.totp_secret()
            assert original is not None
            self._assert_holds(stored.credential, original, contract_clock.now, "no-op", started)
        assert calls == [], "store_totp was called for the secret the item already holds"

    def test_set_totp_replace(
        self, seeded_vault: SeededVault, contract_vaults: Vaults, contract_clock: FrozenClock
    ) -> None:
        self._need_store(seeded_vault)
        item = self._item("acme" if self.supports_otpauth_params else "github")
        ref = self._any_ref(seeded_vault, item)
        started = time.time()
        try:
            cred = contract_vaults.set_totp(ref, _WRITE_OTHER, replace=True)
            self._assert_credential(cred, item, seeded_vault, "set_totp(replace=True)")
            new = parse_secret(_WRITE_OTHER)
            self._assert_holds(cred, new, contract_clock.now, "set_totp(replace=True)", started)
            again = contract_vaults.resolve(ref)
            self._assert_holds(again, new, contract_clock.now, "resolve after replace", started)
        finally:
            self._put_back(seeded_vault, ref, item)
        original = item.totp_secret()
        assert original is not None
        back = contract_vaults.resolve(ref)
        self._assert_holds(back, original, contract_clock.now, "the restored secret", started)

    def test_aset_totp(
        self, seeded_vault: SeededVault, contract_vaults: Vaults, contract_clock: FrozenClock
    ) -> None:
        self._need_store(seeded_vault)
        self._need("supports_async")
        item = self._item("unicode")
        ref = self._any_ref(seeded_vault, item)
        secret = parse_secret(_WRITE_RAW)
        started = time.time()

        async def run() -> Credential:
            return await contract_vaults.aset_totp(ref, secret)

        try:
            cred = _run(run)
            self._assert_credential(cred, item, seeded_vault, f"aset_totp({ref!r})")
            self._assert_holds(cred, secret, contract_clock.now, "aset_totp", started)
        finally:
            self._put_back(seeded_vault, ref, item)

    def test_set_totp_unknown_or_ambiguous_item_writes_nothing(
        self, seeded_vault: SeededVault, contract_vaults: Vaults, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        self._need_store(seeded_vault)
        calls = self._count_writes(seeded_vault, monkeypatch)
        refs: list[tuple[str, type[VaultsError]]] = []
        if self.supports_lookup_by_name:
            refs.append((self.ref_by_name(MISSING_NAME), ItemNotFound))
            if self.supports_duplicate_names:
                refs.append((self.ref_by_name(SHARED_NAME), AmbiguousItem))
        if self.supports_lookup_by_id:
            refs.append((self.ref_by_id(self.missing_id()), ItemNotFound))
        for ref, expected in refs:
            with pytest.raises(expected):
                contract_vaults.set_totp(ref, _WRITE_RAW)
        assert calls == []

    def test_set_totp_leaks_no_secret(
        self,
        seeded_vault: SeededVault,
        contract_vaults: Vaults,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        self._need_store(seeded_vault)
        caplog.set_level(logging.DEBUG)
        item = self._item("shared_1")
        ref = self._any_ref(seeded_vault, item)
        exposures: list[Exposure] = []
        try:
            cred = contract_vaults.set_totp(ref, self._write_secret())
            exposures += [
                Exposure("repr() of the credential set_totp returned", repr(cred)),
                Exposure("model_dump_json() of it", cred.model_dump_json()),
                Exposure("public_dict() of it", json.dumps(cred.public_dict())),
            ]
            try:
                contract_vaults.set_totp(ref, _WRITE_OTHER)
            except TotpAlreadySet as exc:
                exposures += error_texts("the TotpAlreadySet error", exc)
            else:
                pytest.fail("a different secret was stored without replace=True")
        finally:
            self._put_back(seeded_vault, ref, item)
        exposures += record_texts(caplog.records)
        secrets = secrets_of(self.seed_items())
        for extra in (_WRITE_RAW, _WRITE_URI, _WRITE_OTHER):
            secrets[extra] = "a TOTP secret the contract stored"
            secrets[parse_secret(extra).secret.get_secret_value()] = "its base32 key"
        for index, extra in enumerate(seeded_vault.secrets):
            secrets[extra] = f"SeededVault.secrets[{index}]"
        assert_no_leak(exposures, secrets)
