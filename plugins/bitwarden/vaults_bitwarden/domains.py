"""Host names and registered domains of login URIs, without network or a downloaded list.

The rule (documented in the README): the *registered domain* of a host is its last two
labels (``portal.example.com`` → ``example.com``), or its last three when the last two form
one of the multi-part public suffixes in :data:`MULTI_LABEL_SUFFIXES` (``shop.example.co.uk``
→ ``example.co.uk``; ``alice.github.io`` → ``alice.github.io``). IP addresses and single-label
hosts (``localhost``) are their own registered domain. Host names are compared in their IDNA
(ASCII) form, lower case, without a trailing dot.
"""

from __future__ import annotations

import ipaddress
from typing import Final, NamedTuple
from urllib.parse import SplitResult, urlsplit

__all__ = ["MULTI_LABEL_SUFFIXES", "Location", "locate", "registered_domain"]

MULTI_LABEL_SUFFIXES: Final = frozenset(
    {
        # country-code second levels
        "ac.uk", "co.uk", "gov.uk", "ltd.uk", "me.uk", "net.uk", "nhs.uk", "org.uk", "plc.uk",
        "sch.uk", "asn.au", "com.au", "edu.au", "gov.au", "id.au", "net.au", "org.au",
        "ac.nz", "co.nz", "geek.nz", "govt.nz", "net.nz", "org.nz", "school.nz",
        "ac.jp", "co.jp", "go.jp", "ne.jp", "or.jp", "ac.kr", "co.kr", "go.kr", "or.kr",
        "com.br", "gov.br", "net.br", "org.br", "com.cn", "gov.cn", "net.cn", "org.cn",
        "com.hk", "org.hk", "com.tw", "org.tw", "com.sg", "edu.sg", "gov.sg", "com.my",
        "com.ph", "com.vn", "co.th", "in.th", "co.id", "or.id", "co.in", "firm.in", "gen.in",
        "net.in", "org.in", "ac.in", "gov.in", "co.il", "org.il", "ac.il", "co.za", "org.za",
        "gov.za", "com.mx", "org.mx", "gob.mx", "com.ar", "gob.ar", "com.co", "com.pe",
        "com.tr", "gov.tr", "com.ua", "org.ua", "com.pl", "net.pl", "org.pl", "com.ru",
        "com.eg", "com.sa", "com.pk", "com.ng", "co.ke", "com.gr", "co.at", "or.at",
        # hosting platforms whose customers each own a sub-domain
        "github.io", "gitlab.io", "herokuapp.com", "azurewebsites.net", "cloudfront.net",
        "appspot.com", "blogspot.com", "netlify.app", "vercel.app", "pages.dev",
        "workers.dev", "web.app", "firebaseapp.com", "onrender.com", "fly.dev",
    }
)  # fmt: skip
"""Public suffixes of two labels; a registered domain under them has three labels."""

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def _ascii_host(host: str) -> str:
    lowered = host.strip().rstrip(".").lower()
    if lowered.isascii():
        return lowered
    try:
        return lowered.encode("idna").decode("ascii")
    except UnicodeError:
        return lowered


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def registered_domain(host: str) -> str:
    """The registered domain of ``host`` under the rule in this module's docstring."""
    ascii_host = _ascii_host(host)
    if not ascii_host or _is_ip(ascii_host):
        return ascii_host
    labels = ascii_host.split(".")
    if len(labels) <= 2:
        return ascii_host
    if ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


class Location(NamedTuple):
    """The parts of a web URL that lookups compare. ``port`` is ``None`` unless an explicit,
    non-default port is given (so ``example.com`` and ``https://example.com`` share a host)."""

    scheme: str
    host: str
    port: int | None
    path: str
    query: str

    @property
    def domain(self) -> str:
        return registered_domain(self.host)

    @property
    def origin(self) -> tuple[str, int | None]:
        return (self.host, self.port)

    @property
    def page(self) -> tuple[str, str, int | None, str, str]:
        """The URL without fragment, with a trailing ``/`` of the path ignored."""
        return (self.scheme, self.host, self.port, self.path.rstrip("/"), self.query)


def _split(uri: str) -> SplitResult | None:
    text = uri.strip()
    if not text:
        return None
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts


def locate(uri: str) -> Location | None:
    """The :class:`Location` of an ``http(s)`` URL (a bare ``host/path`` counts as http),
    or ``None`` for app URIs (``androidapp://…``), empty or malformed text."""
    parts = _split(uri)
    if parts is None or parts.scheme.lower() not in _DEFAULT_PORTS or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return Location(
        scheme=scheme,
        host=_ascii_host(parts.hostname),
        port=None if parts.port in (None, _DEFAULT_PORTS[scheme]) else parts.port,
        path=parts.path,
        query=parts.query,
    )
