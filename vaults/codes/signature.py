"""Signing pull requests, and checking them on the endpoint's side.

vaults POSTs a JSON body to the user's endpoint with header ``x-vaults-signature``: the hex
HMAC-SHA256 of the exact body bytes, keyed with the API key (UTF-8). The body carries
``timestamp`` (epoch seconds), so a receiver refuses replays of old requests::

    from vaults.codes import verify_signature

    def handle(request):                      # any web framework
        body = request.body                   # the raw bytes, before any JSON parsing
        if not verify_signature(body, request.headers.get("x-vaults-signature"), API_KEY):
            return 401
        ...
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import time

from pydantic import SecretStr

__all__ = ["SIGNATURE_HEADER", "sign_body", "verify_signature"]

SIGNATURE_HEADER = "x-vaults-signature"
DEFAULT_MAX_AGE = 300.0


def _key_bytes(api_key: str | SecretStr) -> bytes:
    raw = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    return raw.encode("utf-8")


def sign_body(body: bytes, api_key: str | SecretStr) -> str:
    """The ``x-vaults-signature`` value for ``body``: hex HMAC-SHA256 keyed with the key."""
    return hmac.new(_key_bytes(api_key), body, hashlib.sha256).hexdigest()


def verify_signature(
    body: bytes | str,
    header: str | None,
    api_key: str | SecretStr,
    max_age: float | None = DEFAULT_MAX_AGE,
    *,
    now: float | None = None,
) -> bool:
    """Whether ``header`` is the valid signature of ``body`` and the request is fresh.

    ``body`` must be the exact bytes received (a ``str`` is encoded as UTF-8). The
    comparison is constant-time. With ``max_age`` (seconds, default 300) the body's
    ``timestamp`` must be within ``max_age`` of ``now`` (either direction), which refuses
    replays; ``max_age=None`` checks the signature only.
    """
    if not header or not isinstance(header, str):
        return False
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    expected = sign_body(raw, api_key).encode("ascii")
    try:
        given = header.strip().lower().encode("ascii")
    except UnicodeEncodeError:
        return False
    if not hmac.compare_digest(expected, given):
        return False
    if max_age is None:
        return True
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested past the stack limit
        return False
    stamp = data.get("timestamp") if isinstance(data, dict) else None
    if isinstance(stamp, bool) or not isinstance(stamp, int | float):
        return False
    try:
        stamp = float(stamp)
    except OverflowError:  # an integer past the float range is no timestamp
        return False
    if not math.isfinite(stamp):
        return False
    current = time.time() if now is None else now
    return abs(current - stamp) <= max_age
