"""Credential references: ``SCHEME://BODY`` (``keepass://Group/Title``, ``op://Vault/Item``)."""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl, unquote

from vaults.errors import InvalidReference

__all__ = ["Reference", "parse_reference"]

_SCHEME = re.compile(r"[a-z][a-z0-9+.\-]{0,31}")
# ``keepass:/Title``, ``keepass:Title``, ``keepass:///Title``-less slips of the pen
_NEAR_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]{0,31}):/{0,1}(?P<rest>[^/].*)", re.S)


class Reference(NamedTuple):
    """A parsed reference. The host only splits off the scheme; each backend reads ``body``."""

    raw: str
    scheme: str
    body: str

    @property
    def path(self) -> str:
        """The body before any ``?query``, percent-decoded."""
        return unquote(self.body.split("?", 1)[0])

    @property
    def query(self) -> dict[str, str]:
        """The ``?key=value`` parameters after the path (last one wins)."""
        if "?" not in self.body:
            return {}
        return dict(parse_qsl(self.body.split("?", 1)[1], keep_blank_values=True))

    def __str__(self) -> str:
        return self.raw


def parse_reference(raw: str) -> Reference:
    """Split ``raw`` into scheme and body; raises :class:`InvalidReference` when malformed."""
    if not isinstance(raw, str):
        raise InvalidReference("a reference must be text like 'keepass://Title'")
    text = raw.strip()
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidReference(
                "the reference is not valid text (an unpaired surrogate)"
            ) from None
    if len(text) > 4096:
        raise InvalidReference("the reference is too long (over 4096 characters)")
    scheme, sep, body = text.partition("://")
    if not sep:
        near = _NEAR_SCHEME.fullmatch(text)
        if near is not None and near["rest"].strip():
            suggestion = f"{near['scheme'].lower()}://{near['rest']}"
            raise InvalidReference(
                f"reference {text[:80]!r} needs '://' after the scheme: "
                f"did you mean {suggestion[:90]!r}?"
            )
        raise InvalidReference(
            f"reference {text[:80]!r} has no scheme; write it as SCHEME://ITEM, e.g. keepass://Title"
        )
    scheme = scheme.lower()
    if not _SCHEME.fullmatch(scheme):
        raise InvalidReference(f"reference scheme {scheme[:32]!r} is not valid")
    if not body.strip():
        raise InvalidReference(f"reference {text[:80]!r} names no item")
    if any(ord(c) < 32 for c in body):
        raise InvalidReference("the reference contains control characters")
    return Reference(raw=text, scheme=scheme, body=body)
