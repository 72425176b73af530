"""The ``bw serve`` transport (Bitwarden Vault Management API): the fast path.

The synchronous calls (the CLI, scripts) go over :mod:`vaults.small_http` (the standard
library's :mod:`http.client`), so a ``vaults resolve`` in a new process imports no HTTP
framework; the async calls go over httpx, imported on their first use.

Facts of that API this module relies on:

- every reply is an envelope ``{"success": bool, "data" | "message": …}``;
- every failure is HTTP 400 (not found, locked, ambiguous: the ambiguous reply carries
  the candidate ids in ``data``);
- ``GET /status`` nests its state under ``data.template.status``;
- newer versions answer 403 with an empty body when an ``Origin`` header is sent or the
  ``Host`` header is not ``loopback:port``.

A locked vault is unlocked once with ``POST /unlock`` when ``BW_PASSWORD`` is set;
otherwise :class:`~vaults.errors.VaultLocked` is raised. The unlock reply holds the new
session key: it is dropped unread.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple, TypeVar

from vaults.errors import (
    AuthenticationFailed,
    ItemNotFound,
    VaultLocked,
    VaultsError,
    VaultUnavailable,
)
from vaults.small_http import HttpClient, HttpError, Reply
from vaults_bitwarden.http_pool import ATTEMPTS, BACKOFF_BASE, SHARED_CLIENTS
from vaults_bitwarden.messages import error_for_message
from vaults_bitwarden.settings import BitwardenSettings
from vaults_bitwarden.transport import Item, with_totp

if TYPE_CHECKING:
    import anyio
    import httpx

    from vaults.plain import SecretLike

__all__ = ["ServeTransport", "parse_envelope"]

log = logging.getLogger("vaults_bitwarden.serve")

UNLOCK_TIMEOUT: Final = 60.0
"""Unlocking derives the master key (PBKDF2/Argon2): allow at least this long.

Retries (:data:`~vaults_bitwarden.http_pool.ATTEMPTS`): a GET is tried twice: a kept-alive
socket closed under us, a 429 or 5xx is retried once after a short jittered wait (or the
``Retry-After`` asked, up to 10 s). A "Not found." or any other 400 envelope is an answer and
never retried. One try is bounded by the timeout."""


DEFAULT_MAX_BYTES: Final = 1024 * 1024
LIST_MAX_BYTES: Final = 64 * 1024 * 1024
"""Largest decoded answer read from a ``/list/…`` call (a whole vault's items); every other
answer is capped at :data:`DEFAULT_MAX_BYTES` (1 MiB)."""


def answer_cap(path: str) -> int:
    """The size cap of the answer to ``path``."""
    return LIST_MAX_BYTES if path.startswith("/list/") else DEFAULT_MAX_BYTES


_CAUSES: Final[Mapping[str, str]] = {
    "connect-timeout": "it did not accept a connection in time",
    "connect": "cannot connect (is `bw serve --hostname 127.0.0.1 --port PORT` running?)",
    "closed": "the connection was closed or reset",
    "too-large": "the answer is too large",
    "tls": "the TLS handshake failed (bw serve speaks plain HTTP on loopback)",
    "dns": "cannot resolve the host name",
    "protocol": "the answer is not valid HTTP",
}
_JSON_BODY: Final[Mapping[str, str]] = {"Content-Type": "application/json"}


def _json_body(body: Mapping[str, Any] | None) -> bytes | None:
    if body is None:
        return None
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class Envelope(NamedTuple):
    success: bool
    data: Any
    message: str


def _unavailable_for_status(source: str, reply: Reply, method: str, path: str) -> VaultUnavailable:
    status = reply.status
    if status == 403:
        return VaultUnavailable(
            f"{source} refused the request (HTTP 403): bw serve only accepts requests whose "
            "Host is its loopback address and port and that carry no Origin header; set "
            "VAULTS_BITWARDEN_URL to exactly the address bw serve listens on "
            "(e.g. http://127.0.0.1:8087)"
        )
    if status >= 500:
        return VaultUnavailable(f"{source} failed with HTTP {status} on {method} {path}")
    if status == 429:
        asked = reply.retry_after()
        wait = f" (Retry-After {asked:.0f} s)" if asked is not None else ""
        return VaultUnavailable(f"{source} is rate limiting (HTTP 429) {method} {path}{wait}")
    return VaultUnavailable(
        f"{source} answered HTTP {status} to {method} {path}; is VAULTS_BITWARDEN_URL the "
        "address of `bw serve`?"
    )


def reply_of(response: httpx.Response) -> Reply:
    """An httpx response (whole, read) as a :class:`~vaults.small_http.Reply`."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    return Reply(response.status_code, response.content, headers)


def parse_envelope(reply: Reply, source: str, method: str, path: str) -> Envelope:
    """The envelope of a ``bw serve`` reply; raises :class:`VaultUnavailable` for anything
    that is not one (403, 5xx, unknown routes, non-JSON bodies)."""
    status = reply.status
    if status not in (200, 400):
        raise _unavailable_for_status(source, reply, method, path)
    try:
        body = reply.json()
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise VaultUnavailable(
            f"{source} sent a reply that is not JSON (HTTP {status} on {method} {path})"
        ) from None
    if not isinstance(body, Mapping) or not isinstance(body.get("success"), bool):
        raise VaultUnavailable(f"{source} sent a reply that is not a bw serve envelope")
    message = body.get("message")
    return Envelope(
        success=bool(body["success"]) and status == 200,
        data=body.get("data"),
        message=message if isinstance(message, str) else "",
    )


def _list_data(data: Any, source: str) -> list[Item]:
    inner = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(inner, list):
        raise VaultUnavailable(f"{source} sent a list reply without a list")
    return [entry for entry in inner if isinstance(entry, dict)]


def _item_data(data: Any, source: str) -> Item:
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise VaultUnavailable(f"{source} sent an item reply without an item")
    return data


def _by_id(items: list[Item], item_id: str) -> Item | None:
    wanted = item_id.lower()
    for item in items:
        ident = item.get("id")
        if isinstance(ident, str) and ident.lower() == wanted:
            return item
    return None


def _status_data(data: Any, source: str) -> str:
    template = data.get("template") if isinstance(data, Mapping) else None
    status = template.get("status") if isinstance(template, Mapping) else None
    if not isinstance(status, str):
        raise VaultUnavailable(f"{source} sent a status reply without data.template.status")
    return status


SETTLE_TIMEOUT: Final = 15.0
"""Seconds a write waits for ``bw serve`` to show the item as the server stored it."""
SETTLE_INTERVAL: Final = 0.1
"""Seconds between two looks while waiting (``bw serve`` retries its data-file lock every
100–250 ms, so its view of a write lags by about that much)."""

T = TypeVar("T")


def poll_until(
    attempt: Callable[[], T],
    *,
    retry_on: tuple[type[Exception], ...],
    timeout: float | None = None,
    interval: float = SETTLE_INTERVAL,
) -> T:
    """``attempt()`` until it returns; an exception of ``retry_on`` means "not yet" and is
    re-raised once ``timeout`` seconds (default :data:`SETTLE_TIMEOUT`) have passed, so the
    caller sees why it gave up."""
    deadline = time.monotonic() + (SETTLE_TIMEOUT if timeout is None else timeout)
    while True:
        try:
            return attempt()
        except retry_on:
            if time.monotonic() >= deadline:
                raise
            time.sleep(interval)


class NotSettled(VaultUnavailable):
    """``bw serve`` does not yet show an item as the server stored it."""


def _revision(item: Item) -> object:
    return item.get("revisionDate")


class ServeTransport:
    """Talks to a running ``bw serve``. Thread-safe; one sync pool per process."""

    name = "serve"

    def __init__(self, settings: BitwardenSettings) -> None:
        if settings.url is None:
            raise ValueError("ServeTransport needs settings.url")
        self.url = settings.url
        self.source = f"bw serve at {self.url}"
        self._timeout = settings.timeout
        self._password: SecretLike | None = settings.password
        self._settings_secrets = settings.secrets
        self._client: HttpClient | None = None
        self._client_lock = threading.Lock()
        self._aclient: httpx.AsyncClient | None = None
        self._aclient_token: object = None
        self._alock: anyio.Lock | None = None
        self._count_lock = threading.Lock()
        self.requests = 0
        # unlock bookkeeping: the generation moves on with every successful unlock
        self._unlock_lock = threading.Lock()
        self._generation = 0
        self._unlock_failure: str | None = None

    def __repr__(self) -> str:
        return f"ServeTransport(url={self.url!r}, unlock={'on' if self._password else 'off'})"

    # -- plumbing ------------------------------------------------------------------
    def _count(self) -> None:
        with self._count_lock:
            self.requests += 1

    @property
    def client(self) -> HttpClient:
        with self._client_lock:
            if self._client is None:
                self._client = SHARED_CLIENTS.acquire(self.url, self._timeout)
            return self._client

    def _async_client(self) -> tuple[httpx.AsyncClient, anyio.Lock]:
        import anyio.lowlevel

        from vaults_bitwarden.http_pool import make_async_client

        token = anyio.lowlevel.current_token()
        if self._aclient is None or self._alock is None or self._aclient_token != token:
            # a client (and its sockets) belongs to the event loop that made it
            self._aclient = make_async_client(self.url, self._timeout)
            self._aclient_token = token
            self._alock = anyio.Lock()
        return self._aclient, self._alock

    def _transport_error(self, kind: str, method: str, path: str) -> VaultUnavailable:
        cause = _CAUSES.get(kind) or kind
        if kind == "timeout":
            cause = f"no answer within {self._timeout:g} s"
        return VaultUnavailable(f"{self.source}: {method} {path} failed: {cause}")

    def _async_transport_error(
        self, exc: httpx.HTTPError, method: str, path: str
    ) -> VaultUnavailable:
        import httpx

        from vaults.bounded_http import ResponseTooLarge

        if isinstance(exc, httpx.ConnectTimeout):
            kind = "connect-timeout"
        elif isinstance(exc, httpx.TimeoutException):
            kind = "timeout"
        elif isinstance(exc, httpx.ConnectError):
            kind = "connect"
        elif isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)):
            kind = "closed"
        elif isinstance(exc, ResponseTooLarge):
            kind = "too-large"
        else:
            kind = type(exc).__name__
        return self._transport_error(kind, method, path)

    def _error(self, envelope: Envelope, what: str) -> VaultsError:
        candidates = envelope.data if isinstance(envelope.data, list) else ()
        return error_for_message(
            envelope.message or "no message",
            source=self.source,
            what=what,
            candidates=[str(c).lower() for c in candidates],
            secrets=[s.get_secret_value() for s in self._settings_secrets],
        )

    def _unlock_error(self, envelope: Envelope) -> VaultsError:
        error = self._error(envelope, "unlock")
        if isinstance(error, AuthenticationFailed):
            return error
        return AuthenticationFailed(
            f"{self.source} could not unlock the vault with BW_PASSWORD ({error.message})"
        )

    def _log(self, method: str, path: str, status: int | str, started: float) -> None:
        log.debug(
            "%s %s -> %s in %.1f ms", method, path, status, (time.perf_counter() - started) * 1e3
        )

    # -- sync ----------------------------------------------------------------------
    def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Envelope:
        started = time.perf_counter()
        try:
            reply = self.client.request(
                method,
                path,
                params=params,
                headers=_JSON_BODY if body is not None else None,
                body=_json_body(body),
                timeout=self._timeout if timeout is None else timeout,
                max_bytes=answer_cap(path),
                on_try=self._count,
            )
        except HttpError as exc:
            self._log(method, path, exc.kind, started)
            raise self._transport_error(exc.kind, method, path) from None
        self._log(method, path, reply.status, started)
        return parse_envelope(reply, self.source, method, path)

    def _unlock(self, generation: int) -> None:
        password = self._password
        if password is None:
            return
        with self._unlock_lock:
            if self._generation != generation:
                return  # another thread unlocked meanwhile
            if self._unlock_failure is not None:
                raise AuthenticationFailed(self._unlock_failure)
            log.debug("vault locked: unlocking with BW_PASSWORD")
            envelope = self._send(
                "POST",
                "/unlock",
                body={"password": password.get_secret_value()},
                timeout=max(self._timeout, UNLOCK_TIMEOUT),
            )
            if not envelope.success:
                error = self._unlock_error(envelope)
                self._unlock_failure = error.message
                raise error
            self._generation += 1

    def _call(
        self,
        method: str,
        path: str,
        what: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        generation = self._generation
        envelope = self._send(method, path, params, body)
        if envelope.success:
            return envelope.data
        error = self._error(envelope, what)
        if isinstance(error, VaultLocked) and self._password is not None:
            self._unlock(generation)
            envelope = self._send(method, path, params, body)
            if envelope.success:
                return envelope.data
            error = self._error(envelope, what)
        raise error

    def get_item(self, item_id: str, what: str, *, listed: bool = True) -> Item:
        """The item by id. ``bw serve`` answers a search from its cache of decrypted items
        faster than ``GET /object/item/<id>`` (which decrypts the item again), and a search
        of 8+ characters matches id prefixes: one search, and the direct GET only for an id
        the search does not list (an item in the trash or archive, or none at all).
        ``listed=False``: the caller's full listing already lacked it, skip the search."""
        found = _by_id(self.list_items(item_id, what), item_id) if listed else None
        if found is not None:
            return found
        return _item_data(self._call("GET", f"/object/item/{item_id}", what), self.source)

    def _item_by_id(self, item_id: str, what: str) -> Item:
        return _item_data(self._call("GET", f"/object/item/{item_id}", what), self.source)

    def write_totp(self, item_id: str, value: str | None, what: str) -> None:
        """``POST /sync`` (so the edit starts from the server's latest revision, which the
        server checks), ``GET /object/item/<id>``, then ``PUT /object/item/<id>`` with the
        whole item (the API replaces the item with the body), only ``login.totp`` changed.

        The ``PUT`` answers the item as the server stored it: that answer is checked. Then
        this waits until ``bw serve`` serves that revision to the next reader (see
        :meth:`wait_until_served`), so a read right after the write sees it."""
        self._call("POST", "/sync", "the sync before a write")
        # right after its sync bw serve answers "Not found." until it has re-read its items
        current = poll_until(lambda: self._item_by_id(item_id, what), retry_on=(ItemNotFound,))
        written = self._call(
            "PUT", f"/object/item/{item_id}", what, body=with_totp(current, value, what)
        )
        login = written.get("login") if isinstance(written, dict) else None
        if (
            not isinstance(written, dict)
            or str(written.get("id", "")).lower() != item_id.lower()
            or not isinstance(login, dict)
            or login.get("totp") != value
            or _revision(written) is None
        ):
            raise VaultUnavailable(f"{self.source}: the edit of {what} answered another item")
        self.wait_until_served(item_id, _revision(written), what)

    def wait_until_served(self, item_id: str, revision: object, what: str) -> None:
        """Return once ``bw serve`` serves ``revision`` of the item it has just written
        (``PUT`` or ``POST /object/item``) to the next reader; :class:`VaultUnavailable`
        after :data:`SETTLE_TIMEOUT` seconds (the write is on the server all the same)."""
        poll_until(lambda: self._settle(item_id, revision, what), retry_on=(NotSettled,))

    def _settle(self, item_id: str, revision: object, what: str) -> None:
        """Raise :class:`NotSettled` unless ``bw serve`` serves ``revision`` of the item.

        ``bw serve`` answers a write before it has re-read its items from its data file
        (the re-read waits for the file lock the write still holds and retries 100–250 ms
        later). Until then ``GET /object/item/<id>`` answers the previous revision (or
        "Not found." for a new item), and a search (``GET /list/object/items``) rebuilds
        ``bw serve``'s cache of decrypted items from the previous state and keeps that
        cache until the vault changes again. So: first the item by id must show
        ``revision``; then the search the lookups use must list it (unless it is in the
        trash or archive, which searches leave out); a search listing an older revision or
        missing the item means a stale cache, which only a sync replaces."""
        try:
            by_id = self._item_by_id(item_id, what)
        except ItemNotFound:
            by_id = None
        if by_id is None or _revision(by_id) != revision:
            raise NotSettled(
                f"{what} is stored on the server, but {self.source} still shows its previous "
                "revision"
            )
        listed = _by_id(self.list_items(item_id, what), item_id)
        searchable = not by_id.get("deletedDate") and not by_id.get("archivedDate")
        if (listed is None and not searchable) or (
            listed is not None and _revision(listed) == revision
        ):
            return
        log.debug("bw serve lists a stale %s: forcing a sync to rebuild its cache", what)
        self._call("POST", "/sync", "the sync after a write", params={"force": "true"})
        raise NotSettled(
            f"{what} is stored on the server, but {self.source} still lists its previous "
            "revision (POST /sync?force=true rebuilds its cache)"
        )

    def list_items(self, search: str | None, what: str) -> list[Item]:
        params = {"search": search} if search else None
        return _list_data(self._call("GET", "/list/object/items", what, params), self.source)

    def reveal(self, item: Item) -> Item:
        """Listed items are whole already."""
        return item

    async def areveal(self, item: Item) -> Item:
        return item

    def list_organizations(self) -> list[Item]:
        return _list_data(
            self._call("GET", "/list/object/organizations", "organizations"), self.source
        )

    def list_collections(self) -> list[Item]:
        return _list_data(self._call("GET", "/list/object/collections", "collections"), self.source)

    def status(self) -> str:
        """``unlocked``, ``locked`` or ``unauthenticated`` (``GET /status``)."""
        envelope = self._send("GET", "/status")
        if not envelope.success:
            raise self._error(envelope, "status")
        return _status_data(envelope.data, self.source)

    def close(self) -> None:
        with self._client_lock:
            client, self._client = self._client, None
        if client is not None:
            SHARED_CLIENTS.release(client)

    # -- async ---------------------------------------------------------------------
    async def _asend(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> Envelope:
        import httpx

        from vaults.bounded_http import Backoff, asend

        client, _ = self._async_client()
        started = time.perf_counter()
        try:
            response = await asend(
                client,
                method,
                path,
                params=params,
                json=body,
                timeout=self._timeout if timeout is None else timeout,
                backoff=Backoff(attempts=ATTEMPTS, base=BACKOFF_BASE),
                on_try=self._count,
                max_bytes=answer_cap(path),
            )
        except httpx.HTTPError as exc:
            self._log(method, path, type(exc).__name__, started)
            raise self._async_transport_error(exc, method, path) from None
        self._log(method, path, response.status_code, started)
        return parse_envelope(reply_of(response), self.source, method, path)

    async def _aunlock(self, generation: int) -> None:
        password = self._password
        if password is None:
            return
        _, lock = self._async_client()
        async with lock:
            if self._generation != generation:
                return
            if self._unlock_failure is not None:
                raise AuthenticationFailed(self._unlock_failure)
            log.debug("vault locked: unlocking with BW_PASSWORD")
            envelope = await self._asend(
                "POST",
                "/unlock",
                body={"password": password.get_secret_value()},
                timeout=max(self._timeout, UNLOCK_TIMEOUT),
            )
            if not envelope.success:
                error = self._unlock_error(envelope)
                self._unlock_failure = error.message
                raise error
            self._generation += 1

    async def _acall(
        self, method: str, path: str, what: str, params: Mapping[str, str] | None = None
    ) -> Any:
        generation = self._generation
        envelope = await self._asend(method, path, params)
        if envelope.success:
            return envelope.data
        error = self._error(envelope, what)
        if isinstance(error, VaultLocked) and self._password is not None:
            await self._aunlock(generation)
            envelope = await self._asend(method, path, params)
            if envelope.success:
                return envelope.data
            error = self._error(envelope, what)
        raise error

    async def aget_item(self, item_id: str, what: str, *, listed: bool = True) -> Item:
        found = _by_id(await self.alist_items(item_id, what), item_id) if listed else None
        if found is not None:
            return found
        data = await self._acall("GET", f"/object/item/{item_id}", what)
        return _item_data(data, self.source)

    async def alist_items(self, search: str | None, what: str) -> list[Item]:
        params = {"search": search} if search else None
        return _list_data(await self._acall("GET", "/list/object/items", what, params), self.source)

    async def alist_organizations(self) -> list[Item]:
        data = await self._acall("GET", "/list/object/organizations", "organizations")
        return _list_data(data, self.source)

    async def alist_collections(self) -> list[Item]:
        data = await self._acall("GET", "/list/object/collections", "collections")
        return _list_data(data, self.source)

    async def astatus(self) -> str:
        envelope = await self._asend("GET", "/status")
        if not envelope.success:
            raise self._error(envelope, "status")
        return _status_data(envelope.data, self.source)

    async def aclose(self) -> None:
        import anyio.lowlevel

        client, token = self._aclient, self._aclient_token
        self._aclient, self._alock, self._aclient_token = None, None, None
        if client is not None and token == anyio.lowlevel.current_token():
            await client.aclose()
        self.close()
