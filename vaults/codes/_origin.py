"""Origin-bound one-time codes (WICG "Origin-bound one-time codes delivered via SMS").

The last line of the message reads ``@top-level-host #code`` optionally followed by
`` @embedded-host``; the code is bound to the top-level origin ``https://top-level-host``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["OriginBoundCode", "parse_origin_bound"]

_ASCII_WS = "\t\n\f\r "
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?", re.ASCII)
# The draft allows any non-space code; anything but letters/digits (and inner dashes) is junk.
_CODE = re.compile(r"[0-9A-Za-z](?:[0-9A-Za-z_-]{0,62}[0-9A-Za-z])?")
_IPV4 = re.compile(r"(?:\d{1,3}\.){3}\d{1,3}", re.ASCII)


@dataclass(frozen=True)
class OriginBoundCode:
    """A parsed origin-bound code line."""

    origin: str
    code: str
    embedded_origin: str | None


def _host(raw: str) -> str | None:
    """Parse a host the way a browser would accept it for an ``https`` origin (simplified)."""
    if not raw or len(raw) > 253:
        return None
    try:
        ascii_host = raw.encode("idna").decode("ascii").lower()
    except (UnicodeError, ValueError):
        return None
    if _IPV4.fullmatch(ascii_host):
        return ascii_host if all(int(p) < 256 for p in ascii_host.split(".")) else None
    if _DOMAIN.fullmatch(ascii_host) is None or ascii_host.replace(".", "").isdigit():
        return None
    return ascii_host.rstrip(".")


def _collect(line: str, pos: int) -> tuple[str, int]:
    end = pos
    while end < len(line) and line[end] not in _ASCII_WS:
        end += 1
    return line[pos:end], end


def parse_origin_bound(message: str) -> OriginBoundCode | None:
    """Parse the origin-bound last line of ``message``, or return None.

    Trailing whitespace and a trailing CR are tolerated (messages copied from phones often
    carry them); everything else follows the draft's algorithm: ``@`` host, one space,
    ``#`` code, then optionally one space, ``@`` embedded host. Anything after a space that is
    not ``@`` is ignored, leaving room for future extensions. The code must be ASCII letters
    and digits (inner ``-``/``_`` allowed); callers pass normalised text (full-width folded).
    """
    last = message.rstrip(_ASCII_WS).rpartition("\n")[2]
    if not last.startswith("@"):
        return None
    top_raw, pos = _collect(last, 1)
    top = _host(top_raw)
    if top is None or last[pos : pos + 2] != " #":
        return None
    code, pos = _collect(last, pos + 2)
    if _CODE.fullmatch(code) is None:
        return None
    embedded: str | None = None
    if last[pos : pos + 2] == " @":
        embedded_raw, pos = _collect(last, pos + 2)
        embedded_host = _host(embedded_raw)
        if embedded_host is None:
            return None
        embedded = f"https://{embedded_host}"
    return OriginBoundCode(origin=f"https://{top}", code=code, embedded_origin=embedded)
