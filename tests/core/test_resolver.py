"""Vaults: resolve/aresolve, resolve_many/aresolve_many, the skip rule and code sources."""

from __future__ import annotations

import threading
import types
from collections.abc import Sequence

import anyio
import pytest

from tests.core.conftest import CANARY, CANARY_SECRET, DictBackend, Item, no_leak
from vaults.backend import VaultBackend
from vaults.errors import (
    ConfigurationError,
    InvalidReference,
    InvalidTotpSecret,
    ItemNotFound,
    UnknownScheme,
    VaultsError,
    VaultUnavailable,
)
from vaults.host import make_host
from vaults.markers import hookimpl
from vaults.models import Credential, TotpCode
from vaults.refs import Reference
from vaults.resolver import Vaults
from vaults.totp import code_at

WINDOW = 1_000_000_020  # a 30 s window starts here
EMPTY_HOST_ENV = {"VAULTS_LOAD_PLUGINS": ""}


def make_vaults(*backends: VaultBackend, clock: float = WINDOW + 2, **kwargs: object) -> Vaults:
    return Vaults(
        make_host(env=EMPTY_HOST_ENV),
        env={},
        backends=backends,
        clock=lambda: clock,
        **kwargs,  # type: ignore[arg-type]
    )


def test_resolve_fills_in_the_code(dict_backend: DictBackend) -> None:
    with make_vaults(dict_backend) as vaults:
        cred = vaults.resolve("dict://GitHub")
    assert (cred.vault, cred.id, cred.name, cred.username) == ("dict", "1", "GitHub", "octocat")
    assert cred.ref == "dict://GitHub"
    assert cred.totp_source == "vault"
    assert cred.totp is not None
    assert cred.totp.code == code_at(CANARY_SECRET, WINDOW).code
    assert (cred.totp.valid_from, cred.totp.valid_until) == (WINDOW, WINDOW + 30)
    no_leak([repr(cred), cred.model_dump_json()], [CANARY])


def test_item_without_totp(dict_backend: DictBackend) -> None:
    cred = make_vaults(dict_backend).resolve("dict://2")
    assert cred.totp is None and cred.totp_source is None


def test_resolve_accepts_a_parsed_reference(dict_backend: DictBackend) -> None:
    ref = Reference(raw="dict://GitHub", scheme="dict", body="GitHub")
    assert make_vaults(dict_backend).resolve(ref).id == "1"


def test_skip_rule_uses_the_injected_clock(dict_backend: DictBackend) -> None:
    late = make_vaults(dict_backend, clock=WINDOW + 10.1)  # 19.9 s left
    cred = late.resolve("dict://GitHub")
    assert cred.totp is not None
    assert cred.totp.valid_from == WINDOW + 30
    assert cred.totp.code == code_at(CANARY_SECRET, WINDOW + 30).code
    on_time = make_vaults(dict_backend, clock=WINDOW + 10)  # 20 s left
    assert on_time.resolve("dict://GitHub").totp.valid_from == WINDOW  # type: ignore[union-attr]
    # per call and per host overrides
    assert late.resolve("dict://GitHub", min_remaining=0).totp.valid_from == WINDOW  # type: ignore[union-attr]
    patient = make_vaults(dict_backend, clock=WINDOW + 10.1, min_remaining=5)
    assert patient.resolve("dict://GitHub").totp.valid_from == WINDOW  # type: ignore[union-attr]
    fixed = make_vaults(dict_backend).resolve("dict://GitHub", now=WINDOW + 29)
    assert fixed.totp.valid_from == WINDOW + 30  # type: ignore[union-attr]


def test_steam_item(dict_backend: DictBackend) -> None:
    cred = make_vaults(dict_backend).resolve("dict://Steam")
    assert cred.totp is not None and len(cred.totp.code) == 5


def test_resolve_errors(dict_backend: DictBackend) -> None:
    vaults = make_vaults(dict_backend)
    with pytest.raises(ItemNotFound):
        vaults.resolve("dict://missing")
    with pytest.raises(InvalidReference):
        vaults.resolve("no scheme here")
    with pytest.raises(UnknownScheme, match="dict"):
        vaults.resolve("nope://x")


class ServerCode(VaultBackend):
    """A vault that computes the code itself (like 1Password's server-side TOTP)."""

    scheme = "server"

    def fetch(self, ref: Reference) -> Credential:
        return Credential(
            vault=self.scheme,
            id="s1",
            name=ref.path,
            totp=TotpCode(code="123456", valid_from=0, valid_until=30, period=30, digits=6),
        )


class ExplicitSource(ServerCode):
    scheme = "explicit"

    def fetch(self, ref: Reference) -> Credential:
        cred = super().fetch(ref)
        cred.totp_source = "pull"
        return cred


def test_backend_supplied_code_is_server_sourced() -> None:
    vaults = make_vaults(ServerCode(), ExplicitSource())
    cred = vaults.resolve("server://x")
    assert cred.totp is not None and cred.totp.code == "123456"
    assert cred.totp_source == "server"
    assert vaults.resolve("explicit://x").totp_source == "pull"


def test_resolve_and_aresolve_equal(dict_backend: DictBackend) -> None:
    vaults = make_vaults(dict_backend, ServerCode())

    async def both() -> list[Credential]:
        return [await vaults.aresolve(r) for r in ("dict://GitHub", "dict://2", "server://x")]

    assert anyio.run(both) == [
        vaults.resolve(r) for r in ("dict://GitHub", "dict://2", "server://x")
    ]

    async def fails() -> None:
        await vaults.aresolve("dict://missing")

    with pytest.raises(ItemNotFound):
        anyio.run(fails)


REFS = [
    "dict://GitHub",
    "not a reference",
    "other://A",
    "dict://missing",
    "nope://x",
    "dict://2",
    "other://B",
    "other://missing",
    "dict://Steam",
]


def check_many(results: Sequence[Credential | VaultsError]) -> None:
    assert len(results) == len(REFS)
    kinds = [type(r).__name__ if isinstance(r, VaultsError) else r.ref for r in results]
    assert kinds == [
        "dict://GitHub",
        "InvalidReference",
        "other://A",
        "ItemNotFound",
        "UnknownScheme",
        "dict://2",
        "other://B",
        "ItemNotFound",
        "dict://Steam",
    ]
    github = results[0]
    assert isinstance(github, Credential) and github.totp is not None
    assert github.totp.code == code_at(CANARY_SECRET, WINDOW).code


def other_backend() -> DictBackend:
    return DictBackend([Item("a", "A", "ua"), Item("b", "B", "ub")], scheme="other")


def test_resolve_many_order_and_failures_in_place(dict_backend: DictBackend) -> None:
    other = other_backend()
    results = make_vaults(dict_backend, other).resolve_many(REFS)
    check_many(results)
    # one fetch_many per scheme, with that scheme's references in input order
    assert dict_backend.fetch_many_calls == [
        ["dict://GitHub", "dict://missing", "dict://2", "dict://Steam"]
    ]
    assert other.fetch_many_calls == [["other://A", "other://B", "other://missing"]]


def test_aresolve_many_equals_resolve_many(dict_backend: DictBackend) -> None:
    vaults = make_vaults(dict_backend, other_backend())
    results = anyio.run(vaults.aresolve_many, REFS)
    check_many(results)
    assert [r.model_dump() if isinstance(r, Credential) else repr(r) for r in results] == [
        r.model_dump() if isinstance(r, Credential) else repr(r) for r in vaults.resolve_many(REFS)
    ]


def test_many_empty_and_all_bad() -> None:
    vaults = make_vaults()
    assert vaults.resolve_many([]) == []
    assert anyio.run(vaults.aresolve_many, []) == []
    results = vaults.resolve_many(["x", "y://z"])
    assert [type(r) for r in results] == [InvalidReference, UnknownScheme]


class Unconfigured(VaultBackend):
    scheme = "unconfigured"

    @classmethod
    def from_env(cls, env: object) -> Unconfigured:  # type: ignore[override]
        raise ConfigurationError("set VAULTS_UNCONFIGURED_URL")

    def fetch(self, ref: Reference) -> Credential:
        raise AssertionError("never built")


class Down(VaultBackend):
    scheme = "down"

    def fetch(self, ref: Reference) -> Credential:
        raise VaultUnavailable("the down vault is down")

    def fetch_many(self, refs: Sequence[Reference]) -> list[Credential | VaultsError]:
        raise VaultUnavailable("the down vault is down")


def test_backend_level_failures_fill_every_slot(dict_backend: DictBackend) -> None:
    plugin = types.SimpleNamespace(
        vaults_register_backends=hookimpl(lambda register: register(Unconfigured))
    )
    host = make_host(env=EMPTY_HOST_ENV, plugins=[("unconfigured", plugin)])
    vaults = Vaults(host, env={}, backends=[dict_backend, Down()], clock=lambda: WINDOW)
    refs = ["unconfigured://a", "down://a", "dict://2", "unconfigured://b", "down://b"]
    for results in (vaults.resolve_many(refs), anyio.run(vaults.aresolve_many, refs)):
        kinds = [type(r).__name__ for r in results]
        assert kinds == [
            "ConfigurationError",
            "VaultUnavailable",
            "Credential",
            "ConfigurationError",
            "VaultUnavailable",
        ]


class Rendezvous(DictBackend):
    """fetch_many only returns once the other scheme's fetch_many is running too."""

    def __init__(self, barrier: threading.Barrier, scheme: str) -> None:
        super().__init__([Item("1", "One", "u")], scheme=scheme)
        self.barrier = barrier

    def fetch_many(self, refs: Sequence[Reference]) -> list[Credential | VaultsError]:
        self.barrier.wait()  # BrokenBarrierError (timeout) if the schemes ran one by one
        return super().fetch_many(refs)


def test_resolve_many_runs_schemes_concurrently() -> None:
    barrier = threading.Barrier(2, timeout=10)
    first, second = Rendezvous(barrier, "first"), Rendezvous(barrier, "second")
    results = make_vaults(first, second).resolve_many(["first://One", "second://One"])
    assert [r.vault for r in results if isinstance(r, Credential)] == ["first", "second"]


class Slow(DictBackend):
    def __init__(self, scheme: str) -> None:
        super().__init__([Item(str(i), f"Item {i}", "u") for i in range(4)], scheme=scheme)
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    async def afetch(self, ref: Reference) -> Credential:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        await anyio.sleep(0.05)
        with self.lock:
            self.active -= 1
        return self.fetch(ref)


def test_aresolve_many_runs_concurrently_and_respects_the_limit() -> None:
    one, two = Slow("one"), Slow("two")
    refs = [f"{s}://Item {i}" for s in ("one", "two") for i in range(4)]
    vaults = make_vaults(one, two, concurrency=2)
    results = anyio.run(vaults.aresolve_many, refs)
    assert [r.ref for r in results if isinstance(r, Credential)] == refs
    assert one.peak == 2 and two.peak == 2


def test_backends_are_built_lazily_once_and_closed() -> None:
    built: list[Lazy] = []

    class Lazy(DictBackend):
        scheme = "lazy"
        closed = False

        @classmethod
        def from_env(cls, env: object) -> Lazy:  # type: ignore[override]
            instance = cls([Item("1", "One", "u")], scheme="lazy")
            built.append(instance)
            return instance

        def close(self) -> None:
            self.closed = True

    plugin = types.SimpleNamespace(
        vaults_register_backends=hookimpl(lambda register: register(Lazy))
    )
    host = make_host(env=EMPTY_HOST_ENV, plugins=[("lazy", plugin)])
    with Vaults(host, env={}) as vaults:
        assert built == []
        vaults.resolve("lazy://One")
        vaults.resolve_many(["lazy://One", "lazy://1"])
        assert len(built) == 1
    assert built[0].closed


def test_a_bad_stored_secret_fails_that_item_only_and_never_leaks() -> None:
    backend = DictBackend(
        [Item("1", "Bad", "u", f"pw-{CANARY}", f"{CANARY}!!"), Item("2", "Good", "u")]
    )
    vaults = make_vaults(backend)
    with pytest.raises(InvalidTotpSecret) as info:
        vaults.resolve("dict://Bad")
    no_leak([str(info.value), repr(info.value)], [CANARY])
    bad, good = vaults.resolve_many(["dict://Bad", "dict://Good"])
    assert isinstance(bad, InvalidTotpSecret) and isinstance(good, Credential)
    no_leak([str(bad), repr(bad)], [CANARY])
