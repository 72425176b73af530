"""Showing URLs without the parts that may hold secrets."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["url_without_secrets"]


def url_without_secrets(url: str) -> str:
    """``scheme://host[:port]/path``: no user part, query or fragment (they may hold tokens).

    Raises :class:`ValueError` for a malformed URL (unbalanced ``[``, port out of range).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
