"""The 1Password Connect REST transport (httpx).

Selected by ``OP_CONNECT_HOST`` + ``OP_CONNECT_TOKEN``.

Requests (``Authorization: Bearer``):

- ``GET /v1/vaults?filter=name eq "…"`` -- a vault named, not given by id (cached for the
  process lifetime);
- ``GET /v1/vaults/{v}/items?filter=title eq "…"`` -- one title; a batch with several titles in
  one vault lists the vault's items once instead;
- ``GET /v1/vaults/{v}/items/{i}`` -- the full item.

Lookups are planned without I/O (:class:`ConnectPlan`): each round's requests are independent
and run concurrently (threads over one ``httpx.Client`` pool, or tasks over one
``httpx.AsyncClient`` pool), so a batch costs one lookup per distinct vault, at most one
listing per vault and one request per distinct item -- never a repeated vault lookup.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote, urlsplit

import anyio
import anyio.lowlevel
import httpx
from pydantic import SecretStr

from vaults.bounded_http import Backoff, asend, retry_after, send
from vaults.errors import (
    AmbiguousItem,
    AuthenticationFailed,
    ConfigurationError,
    ItemNotFound,
    VaultsError,
    VaultUnavailable,
)
from vaults_onepassword.items import OnePasswordItem, parse_item
from vaults_onepassword.references import ItemKey, is_op_id

__all__ = ["ConnectPlan", "ConnectTransport", "clear_vault_cache", "normalise_host", "scim_eq"]

USER_AGENT = "vaults-onepassword"
# Several titles in one vault: one listing of the vault beats one filtered request per title.
LIST_THRESHOLD = 2
BACKOFF = Backoff(attempts=3, base=0.2)
"""Every Connect request is a GET: a 429, a 5xx or a connection reset is retried (3 tries in
all, jittered exponential backoff, ``Retry-After`` up to 10 s honoured). A 404 is an answer,
never retried; each try is bounded by the transport's timeout."""

# vault name -> id, for the process lifetime; keyed by server and a digest of the token.
_VAULT_IDS: dict[tuple[str, str, str], str] = {}
_VAULT_IDS_LOCK = threading.Lock()


_SSL_CONTEXT: ssl.SSLContext | None = None


def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every client in the process: building one costs ~30 ms (the CA
    bundle is parsed), and each httpx client would build its own. Honours SSL_CERT_FILE /
    SSL_CERT_DIR."""
    global _SSL_CONTEXT
    with _VAULT_IDS_LOCK:
        if _SSL_CONTEXT is None:
            _SSL_CONTEXT = httpx.create_ssl_context(trust_env=True)
        return _SSL_CONTEXT


def clear_vault_cache() -> None:
    """Forget every cached vault name -> id (benchmarks, tests)."""
    with _VAULT_IDS_LOCK:
        _VAULT_IDS.clear()


def scim_eq(attribute: str, value: str) -> str:
    """A SCIM ``eq`` filter with the value's backslashes and quotes escaped."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{attribute} eq "{escaped}"'


def normalise_host(host: str) -> str:
    """``OP_CONNECT_HOST`` without a trailing ``/`` or ``/v1``."""
    text = host.strip().rstrip("/")
    if text.endswith("/v1"):
        text = text[:-3]
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises for a malformed port
        hostname = parts.hostname
    except ValueError:
        hostname = None
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not hostname:
        raise ConfigurationError(
            "OP_CONNECT_HOST must be the URL of your Connect server, e.g. http://localhost:8080"
        )
    if parts.username or parts.password:
        raise ConfigurationError("OP_CONNECT_HOST must not contain a user name or password")
    return text


LIST_MAX_BYTES = 64 * 1024 * 1024
"""Largest decoded answer read from Connect (item lists of a whole vault); a bigger one is
refused rather than inflated into memory."""


@dataclass(frozen=True)
class Request:
    kind: Literal["vault", "list", "find", "get"]
    vault: str
    """A vault name for ``vault`` requests, a vault id otherwise."""
    label: str
    """The vault as the reference wrote it (error messages)."""
    title: str = ""
    item_id: str = ""

    def target(self) -> tuple[str, dict[str, str] | None]:
        if self.kind == "vault":
            return "/v1/vaults", {"filter": scim_eq("name", self.vault)}
        vault = _segment(self.vault)
        if self.kind == "list":
            return f"/v1/vaults/{vault}/items", None
        if self.kind == "find":
            return f"/v1/vaults/{vault}/items", {"filter": scim_eq("title", self.title)}
        return f"/v1/vaults/{vault}/items/{_segment(self.item_id)}", None


def _segment(text: str) -> str:
    """``text`` as one URL path segment: ids come from the server's answers, whatever they hold."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


class VaultMissing(ItemNotFound):
    """The vault itself is missing (so an id-shaped item is not retried as a title)."""


def _ids_by_title(summaries: Any) -> dict[str, list[str]] | VaultsError:
    """Title -> ids of the active items in a ``GET …/items`` answer (titles match exactly)."""
    if isinstance(summaries, VaultsError):
        return summaries
    if not isinstance(summaries, list):
        return VaultUnavailable("1Password Connect returned an item list that is not a list")
    index: dict[str, list[str]] = {}
    for s in summaries:
        if (
            isinstance(s, dict)
            and isinstance(s.get("title"), str)
            and "id" in s
            and str(s.get("state") or "").upper() != "ARCHIVED"
        ):
            index.setdefault(s["title"], []).append(str(s["id"]))
    return index


@dataclass
class ConnectPlan:
    """Which requests resolve ``keys``, round by round, with no I/O of its own.

    Drive it with ``while reqs := plan.pending(): ... plan.deliver(req, answer)``; then
    :meth:`results` gives one item or error per key.
    """

    keys: Sequence[ItemKey]
    cached_vault: Callable[[str], str | None] = field(default=lambda name: None)
    store_vault: Callable[[str, str], None] = field(default=lambda name, vault_id: None)
    vaults: dict[str, str | VaultsError | None] = field(default_factory=dict)
    titles: dict[tuple[str, str], list[str] | VaultsError] = field(default_factory=dict)
    items: dict[tuple[str, str], OnePasswordItem | VaultsError] = field(default_factory=dict)
    retry_as_title: set[tuple[str, str]] = field(default_factory=set)
    _sent: set[Request] = field(default_factory=set)
    _listed_titles: dict[Request, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key in self.keys:
            if key.vault not in self.vaults:
                self.vaults[key.vault] = (
                    key.vault if is_op_id(key.vault) else self.cached_vault(key.vault)
                )

    # -- what to ask next ----------------------------------------------------------
    def _title_mode(self, vault_id: str, item: str) -> bool:
        return not is_op_id(item) or (vault_id, item) in self.retry_as_title

    def _fresh(self, requests: list[Request]) -> list[Request]:
        fresh = [r for r in dict.fromkeys(requests) if r not in self._sent]
        self._sent.update(fresh)
        return fresh

    def pending(self) -> list[Request]:
        lookups = [
            Request("vault", vault=name, label=name)
            for name, vault_id in self.vaults.items()
            if vault_id is None
        ]
        if lookups:
            return self._fresh(lookups)
        wanted: dict[str, dict[str, None]] = {}
        labels: dict[str, str] = {}
        for key in self.keys:
            vault_id = self.vaults[key.vault]
            if not isinstance(vault_id, str):
                continue
            labels.setdefault(vault_id, key.vault)
            if self._title_mode(vault_id, key.item) and (vault_id, key.item) not in self.titles:
                wanted.setdefault(vault_id, {})[key.item] = None
        finds: list[Request] = []
        for vault_id, titles in wanted.items():
            if len(titles) >= LIST_THRESHOLD:
                listing = Request("list", vault=vault_id, label=labels[vault_id])
                if listing not in self._sent:
                    self._listed_titles[listing] = list(titles)
                    finds.append(listing)
                    continue
            finds.extend(
                Request("find", vault=vault_id, label=labels[vault_id], title=t) for t in titles
            )
        finds = self._fresh(finds)
        if finds:
            return finds
        gets: list[Request] = []
        for key in self.keys:
            vault_id = self.vaults[key.vault]
            if not isinstance(vault_id, str):
                continue
            item_id = self._item_id(vault_id, key)
            if isinstance(item_id, str) and (vault_id, item_id) not in self.items:
                gets.append(Request("get", vault=vault_id, label=key.vault, item_id=item_id))
        return self._fresh(gets)

    # -- answers -------------------------------------------------------------------
    def deliver(self, request: Request, answer: Any | VaultsError) -> None:
        if request.kind == "vault":
            self.vaults[request.vault] = self._vault_answer(request, answer)
        elif request.kind in ("find", "list"):
            titles = [request.title] if request.kind == "find" else []
            titles += self._listed_titles.pop(request, [])
            index = _ids_by_title(answer)
            for title in titles:
                found = index if isinstance(index, VaultsError) else index.get(title, [])
                self.titles[(request.vault, title)] = found
        else:
            self._item_answer(request, answer)

    def _vault_answer(self, request: Request, answer: Any) -> str | VaultsError:
        if isinstance(answer, VaultsError):
            return answer
        if not isinstance(answer, list):
            return VaultUnavailable("1Password Connect returned a vault list that is not a list")
        ids = [
            str(v["id"])
            for v in answer
            if isinstance(v, dict) and v.get("name") == request.vault and "id" in v
        ]
        if not ids:
            return VaultMissing(
                f"no 1Password vault named '{request.vault}' is visible to this Connect token"
            )
        if len(ids) > 1:
            return AmbiguousItem(
                f"{len(ids)} 1Password vaults are named '{request.vault}'; use the vault id", ids
            )
        self.store_vault(request.vault, ids[0])
        return ids[0]

    def _item_answer(self, request: Request, answer: Any) -> None:
        key = (request.vault, request.item_id)
        if (
            isinstance(answer, ItemNotFound)
            and not isinstance(answer, VaultMissing)
            and is_op_id(request.item_id)
        ):
            # An id-shaped name that is no id: look it up by title (as the Connect SDKs do).
            self.retry_as_title.add(key)
        if isinstance(answer, VaultsError):
            self.items[key] = answer
            return
        try:
            item = parse_item(answer, source="1Password Connect")
        except VaultsError as exc:
            self.items[key] = exc
            return
        if item.archived:
            self.items[key] = ItemNotFound(f"1Password item '{request.item_id}' is archived")
            return
        self.items[key] = item

    # -- results ----------------------------------------------------------------------
    def _item_id(self, vault_id: str, key: ItemKey) -> str | VaultsError | None:
        """The id ``key.item`` stands for; None while its title lookup is pending."""
        if not self._title_mode(vault_id, key.item):
            return key.item
        found = self.titles.get((vault_id, key.item))
        if found is None or isinstance(found, VaultsError):
            return found
        if not found:
            return ItemNotFound(f"no 1Password item '{key.item}' in vault '{key.vault}'")
        if len(found) > 1:
            return AmbiguousItem(
                f"{len(found)} 1Password items in vault '{key.vault}' are titled "
                f"'{key.item}'; use the item id",
                found,
            )
        return found[0]

    def result(self, key: ItemKey) -> OnePasswordItem | VaultsError:
        """The item ``key`` names, or the error (never the internal VaultMissing class)."""
        answer = self._result(key)
        if isinstance(answer, VaultMissing):
            return ItemNotFound(answer.message)
        return answer

    def _result(self, key: ItemKey) -> OnePasswordItem | VaultsError:
        vault_id = self.vaults.get(key.vault)
        if isinstance(vault_id, VaultsError):
            return vault_id
        if vault_id is None:
            return VaultUnavailable("the 1Password vault lookup did not finish")
        item_id = self._item_id(vault_id, key)
        if isinstance(item_id, VaultsError):
            return item_id
        answer = self.items.get((vault_id, item_id)) if item_id is not None else None
        if answer is None:
            return VaultUnavailable("the 1Password item lookup did not finish")
        if isinstance(answer, ItemNotFound) and not isinstance(answer, VaultMissing):
            return ItemNotFound(f"no 1Password item '{key.item}' in vault '{key.vault}'")
        return answer

    def results(self) -> list[OnePasswordItem | VaultsError]:
        return [self.result(key) for key in self.keys]


class AsyncLanes:
    """The async connection pool: ``size`` keep-alive connections, one single-connection
    ``httpx.AsyncClient`` per lane, each lane carrying one request at a time.

    A single ``AsyncClient`` with ``size`` connections does the same job, but httpcore's
    async pool re-checks every pooled connection on each request (an anyio attribute lookup
    and a poll per connection): with 16 connections that made 200 item fetches about 3x
    slower than 16 lanes (bench/onepassword_resolve_many.py).
    """

    def __init__(
        self, factory: Callable[[], httpx.AsyncClient], size: int, timeout: float = 10.0
    ) -> None:
        self._factory = factory
        self._timeout = timeout
        self._clients: list[httpx.AsyncClient | None] = [None] * max(1, size)
        self._free = list(range(len(self._clients)))
        self._slots = anyio.Semaphore(len(self._clients))

    async def get(self, path: str, params: dict[str, str] | None) -> httpx.Response:
        async with self._slots:
            lane = self._free.pop()
            try:
                client = self._clients[lane]
                if client is None:
                    client = self._clients[lane] = self._factory()
                return await asend(
                    client,
                    "GET",
                    path,
                    params=params,
                    timeout=self._timeout,
                    backoff=BACKOFF,
                    max_bytes=LIST_MAX_BYTES,
                )
            finally:
                self._free.append(lane)

    async def aclose(self) -> None:
        clients, self._clients = self._clients, [None] * len(self._clients)
        for client in clients:
            if client is not None:
                await client.aclose()


class ConnectTransport:
    """Fetch items from a 1Password Connect server."""

    name = "connect"

    def __init__(
        self,
        host: str,
        token: SecretStr,
        *,
        timeout: float = 10.0,
        concurrency: int = 16,
    ) -> None:
        self.host = normalise_host(host)
        self._token = token
        self.timeout = timeout
        self.concurrency = max(1, concurrency)
        self._cache_scope = (
            self.host,
            hashlib.sha256(token.get_secret_value().encode()).hexdigest()[:16],
        )
        self._client: httpx.Client | None = None
        self._lanes: AsyncLanes | None = None
        self._lanes_loop: object | None = None
        self._lock = threading.Lock()

    # -- clients (one pool each) -----------------------------------------------------
    def _client_kwargs(self) -> dict[str, Any]:
        return {
            "base_url": self.host,
            "headers": {
                "Authorization": f"Bearer {self._token.get_secret_value()}",
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
            },
            "timeout": httpx.Timeout(self.timeout),
            "limits": httpx.Limits(
                max_connections=self.concurrency, max_keepalive_connections=self.concurrency
            ),
            "follow_redirects": False,
            "trust_env": False,  # no proxy from the environment for the Connect server
            "verify": self._ssl_context(),
        }

    def _ssl_context(self) -> ssl.SSLContext:
        return _ssl_context()

    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(**self._client_kwargs())
            return self._client

    def lanes(self) -> AsyncLanes:
        """The async connections (created in, and bound to, the running event loop)."""
        token = anyio.lowlevel.current_token()
        loop = getattr(token, "native_token", token)  # anyio >= 4.11 wraps the loop
        with self._lock:
            if self._lanes is None or self._lanes_loop is not loop:
                # An AsyncClient's connections belong to the event loop that opened them.
                kwargs = self._client_kwargs()
                kwargs["limits"] = httpx.Limits(max_connections=1, max_keepalive_connections=1)
                self._lanes = AsyncLanes(
                    lambda: httpx.AsyncClient(**kwargs), self.concurrency, self.timeout
                )
                self._lanes_loop = loop
            return self._lanes

    # -- vault cache --------------------------------------------------------------------
    def _cached_vault(self, name: str) -> str | None:
        with _VAULT_IDS_LOCK:
            return _VAULT_IDS.get((*self._cache_scope, name))

    def _store_vault(self, name: str, vault_id: str) -> None:
        with _VAULT_IDS_LOCK:
            _VAULT_IDS[(*self._cache_scope, name)] = vault_id

    def plan(self, keys: Sequence[ItemKey]) -> ConnectPlan:
        return ConnectPlan(keys, cached_vault=self._cached_vault, store_vault=self._store_vault)

    # -- one request -------------------------------------------------------------------
    def _scrub(self, text: str) -> str:
        return text.replace(self._token.get_secret_value(), "***")[:200]

    def _answer(self, request: Request, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            body = response.json()
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            body = None
        if status == 200 and body is not None:
            return body
        message = ""
        if isinstance(body, dict) and isinstance(body.get("message"), str):
            message = self._scrub(body["message"])
        if status == 200:
            return VaultUnavailable("1Password Connect answered with something that is not JSON")
        if status == 401:
            return AuthenticationFailed(
                "1Password Connect rejected the token (HTTP 401): check OP_CONNECT_TOKEN"
            )
        if status == 403:
            return AuthenticationFailed(
                f"the 1Password Connect token has no access to vault '{request.label}' (HTTP 403)"
            )
        if status == 404:
            if request.kind == "get" and not message.startswith("vault"):
                return ItemNotFound(
                    f"no 1Password item '{request.item_id}' in vault '{request.label}'"
                )
            return VaultMissing(f"no 1Password vault '{request.label}' on this Connect server")
        detail = f": {message}" if message else ""
        if status == 429:
            asked = retry_after(response)
            wait = f", Retry-After {asked:.0f} s" if asked is not None else ""
            return VaultUnavailable(f"1Password Connect is rate limiting (HTTP 429{wait}){detail}")
        return VaultUnavailable(f"1Password Connect failed (HTTP {status}){detail}")

    def _transport_error(self, exc: httpx.HTTPError) -> VaultsError:
        if isinstance(exc, httpx.TimeoutException):
            return VaultUnavailable(
                f"1Password Connect at {self.host} did not answer within {self.timeout:g} s"
            )
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return VaultUnavailable(
                f"1Password Connect at {self.host} closed or reset the connection "
                f"({type(exc).__name__})"
            )
        return VaultUnavailable(
            f"cannot reach 1Password Connect at {self.host} ({type(exc).__name__})"
        )

    def send(self, request: Request) -> Any | VaultsError:
        path, params = request.target()
        try:
            response = send(
                self.client(),
                "GET",
                path,
                params=params,
                timeout=self.timeout,
                backoff=BACKOFF,
                max_bytes=LIST_MAX_BYTES,
            )
        except httpx.HTTPError as exc:
            return self._transport_error(exc)
        return self._answer(request, response)

    def write_otp(self, vault_id: str, item_id: str, value: str | None, what: str) -> None:
        """``GET`` the whole item, then ``PUT`` it back (UpdateVaultItem: the body replaces the
        item) with only its one-time password changed (:func:`~.otp_write.with_otp`)."""
        from vaults_onepassword.otp_write import with_otp

        request = Request("get", vault_id, vault_id, item_id=item_id)
        current = self.send(request)
        if isinstance(current, VaultsError):
            raise current
        if not isinstance(current, dict):
            raise VaultUnavailable("1Password Connect answered an item that is not an object")
        path, _ = request.target()
        try:
            response = send(
                self.client(),
                "PUT",
                path,
                json=with_otp(current, value, what),
                timeout=self.timeout,
                backoff=BACKOFF,
                max_bytes=LIST_MAX_BYTES,
            )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        answer = self._answer(request, response)
        if isinstance(answer, VaultsError):
            raise answer

    async def asend(self, request: Request) -> Any | VaultsError:
        path, params = request.target()
        try:
            response = await self.lanes().get(path, params)
        except httpx.HTTPError as exc:
            return self._transport_error(exc)
        return self._answer(request, response)

    # -- batches -------------------------------------------------------------------------
    def fetch_items(self, keys: Sequence[ItemKey]) -> list[OnePasswordItem | VaultsError]:
        plan = self.plan(keys)
        pool: ThreadPoolExecutor | None = None
        try:
            while requests := plan.pending():
                if len(requests) == 1:
                    answers = [self.send(requests[0])]
                else:
                    if pool is None:
                        pool = ThreadPoolExecutor(
                            max_workers=self.concurrency, thread_name_prefix="vaults-op"
                        )
                    answers = list(pool.map(self.send, requests))
                for request, answer in zip(requests, answers, strict=True):
                    plan.deliver(request, answer)
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        return plan.results()

    async def afetch_items(
        self, keys: Sequence[ItemKey], concurrency: int | None = None
    ) -> list[OnePasswordItem | VaultsError]:
        plan = self.plan(keys)
        limiter = anyio.CapacityLimiter(max(1, concurrency or self.concurrency))

        async def one(request: Request, answers: dict[Request, Any]) -> None:
            async with limiter:
                answers[request] = await self.asend(request)

        while requests := plan.pending():
            answers: dict[Request, Any] = {}
            async with anyio.create_task_group() as group:
                for request in requests:
                    group.start_soon(one, request, answers)
            for request in requests:
                plan.deliver(request, answers[request])
        return plan.results()

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    async def aclose(self) -> None:
        with self._lock:
            lanes, self._lanes = self._lanes, None
        if lanes is not None:
            await lanes.aclose()
        self.close()
