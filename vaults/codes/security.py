"""What guards ``vaults serve`` when it faces the internet.

- :class:`KeyRing`: scoped keys. ``VAULTS_API_KEY`` (full access) and ``VAULTS_PUSH_KEY`` (one
  or more, comma-separated, for forwarders: ``POST`` only). Keys shorter than
  :data:`MIN_KEY_LENGTH` characters are refused unless explicitly allowed.
- :class:`SlidingWindow`: at most N events per client / identifier per minute (failed keys,
  pushes), memory bounded.
- ASGI middlewares: :class:`HostCheck` (``Host`` against the bound address and the allowed
  hosts), :class:`RequestLimit` (requests in flight), :class:`KeyGuard` (401/403, then 429
  with ``Retry-After`` once a client has guessed too many keys).
- :func:`guarded_h11`: uvicorn's h11 protocol with header and body read timeouts and a cap
  on open connections (a slowloris client cannot hold the server), and :func:`uvicorn_config`.

Other endpoints of the server reuse these: ``app.state.limits`` holds the :class:`Limits`
and ``app.state.failed_keys`` the window failed authentications count in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import SecretStr

from vaults.errors import ConfigurationError

if TYPE_CHECKING:
    import uvicorn

__all__ = [
    "API_KEY_ENV",
    "API_KEY_HEADER",
    "MIN_KEY_LENGTH",
    "PUSH_KEY_ENV",
    "Access",
    "HostCheck",
    "KeyGuard",
    "KeyRing",
    "Limits",
    "RequestLimit",
    "SlidingWindow",
    "guarded_h11",
    "uvicorn_config",
]

API_KEY_ENV = "VAULTS_API_KEY"
PUSH_KEY_ENV = "VAULTS_PUSH_KEY"
QUOTA_ENV = "VAULTS_PUSH_QUOTA"
API_KEY_HEADER = "x-api-key"
MIN_KEY_LENGTH = 16
ACCESS_SCOPE_KEY = "vaults.access"
"""Where :class:`KeyGuard` leaves the caller's :data:`Access` in the ASGI scope."""

Access = Literal["full", "push"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


# -- keys ---------------------------------------------------------------------------------
def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "replace")).digest()


class KeyRing:
    """The server's keys, compared as SHA-256 digests in constant time (the length of a key
    does not leak either)."""

    def __init__(self, full: Iterable[SecretStr], push: Iterable[SecretStr] = ()) -> None:
        self._digests: list[tuple[bytes, Access]] = [
            (_digest(k.get_secret_value()), "full") for k in full
        ]
        self._digests += [(_digest(k.get_secret_value()), "push") for k in push]
        if not self._digests:
            raise ConfigurationError(
                f"neither {API_KEY_ENV} nor {PUSH_KEY_ENV} is set: the HTTP API refuses to "
                "run without an API key"
            )

    def __repr__(self) -> str:
        scopes = [scope for _, scope in self._digests]
        return f"KeyRing(full={scopes.count('full')}, push={scopes.count('push')})"

    @classmethod
    def load(
        cls,
        *,
        api_key: str | SecretStr | None = None,
        push_keys: str | SecretStr | Sequence[str | SecretStr] | None = None,
        env: Mapping[str, str],
        allow_short: bool = False,
    ) -> KeyRing:
        """Keys from the arguments, else from ``VAULTS_API_KEY`` / ``VAULTS_PUSH_KEY``."""
        full = _keys(api_key, env.get(API_KEY_ENV), API_KEY_ENV, single=True)
        push = _keys(push_keys, env.get(PUSH_KEY_ENV), PUSH_KEY_ENV, single=False)
        if not allow_short:
            for name, keys in ((API_KEY_ENV, full), (PUSH_KEY_ENV, push)):
                if any(len(k.get_secret_value()) < MIN_KEY_LENGTH for k in keys):
                    raise ConfigurationError(
                        f"{name} is shorter than {MIN_KEY_LENGTH} characters: use a long "
                        "random key (python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                        ") or start with --insecure-short-key"
                    )
        return cls(full, push)

    def access(self, given: str | None) -> Access | None:
        """What ``given`` may do: ``"full"``, ``"push"`` or ``None`` (not a key of ours)."""
        supplied = _digest(given or "")
        found: Access | None = None
        for digest, scope in self._digests:  # every digest compared: constant time
            if hmac.compare_digest(digest, supplied) and found is None:
                found = scope
        return found


def _keys(
    explicit: str | SecretStr | Sequence[str | SecretStr] | None,
    from_env: str | None,
    name: str,
    *,
    single: bool,
) -> list[SecretStr]:
    raw: list[str]
    if explicit is None:
        text = from_env or ""
        raw = [text] if single else text.split(",")
    elif isinstance(explicit, SecretStr):
        raw = [explicit.get_secret_value()]
    elif isinstance(explicit, str):
        raw = [explicit] if single else explicit.split(",")
    else:
        raw = [k.get_secret_value() if isinstance(k, SecretStr) else k for k in explicit]
    keys = [SecretStr(k.strip()) for k in raw if k.strip()]
    if explicit is not None and not keys and single:
        raise ConfigurationError(f"the {name} given is empty")
    return keys


# -- rate windows -------------------------------------------------------------------------
class SlidingWindow:
    """At most ``limit`` events per ``window`` seconds for each key (a client address, an
    identifier). Keeps at most ``max_keys`` keys (the least recently used go first), so a
    flood of distinct keys costs bounded memory. Thread-safe."""

    def __init__(
        self,
        limit: int,
        window: float = 60.0,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._events: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
            while len(self._events) > self.max_keys:
                self._events.popitem(last=False)
        else:
            self._events.move_to_end(key)
        while events and events[0] <= now - self.window:
            events.popleft()
        return events

    def _wait(self, events: deque[float], now: float) -> float | None:
        if len(events) < self.limit:
            return None
        return max(1.0, math.ceil(events[len(events) - self.limit] + self.window - now))

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may act again, or ``None`` when it is under the limit."""
        with self._lock:
            return self._wait(self._recent(key, self.clock()), self.clock())

    def add(self, key: str) -> None:
        """Count one event for ``key``."""
        with self._lock:
            now = self.clock()
            self._recent(key, now).append(now)

    def hit(self, key: str) -> float | None:
        """Count one event unless ``key`` is over the limit; the wait when it is."""
        with self._lock:
            now = self.clock()
            events = self._recent(key, now)
            wait = self._wait(events, now)
            if wait is None:
                events.append(now)
            return wait


@dataclass(frozen=True)
class Limits:
    """The limits of ``vaults serve`` (defaults are what the CLI runs with)."""

    failed_keys_per_minute: int = 20
    """Wrong keys one client address may send per minute; then 429 for the rest of it."""
    pushes_per_minute: int = 60
    """Pushes per identifier per minute (``VAULTS_PUSH_QUOTA``); then 429."""
    max_requests: int = 64
    """Requests handled at once; more get 503 with ``Retry-After``."""
    max_connections: int = 1000
    """Open connections; more are closed at once."""
    header_timeout: float = 10.0
    """Seconds a client has to send a request's headers."""
    body_timeout: float = 10.0
    """Seconds a client has to send a request's body once its headers are in."""
    keep_alive: float = 5.0
    """Seconds an idle keep-alive connection stays open."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        raw = env.get(QUOTA_ENV, "").strip()
        if not raw:
            return cls()
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigurationError(f"{QUOTA_ENV} must be a positive number of pushes per minute")
        return cls(pushes_per_minute=int(raw))


# -- ASGI middlewares ---------------------------------------------------------------------
async def _json(
    send: Send, status: int, detail: str, headers: Sequence[tuple[str, str]] = ()
) -> None:
    body = ('{"detail":"' + detail.replace('"', "'") + '"}').encode("ascii", "replace")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((k.encode("latin-1"), v.encode("latin-1")) for k, v in headers),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def client_address(scope: Scope) -> str:
    """The client's address as uvicorn saw it (after trusted proxy headers)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _host_name(value: str) -> str:
    """``Host`` without its port, lower case, IPv6 brackets removed."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class HostCheck:
    """Answer 400 to a request whose ``Host`` names neither the address it arrived at, nor
    (on a loopback address) ``localhost``, nor one of ``allowed_hosts`` (``*``: any). A
    page on another site cannot then reach the API through DNS rebinding."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed = {_host_name(h) for h in allowed_hosts if h.strip()}

    def accepts(self, scope: Scope) -> bool:
        if "*" in self.allowed:
            return True
        given = next((v.decode("latin-1") for n, v in scope.get("headers", []) if n == b"host"), "")
        name = _host_name(given)
        if not name:
            return False
        if name in self.allowed:
            return True
        server = scope.get("server")
        local = str(server[0]).lower() if server else ""
        if name == local:
            return True
        return _is_loopback(local) and name in _LOOPBACK_NAMES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.accepts(scope):
            await _json(send, 400, "invalid Host header (see vaults serve --allowed-hosts)")
            return
        await self.app(scope, receive, send)


class RequestLimit:
    """At most ``limit`` requests handled at once; the rest get 503 with ``Retry-After``."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            await _json(send, 503, "too many requests at once", [("retry-after", "1")])
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


class KeyGuard:
    """Check ``x-api-key`` on requests ``protected(path)`` names, before anything reads the
    body: 401 for a missing or wrong key, 403 for a push-only key on anything but ``POST``,
    429 with ``Retry-After`` for a client past ``failures``' limit of wrong keys (whatever
    key it sends then, so guessing stays blind). The caller's :data:`Access` is left in the
    scope under :data:`ACCESS_SCOPE_KEY`."""

    def __init__(
        self,
        app: ASGIApp,
        keys: KeyRing,
        failures: SlidingWindow,
        protected: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.keys = keys
        self.failures = failures
        self.protected = protected

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.protected(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        wait = self.failures.retry_after(client)
        if wait is not None:
            await _json(send, 429, "too many wrong keys", [("retry-after", f"{wait:.0f}")])
            return
        given = next(
            (v.decode("latin-1") for n, v in scope.get("headers", []) if n == b"x-api-key"),
            None,
        )
        access = self.keys.access(given)
        if access is None:
            self.failures.add(client)
            await _json(send, 401, "missing or wrong x-api-key", [("www-authenticate", "ApiKey")])
            return
        if access == "push" and scope.get("method") != "POST":
            await _json(send, 403, "this key may only push (POST); reading needs VAULTS_API_KEY")
            return
        scope[ACCESS_SCOPE_KEY] = access
        await self.app(scope, receive, send)


# -- uvicorn ------------------------------------------------------------------------------
def guarded_h11(limits: Limits) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with read timeouts: a client gets ``header_timeout`` seconds
    for a request's headers and ``body_timeout`` for its body, else its connection is
    closed; past ``max_connections`` open connections, new ones are closed at once."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class GuardedH11Protocol(H11Protocol):
        _read_timer: asyncio.TimerHandle | None = None
        _reading: str | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                transport.close()
                return
            self._arm("headers", limits.header_timeout)

        def _arm(self, what: str, seconds: float) -> None:
            self._disarm()
            self._reading = what
            self._read_timer = self.loop.call_later(seconds, self._read_timeout)

        def _disarm(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
            self._read_timer = None
            self._reading = None

        def _read_timeout(self) -> None:
            self._read_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                self._disarm()
                return
            state = self.conn.their_state
            if state is h11.SEND_BODY:
                if self._reading != "body":
                    self._arm("body", limits.body_timeout)
            elif state is h11.IDLE:
                if self._reading != "headers":  # a new request's first bytes
                    self._arm("headers", limits.header_timeout)
            else:
                self._disarm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._reading != "headers":  # the keep-alive timer watches the idle time
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return GuardedH11Protocol


def uvicorn_config(
    app: Any,
    *,
    host: str,
    port: int,
    limits: Limits | None = None,
    log_level: str = "info",
    **extra: Any,
) -> uvicorn.Config:
    """The :class:`uvicorn.Config` ``vaults serve`` runs ``app`` with (h11 with read
    timeouts, connection cap, no ``server`` header)."""
    import uvicorn

    limits = limits or Limits()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        server_header=False,
        http=guarded_h11(limits),
        timeout_keep_alive=int(limits.keep_alive),
        **extra,
    )
