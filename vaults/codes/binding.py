"""Codes and magic links bound to the item's site.

A forwarded inbox takes messages from anyone who can e-mail or text the forwarded address:
a forged "sign in" link to a phishing page, or an origin-bound SMS for another site
(``@evil.example #999000``), must never reach the login. :class:`SiteBinding` says whether a
delivered code belongs to the item: its registrable domain (eTLD+1, from the Public Suffix
List bundled with ``publicsuffixlist``) must be one of the item's URIs'. Codes without an
origin are not bound to anything and always pass.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import urlsplit

__all__ = ["CodeLike", "SiteBinding", "registrable_domain"]

log = logging.getLogger("vaults.codes")


class CodeLike(Protocol):
    """What :class:`SiteBinding` looks at (an inbox code or an extracted one)."""

    @property
    def otp_type(self) -> str: ...

    @property
    def value(self) -> str: ...

    @property
    def origin(self) -> str | None: ...


@lru_cache(maxsize=1)
def _psl() -> Any:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@lru_cache(maxsize=4096)
def registrable_domain(host: str) -> str | None:
    """``host``'s registrable domain (``login.acme.co.uk`` → ``acme.co.uk``; an IP address
    or a single label such as ``localhost`` is its own), or None when ``host`` is empty or a
    public suffix itself (``co.uk``)."""
    name = host.strip().strip("[]").lower().rstrip(".")
    if not name:
        return None
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        pass
    try:
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    if "." not in name:
        return name
    found = _psl().privatesuffix(name)
    return str(found) if found else None


def _host(uri: str) -> str | None:
    text = uri.strip()
    if not text:
        return None
    if "://" not in text:
        text = "https://" + text  # vaults often store "acme.com/login"
    try:
        parts = urlsplit(text)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https"):
        return None  # androidapp://, iosapp://, otpauth://…
    return host


@dataclass(frozen=True)
class SiteBinding:
    """The registrable domains of an item's URIs; call it on a code to ask whether the code
    may be used for this item."""

    domains: frozenset[str]

    @classmethod
    def for_uris(cls, uris: Iterable[str]) -> SiteBinding | None:
        """The binding of an item with ``uris``, or None when none is a web address (then
        nothing can be checked and every code passes)."""
        domains = {d for d in (registrable_domain(h) for h in map(_host, uris) if h) if d}
        return cls(frozenset(domains)) if domains else None

    def target(self, code: CodeLike) -> str | None:
        """The registrable domain ``code`` is bound to, or None for an unbound code."""
        if code.otp_type == "magic_link":
            host = _host(code.value)
            return (registrable_domain(host) if host else None) or "(no host)"
        if code.origin:
            host = _host(code.origin)
            return (registrable_domain(host) if host else None) or "(no host)"
        return None

    def __call__(self, code: CodeLike) -> bool:
        target = self.target(code)
        if target is None or target in self.domains:
            return True
        log.warning(
            "skipped a %s for %s: the item's site is %s (allow_foreign_links to accept it)",
            "magic link" if code.otp_type == "magic_link" else "code bound",
            target,
            ", ".join(sorted(self.domains)),
        )
        return False
