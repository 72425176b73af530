"""Where pull requests may go: ``https://`` (``http://`` to loopback only), and never to a
loopback, link-local (cloud metadata at 169.254.169.254), private, multicast or reserved
address unless ``VAULTS_PULL_ALLOW_PRIVATE=1``.

A ``totp_url`` can come from a shared vault item: without these checks anyone who can edit
the item could make every host POST to services only reachable from inside its network.

:func:`check_destination` refuses such a URL up front with a clear error; the clients of
:func:`pull_client` / :func:`async_pull_client` check again at connect time and connect to
the very address they checked (TLS still verifies the name), so a DNS answer that changes
between the check and the connection (DNS rebinding) cannot reach a private address either.
Through a proxy (``HTTPS_PROXY``…) the proxy resolves the name: only the first check applies.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

from vaults.errors import InvalidInput
from vaults.redact import url_without_secrets

__all__ = [
    "ALLOW_PRIVATE_ENV",
    "async_pull_client",
    "check_destination",
    "check_scheme",
    "pull_client",
    "refused_address",
]

ALLOW_PRIVATE_ENV = "VAULTS_PULL_ALLOW_PRIVATE"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _shown(url: str) -> str:
    try:
        return url_without_secrets(url)
    except ValueError:
        return "(a malformed URL)"


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _is_loopback_host(host: str) -> bool:
    address = _literal(host)
    if address is not None:
        return address.is_loopback
    return host.lower().rstrip(".") in ("localhost", "localhost.localdomain")


def check_scheme(url: str) -> None:
    """Refuse anything but ``https://`` and ``http://`` to a loopback host, with
    :class:`~vaults.errors.InvalidInput` (the URL shown without its secrets)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises for a malformed port
    except ValueError:
        raise InvalidInput("the pull URL is malformed") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("the pull URL must be an https:// URL")
    if not host:
        raise InvalidInput("the pull URL has no host")
    if parts.scheme == "http" and not _is_loopback_host(host):
        raise InvalidInput(
            f"the pull URL {_shown(url)} is plain http:// to another machine: use https://"
        )


def refused_address(address: IPAddress) -> bool:
    """Whether a pull may not go to ``address`` (loopback, link-local, private, multicast,
    reserved, unspecified; IPv4-mapped IPv6 addresses are judged as their IPv4 address)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _allowed(env: Mapping[str, str]) -> bool:
    return env.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes")


def check_destination(url: str, env: Mapping[str, str] | None = None) -> None:
    """Refuse ``url`` when its host is, or resolves to, an address :func:`refused_address`
    names (unless ``VAULTS_PULL_ALLOW_PRIVATE=1``). A name that does not resolve is left to
    the request to report."""
    check_scheme(url)
    if _allowed(os.environ if env is None else env):
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = _literal(host)
    if literal is not None:
        found = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return
        found = [a for a in (_literal(str(info[4][0])) for info in infos) if a is not None]
    for address in found:
        if refused_address(address):
            raise InvalidInput(
                f"the pull URL {_shown(url)} leads to a loopback, link-local or private "
                f"address ({address}): refused (set {ALLOW_PRIVATE_ENV}=1 to allow it)"
            )


# -- connect-time checks ------------------------------------------------------------------
_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


def _pick(host: str, found: Iterable[str]) -> str:
    addresses = [a for a in (_literal(text) for text in found) if a is not None]
    if not addresses:
        raise httpcore.ConnectError(f"{host} did not resolve")
    for address in addresses:
        if refused_address(address):
            raise httpcore.ConnectError(
                f"{host} resolved to a loopback, link-local or private address ({address}) at "
                f"connect time: refused (set {ALLOW_PRIVATE_ENV}=1 to allow it)"
            )
    return str(addresses[0])


class _CheckedBackend(httpcore.NetworkBackend):
    """Resolves, checks and connects to the checked address."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} did not resolve ({exc})") from None
        address = _pick(host, (str(info[4][0]) for info in infos))
        return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("pulls never use Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _AsyncCheckedBackend(httpcore.AsyncNetworkBackend):
    """The async :class:`_CheckedBackend`."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} did not resolve ({exc})") from None
        address = _pick(host, (str(info[4][0]) for info in infos))
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("pulls never use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _checked(env: Mapping[str, str] | None) -> bool:
    source = os.environ if env is None else env
    proxied = any(source.get(n) or source.get(n.lower()) for n in _PROXY_VARIABLES)
    return not _allowed(source) and not proxied


def pull_client(env: Mapping[str, str] | None = None) -> httpx.Client:
    """An :class:`httpx.Client` for pulls: no redirects; connections only to addresses that
    pass :func:`refused_address` at connect time (unless ``VAULTS_PULL_ALLOW_PRIVATE=1`` or a
    proxy is configured)."""
    if not _checked(env):
        return httpx.Client(follow_redirects=False)
    transport = httpx.HTTPTransport()
    transport._pool._network_backend = _CheckedBackend(transport._pool._network_backend)
    return httpx.Client(follow_redirects=False, transport=transport)


def async_pull_client(env: Mapping[str, str] | None = None) -> httpx.AsyncClient:
    """The async :func:`pull_client`."""
    if not _checked(env):
        return httpx.AsyncClient(follow_redirects=False)
    transport = httpx.AsyncHTTPTransport()
    transport._pool._network_backend = _AsyncCheckedBackend(transport._pool._network_backend)
    return httpx.AsyncClient(follow_redirects=False, transport=transport)
