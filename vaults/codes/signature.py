"""Signing pull requests, and checking them on the endpoint's side (signature version 2).

vaults POSTs a JSON body to the user's endpoint with header ``x-vaults-signature``::

    x-vaults-signature: t=1767225600,v1=5f0c…(64 hex digits)

``t`` is the Unix time of the request; ``v1`` the hex HMAC-SHA256, keyed with the API key
(UTF-8), of ``"<t>.<METHOD>.<URL>.<body>"``: the timestamp, the HTTP method, the full request
URL (:func:`canonical_url`: scheme and host lower case, default port dropped, no user part or
fragment) and the exact body bytes. A signature made for one endpoint is worthless at
another, and a receiver refuses old ones::

    from vaults.codes import verify_signature

    def handle(request):                      # any web framework
        body = request.body                   # the raw bytes, before any JSON parsing
        ok = verify_signature(
            body,
            request.headers.get("x-vaults-signature"),
            API_KEY,
            url="https://me.example/codes",   # this endpoint's public URL, as vaults calls it
        )
        if not ok:
            return 401
        ...

Several ``v1=`` entries may be sent (key rotation): one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

from vaults.errors import ConfigurationError, InvalidInput

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_SKEW",
    "SIGNATURE_HEADER",
    "canonical_url",
    "sign_request",
    "verify_signature",
]

SIGNATURE_HEADER = "x-vaults-signature"
DEFAULT_MAX_AGE = 300.0
"""Seconds a signature stays valid (older ones are replays)."""
DEFAULT_MAX_SKEW = 30.0
"""Seconds a signature's timestamp may lie in the future (clock skew)."""
_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_HEADER = 1024


def _key_bytes(api_key: str | SecretStr) -> bytes:
    raw = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    if not isinstance(raw, str) or not raw:
        raise ConfigurationError("the signing key is empty: refusing to sign or verify with it")
    return raw.encode("utf-8")


def canonical_url(url: str) -> str:
    """``url`` as it is signed: scheme and host lower case, the default port dropped, an
    empty path as ``/``, the query kept as is, no user part and no fragment.

    Raises :class:`~vaults.errors.InvalidInput` for a URL that is not ``http(s)://host…``.
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except (ValueError, AttributeError):
        raise InvalidInput("the URL is malformed") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        raise InvalidInput("the URL must be http:// or https:// with a host")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, parts.path or "/", parts.query, ""))


def _mac(key: bytes, timestamp: int, method: str, url: str, body: bytes) -> str:
    signed = f"{timestamp}.{method.upper()}.{url}.".encode() + body
    return hmac.new(key, signed, hashlib.sha256).hexdigest()


def sign_request(
    body: bytes | str,
    api_key: str | SecretStr,
    *,
    url: str,
    method: str = "POST",
    timestamp: int | None = None,
) -> str:
    """The ``x-vaults-signature`` value for a request: ``t=<unix>,v1=<hex>``.

    Raises :class:`~vaults.errors.ConfigurationError` for an empty key.
    """
    key = _key_bytes(api_key)
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={stamp},v1={_mac(key, stamp, method, canonical_url(url), raw)}"


def _parse(header: str) -> tuple[int, list[str]] | None:
    if len(header) > _MAX_HEADER:
        return None
    stamp: int | None = None
    macs: list[str] = []
    for item in header.split(","):
        name, eq, value = item.strip().partition("=")
        if not eq:
            return None
        if name == "t":
            if stamp is not None or not value.isascii() or not value.isdigit() or len(value) > 12:
                return None
            stamp = int(value)
        elif name == "v1":
            macs.append(value.strip().lower())
    if stamp is None or not macs:
        return None
    return stamp, macs


def verify_signature(
    body: bytes | str,
    header: str | None,
    api_key: str | SecretStr,
    *,
    url: str,
    method: str = "POST",
    max_age: float | None = DEFAULT_MAX_AGE,
    max_skew: float = DEFAULT_MAX_SKEW,
    now: float | None = None,
) -> bool:
    """Whether ``header`` is a valid, fresh signature of this request.

    ``body`` must be the exact bytes received (a ``str`` is encoded as UTF-8); ``url`` the
    endpoint's full URL as vaults was given it (compared after :func:`canonical_url`, so
    ``HTTPS://Me.Example:443/codes`` and ``https://me.example/codes`` are one URL);
    ``method`` the request's. The signature is refused when it was made for another URL or
    method, when its timestamp is more than ``max_age`` seconds old (a replay; ``None``:
    no age limit) or more than ``max_skew`` seconds in the future. Comparisons are
    constant-time. Raises :class:`~vaults.errors.ConfigurationError` for an empty key: a
    verifier without a key would otherwise accept whatever an attacker signs with none.
    """
    key = _key_bytes(api_key)
    if not header or not isinstance(header, str):
        return False
    parsed = _parse(header)
    if parsed is None:
        return False
    stamp, macs = parsed
    current = time.time() if now is None else now
    if stamp - current > max_skew:
        return False
    if max_age is not None and current - stamp > max_age:
        return False
    try:
        target = canonical_url(url)
    except InvalidInput:
        return False
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    expected = _mac(key, stamp, method, target, raw).encode("ascii")
    found = False
    for given in macs:
        try:
            candidate = given.encode("ascii")
        except UnicodeEncodeError:
            continue
        found = hmac.compare_digest(expected, candidate) or found
    return found
