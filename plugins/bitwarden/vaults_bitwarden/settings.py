"""Configuration of the Bitwarden backend, read from environment variables.

Transport order: ``VAULTS_BITWARDEN_URL`` selects ``bw serve``; else
``VAULTS_BITWARDEN_SERVER`` selects the native ``api`` transport (the Bitwarden server
itself, with ``BW_CLIENTID``/``BW_CLIENTSECRET``/``BW_PASSWORD``); else the backend runs the
``bw`` CLI (``VAULTS_BITWARDEN_BW``, default ``bw`` on ``PATH``) with ``BW_SESSION``.
``VAULTS_BITWARDEN_TRANSPORT=serve|api|cli`` forces one.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vaults.errors import ConfigurationError
from vaults.redact import url_without_secrets
from vaults.secret import Secret

if TYPE_CHECKING:
    from vaults.plain import SecretLike

__all__ = [
    "CLOUD_SERVERS",
    "DEFAULT_TIMEOUT",
    "ENV_APPDATA",
    "ENV_BW",
    "ENV_PASSWORD",
    "ENV_SESSION",
    "ENV_TIMEOUT",
    "ENV_URL",
    "ENV_VARS",
    "BitwardenSettings",
    "default_cache_dir",
    "server_urls",
]

ENV_URL = "VAULTS_BITWARDEN_URL"
ENV_BW = "VAULTS_BITWARDEN_BW"
ENV_TIMEOUT = "VAULTS_BITWARDEN_TIMEOUT"
ENV_SESSION = "BW_SESSION"
ENV_PASSWORD = "BW_PASSWORD"  # noqa: S105 - a variable name
ENV_APPDATA = "BITWARDENCLI_APPDATA_DIR"
ENV_SERVER = "VAULTS_BITWARDEN_SERVER"
ENV_API_URL = "VAULTS_BITWARDEN_API_URL"
ENV_IDENTITY_URL = "VAULTS_BITWARDEN_IDENTITY_URL"
ENV_CA = "VAULTS_BITWARDEN_CA"
ENV_CACHE_DIR = "VAULTS_BITWARDEN_CACHE_DIR"
ENV_TRANSPORT = "VAULTS_BITWARDEN_TRANSPORT"
ENV_CLIENT_ID = "BW_CLIENTID"
ENV_CLIENT_SECRET = "BW_CLIENTSECRET"  # noqa: S105 - a variable name
ENV_VARS = (
    ENV_URL,
    ENV_SERVER,
    ENV_BW,
    ENV_SESSION,
    ENV_PASSWORD,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_APPDATA,
    ENV_TIMEOUT,
    ENV_API_URL,
    ENV_IDENTITY_URL,
    ENV_CA,
    ENV_CACHE_DIR,
    ENV_TRANSPORT,
)
TRANSPORTS = ("serve", "api", "cli")

CLOUD_SERVERS: dict[str, tuple[str, str]] = {
    "vault.bitwarden.com": ("https://api.bitwarden.com", "https://identity.bitwarden.com"),
    "vault.bitwarden.eu": ("https://api.bitwarden.eu", "https://identity.bitwarden.eu"),
}
"""Bitwarden's cloud regions: web vault host → (API URL, identity URL), as the official
clients map them. Any other server (self-hosted Bitwarden, Vaultwarden) serves both under
its own base URL: ``BASE/api`` and ``BASE/identity``."""

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for one HTTP request or one ``bw`` run (``bw get item`` takes ~3 s)."""

CHILD_ENV_KEYS = ("PATH", "HOME", "NODE_EXTRA_CA_CERTS", ENV_APPDATA)
"""Variables taken from the configured environment into the ``bw`` child's environment
(on top of the process environment), so a host passing ``env=`` controls them."""


def _secret(env: Mapping[str, str], name: str) -> SecretLike | None:
    value = env.get(name, "")
    return Secret(value) if value.strip() else None


def _timeout(env: Mapping[str, str]) -> float:
    raw = env.get(ENV_TIMEOUT, "").strip()
    if not raw:
        return DEFAULT_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"{ENV_TIMEOUT} must be a number of seconds, got {raw[:20]!r}"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{ENV_TIMEOUT} must be a positive number of seconds")
    return value


def _url(raw: str, name: str = ENV_URL, *, https: bool = False) -> str:
    url = raw.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:  # an unbalanced [: the text may hold a password, never shown
        parts, hostname = urlsplit(""), None
    schemes = ("https",) if https else ("http", "https")
    if parts.scheme not in schemes or not hostname:
        try:
            shown = url_without_secrets(url)
        except ValueError:
            shown = "a malformed URL"
        example = (
            "https://vault.bitwarden.com (or your server's https:// address)"
            if https
            else "http://127.0.0.1:8087 (the address `bw serve` listens on)"
        )
        raise ConfigurationError(f"{name} must look like {example}, got {shown[:80]!r}")
    if parts.username or parts.password:
        raise ConfigurationError(f"{name} must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{name} must not contain a query or fragment")
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError:
        raise ConfigurationError(f"{name} has an invalid port") from None
    return url


def server_urls(server: str) -> tuple[str, str]:
    """(API URL, identity URL) of a Bitwarden server given by its web vault address."""
    host = (urlsplit(server).hostname or "").lower()
    if host in CLOUD_SERVERS and urlsplit(server).path in ("", "/"):
        return CLOUD_SERVERS[host]
    return f"{server}/api", f"{server}/identity"


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """``$VAULTS_BITWARDEN_CACHE_DIR``, else the user cache directory + ``vaults/bitwarden``
    (``$XDG_CACHE_HOME`` or ``~/.cache`` on Linux, ``~/Library/Caches`` on macOS,
    ``%LOCALAPPDATA%`` on Windows)."""
    explicit = env.get(ENV_CACHE_DIR, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(env.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "vaults" / "bitwarden"


def _transport(env: Mapping[str, str], url: str | None, server: str | None) -> str:
    forced = env.get(ENV_TRANSPORT, "").strip().lower()
    if forced:
        if forced not in TRANSPORTS:
            raise ConfigurationError(
                f"{ENV_TRANSPORT} must be one of {', '.join(TRANSPORTS)}, got {forced[:20]!r}"
            )
        if forced == "serve" and url is None:
            raise ConfigurationError(f"{ENV_TRANSPORT}=serve needs {ENV_URL}")
        if forced == "api" and server is None:
            raise ConfigurationError(f"{ENV_TRANSPORT}=api needs {ENV_SERVER}")
        return forced
    return "serve" if url else "api" if server else "cli"


@dataclass(frozen=True)
class BitwardenSettings:
    """Everything the backend needs; secrets are :class:`~vaults.plain.Secret`."""

    url: str | None = None
    bw: str = "bw"
    session: SecretLike | None = field(default=None, repr=False)
    password: SecretLike | None = field(default=None, repr=False)
    appdata_dir: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    child_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Extra variables for the ``bw`` child process (see :data:`CHILD_ENV_KEYS`)."""
    transport: str = ""
    """``serve``, ``api`` or ``cli`` (default: chosen from ``url`` / ``server``)."""
    server: str | None = None
    """The Bitwarden server (web vault address) for the native ``api`` transport."""
    api_url: str | None = None
    identity_url: str | None = None
    ca_file: str | None = None
    """PEM file of the CA(s) to trust for the server (``VAULTS_BITWARDEN_CA``, else
    ``SSL_CERT_FILE``, else the system's)."""
    client_id: str | None = None
    client_secret: SecretLike | None = field(default=None, repr=False)
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if not self.transport:
            object.__setattr__(
                self, "transport", "serve" if self.url else "api" if self.server else "cli"
            )
        if self.server is not None:
            api, identity = server_urls(self.server)
            if self.api_url is None:
                object.__setattr__(self, "api_url", api)
            if self.identity_url is None:
                object.__setattr__(self, "identity_url", identity)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BitwardenSettings:
        url = env.get(ENV_URL, "").strip()
        server = env.get(ENV_SERVER, "").strip()
        appdata = env.get(ENV_APPDATA, "").strip() or None
        checked_url = _url(url) if url else None
        checked_server = _url(server, ENV_SERVER, https=True) if server else None
        api = env.get(ENV_API_URL, "").strip()
        identity = env.get(ENV_IDENTITY_URL, "").strip()
        ca = env.get(ENV_CA, "").strip() or env.get("SSL_CERT_FILE", "").strip() or None
        return cls(
            url=checked_url,
            bw=env.get(ENV_BW, "").strip() or "bw",
            session=_secret(env, ENV_SESSION),
            password=_secret(env, ENV_PASSWORD),
            appdata_dir=appdata,
            timeout=_timeout(env),
            child_env={k: env[k] for k in CHILD_ENV_KEYS if env.get(k)},
            transport=_transport(env, checked_url, checked_server),
            server=checked_server,
            api_url=_url(api, ENV_API_URL, https=True) if api else None,
            identity_url=_url(identity, ENV_IDENTITY_URL, https=True) if identity else None,
            ca_file=ca,
            client_id=env.get(ENV_CLIENT_ID, "").strip() or None,
            client_secret=_secret(env, ENV_CLIENT_SECRET),
            cache_dir=default_cache_dir(env),
        )

    @property
    def transport_name(self) -> str:
        return self.transport

    @property
    def secrets(self) -> tuple[SecretLike, ...]:
        """The secrets configured (to redact them from messages ``bw`` prints)."""
        return tuple(s for s in (self.session, self.password, self.client_secret) if s is not None)
