"""Fixtures for resolve-with-delivery: a vault backend with custom fields, real code stores
(SQLite files; a throwaway PostgreSQL server), and a user's pull endpoint on 127.0.0.1 that
checks signatures with ``verify_signature`` as the docs tell endpoint authors to.

The PostgreSQL server, the store helpers and the HTTP helpers are the codes tests' own
(tests/codes/conftest.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from pydantic import SecretStr

from tests.codes.conftest import (  # fixtures are re-exported here for pytest
    free_port,  # noqa: F401
    listener_count,
    own_url,
    pg_server,  # noqa: F401
    pg_url,  # noqa: F401
    reset_postgres,
    send_json,
    serving,
    sqlite_url,  # noqa: F401
)
from vaults.backend import VaultBackend
from vaults.codes.inbox import Inbox
from vaults.errors import ItemNotFound
from vaults.host import PluginHost
from vaults.models import Credential, CustomField
from vaults.refs import Reference
from vaults.resolver import Vaults
from vaults.testing.hosts import make_test_host
from vaults.totp import secret_or_error

T = TypeVar("T")

CANARY = "DELIVERYCANARY"
"""Every secret in these tests contains it."""
CANARY_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PULL_KEY = f"pull-key-{CANARY}-1"


@dataclass
class FieldItem:
    """An item of :class:`FieldsBackend`: login, optional TOTP secret and custom fields."""

    id: str
    name: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    totp: str | None = field(default=None, repr=False)
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)
    hidden: frozenset[str] = frozenset()
    server_code: bool = False
    uris: tuple[str, ...] = ()


class FieldsBackend(VaultBackend):
    """``fields://ID-or-name``: a tiny vault whose items carry custom fields (as Bitwarden,
    1Password and KeePass items do). Counts fetches."""

    scheme: ClassVar[str] = "fields"

    def __init__(self, items: Sequence[FieldItem] = ()) -> None:
        self.items = {item.id: item for item in items}
        self.fetches = 0

    def fetch(self, ref: Reference) -> Credential:
        self.fetches += 1
        item = self.items.get(ref.path) or next(
            (i for i in self.items.values() if i.name == ref.path), None
        )
        if item is None:
            raise ItemNotFound(f"no item {ref.path!r} in the fields vault")
        return Credential(
            vault=self.scheme,
            id=item.id,
            name=item.name,
            username=item.username,
            password=SecretStr(item.password) if item.password is not None else None,
            uris=list(item.uris),
            fields=[
                CustomField(
                    name=name,
                    value=SecretStr(value),
                    type="hidden" if name in item.hidden else "text",
                )
                for name, value in item.fields.items()
            ],
            totp_secret=secret_or_error(item.totp)[0],
            totp_error=secret_or_error(item.totp)[1],
        )


# -- stores -------------------------------------------------------------------------------
BOTH_STORES = pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
"""Run a test on a SQLite file and on PostgreSQL (the default is SQLite only)."""


@pytest.fixture
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store: SQLite, or the kind a test asks for with :data:`BOTH_STORES`."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'codes.db'}"
    url: str = request.getfixturevalue("pg_url")
    reset_postgres(url)
    return url


def wait_for_listeners(store_url: str, count: int = 1, timeout: float = 30) -> None:
    """Block until ``count`` waiters listen, so a push made next must wake them."""
    deadline = time.monotonic() + timeout
    while listener_count(store_url) < count:
        assert time.monotonic() < deadline, "the resolve never started waiting"
        time.sleep(0.01)


@pytest.fixture(scope="session")
def codes_host() -> PluginHost:
    """The built-in extractor only."""
    return make_test_host()


@pytest.fixture
def pusher(store_url: str, codes_host: PluginHost) -> Iterator[Inbox]:
    """An inbox on the test's store, for pushing messages the way ``vaults serve`` does."""
    with Inbox(store_url, host=codes_host) as inbox:
        yield inbox


@pytest.fixture
def make_vaults(store_url: str, codes_host: PluginHost) -> Iterator[Callable[..., Vaults]]:
    """``make_vaults(*items, env=..., **kwargs)``: a Vaults over a FieldsBackend holding
    ``items``, waiting on the test's store; closed at teardown."""
    made: list[Vaults] = []

    def factory(*items: FieldItem, env: Mapping[str, str] | None = None, **kwargs: Any) -> Vaults:
        kwargs.setdefault("store_url", store_url)
        vaults = Vaults(
            codes_host,
            env=dict(env or {}),
            backends=[FieldsBackend(items)],
            **kwargs,
        )
        made.append(vaults)
        return vaults

    yield factory
    for vaults in made:
        vaults.close()


@pytest.fixture
def background() -> Iterator[Callable[[Callable[[], T]], Future[T]]]:
    """``background(fn)``: run ``fn`` in a thread; returns its future."""
    pool = ThreadPoolExecutor(max_workers=4)
    yield pool.submit
    pool.shutdown(wait=True, cancel_futures=True)


# -- the user's pull endpoint -------------------------------------------------------------
@dataclass
class SeenRequest:
    body: bytes
    headers: dict[str, str]
    at: float
    signature_ok: bool

    @property
    def data(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class PullEndpoint:
    """``answers`` are handed out one per correctly signed request, the last one repeating:
    ``(status, json)``. A request with a bad signature gets 401."""

    url: str
    api_key: str
    answers: list[tuple[int, object]] = field(default_factory=list)
    seen: list[SeenRequest] = field(default_factory=list)

    def next_answer(self) -> tuple[int, object]:
        if len(self.answers) > 1:
            return self.answers.pop(0)
        return self.answers[0] if self.answers else (200, {})


@pytest.fixture
def pull_endpoint() -> Iterator[PullEndpoint]:
    from vaults.codes import verify_signature

    endpoint = PullEndpoint(url="", api_key=PULL_KEY)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            ok = verify_signature(
                body,
                self.headers.get("x-vaults-signature"),
                endpoint.api_key,
                url=own_url(self),
            )
            endpoint.seen.append(SeenRequest(body, dict(self.headers.items()), time.time(), ok))
            status, data = endpoint.next_answer() if ok else (401, {"detail": "bad signature"})
            send_json(self, status, json.dumps(data).encode())

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as base_url:
        endpoint.url = f"{base_url}/codes"
        yield endpoint


def no_leak(texts: Sequence[str], secrets: Sequence[str] = (CANARY,)) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret leaked into: {text[:200]!r}"
