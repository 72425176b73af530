"""Configuration of the Bitwarden backend, read from environment variables.

``VAULTS_BITWARDEN_URL`` selects the ``bw serve`` transport; without it the backend runs the
``bw`` CLI (``VAULTS_BITWARDEN_BW``, default ``bw`` on ``PATH``) with ``BW_SESSION``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import SecretStr

from vaults.errors import ConfigurationError

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENV_APPDATA",
    "ENV_BW",
    "ENV_PASSWORD",
    "ENV_SESSION",
    "ENV_TIMEOUT",
    "ENV_URL",
    "ENV_VARS",
    "BitwardenSettings",
]

ENV_URL = "VAULTS_BITWARDEN_URL"
ENV_BW = "VAULTS_BITWARDEN_BW"
ENV_TIMEOUT = "VAULTS_BITWARDEN_TIMEOUT"
ENV_SESSION = "BW_SESSION"
ENV_PASSWORD = "BW_PASSWORD"  # noqa: S105 - a variable name
ENV_APPDATA = "BITWARDENCLI_APPDATA_DIR"
ENV_VARS = (ENV_URL, ENV_BW, ENV_SESSION, ENV_PASSWORD, ENV_APPDATA, ENV_TIMEOUT)

DEFAULT_TIMEOUT = 30.0
"""Seconds allowed for one HTTP request or one ``bw`` run (``bw get item`` takes ~3 s)."""

CHILD_ENV_KEYS = ("PATH", "HOME", "NODE_EXTRA_CA_CERTS", ENV_APPDATA)
"""Variables taken from the configured environment into the ``bw`` child's environment
(on top of the process environment), so a host passing ``env=`` controls them."""


def _secret(env: Mapping[str, str], name: str) -> SecretStr | None:
    value = env.get(name, "")
    return SecretStr(value) if value.strip() else None


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


def _url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{ENV_URL} must look like http://127.0.0.1:8087 (the address `bw serve` listens on), "
            f"got {raw.strip()[:80]!r}"
        )
    if parts.username or parts.password:
        raise ConfigurationError(f"{ENV_URL} must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"{ENV_URL} must not contain a query or fragment")
    try:
        parts.port  # noqa: B018 - validates the port number
    except ValueError:
        raise ConfigurationError(f"{ENV_URL} has an invalid port") from None
    return url


@dataclass(frozen=True)
class BitwardenSettings:
    """Everything the backend needs; secrets are :class:`~pydantic.SecretStr`."""

    url: str | None = None
    bw: str = "bw"
    session: SecretStr | None = field(default=None, repr=False)
    password: SecretStr | None = field(default=None, repr=False)
    appdata_dir: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    child_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Extra variables for the ``bw`` child process (see :data:`CHILD_ENV_KEYS`)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BitwardenSettings:
        url = env.get(ENV_URL, "").strip()
        appdata = env.get(ENV_APPDATA, "").strip() or None
        return cls(
            url=_url(url) if url else None,
            bw=env.get(ENV_BW, "").strip() or "bw",
            session=_secret(env, ENV_SESSION),
            password=_secret(env, ENV_PASSWORD),
            appdata_dir=appdata,
            timeout=_timeout(env),
            child_env={k: env[k] for k in CHILD_ENV_KEYS if env.get(k)},
        )

    @property
    def transport_name(self) -> str:
        return "serve" if self.url else "cli"

    @property
    def secrets(self) -> tuple[SecretStr, ...]:
        """The secrets configured (to redact them from messages ``bw`` prints)."""
        return tuple(s for s in (self.session, self.password) if s is not None)
