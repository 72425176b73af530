"""Deterministic one-time-code extraction from SMS, e-mail (plain or HTML) and push text.

``extract(content)`` returns an :class:`ExtractedCode` or None. No network, no model: plain
regular expressions and scoring rules, tuned for precision (a wrong code is worse than none).

Order of the rules:

1. Content of 10 characters or fewer (stripped) is the code itself (``482913``, ``584 302``,
   ``G-482913``, ``K7Q2ZP``; 4–8 digits or 4–10 letters and digits with at least one digit,
   so ``STOP`` or ``Thanks!`` are not codes) or, if it is a URL, a magic link. Anything else
   that short is searched like a longer message (``OTP: 4821``).
2. An origin-bound last line (``@example.com #123456``, WICG "Origin-bound one-time codes
   delivered via SMS") wins and records the origin ``https://example.com``.
3. A message that is nothing but a URL is a magic link.
4. A code: candidates scored by keyword proximity in the visible text (for HTML), then in the
   hidden text (preheader, title) when the visible text has none.
5. A magic link: a sign-in/verify link carrying a token, among unsubscribe/privacy links.
6. Otherwise None.
"""

from __future__ import annotations

import html
import re
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaults.codes._candidates import find_code
from vaults.codes._html import html_to_text, looks_like_html
from vaults.codes._links import find_magic_link, message_vetoes_links, only_url
from vaults.codes._origin import parse_origin_bound
from vaults.codes._text import mask, normalize

__all__ = ["SHORT_CONTENT", "ExtractedCode", "extract"]

SHORT_CONTENT: Final = 10
"""Stripped content up to this many characters is taken as the code itself."""

_SHORT_PREFIXED: Final = re.compile(r"#?(?:[A-Za-z]{1,3}-)?([0-9]{4,8})")
_SHORT_NUMERIC: Final = re.compile(r"[0-9]{4,8}")
_SHORT_ALNUM: Final = re.compile(r"(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{4,10}")
_SEPARATORS: Final = re.compile(r"[ \t-]")


class ExtractedCode(BaseModel):
    """A one-time code or a magic link found in a message."""

    model_config = ConfigDict(frozen=True)

    otp_type: Literal["totp", "magic_link"]
    value: str = Field(repr=False)
    """The code (digits/letters, separators removed) or the magic-link URL; kept out of repr."""
    origin: str | None = None
    """``https://host`` of an origin-bound SMS line, else None."""


def _short(stripped: str) -> ExtractedCode | None:
    url = only_url(stripped)
    if url is not None:
        return ExtractedCode(otp_type="magic_link", value=url)
    text = normalize(stripped).strip()
    prefixed = _SHORT_PREFIXED.fullmatch(text)
    if prefixed is not None:
        return ExtractedCode(otp_type="totp", value=prefixed.group(1))
    if re.fullmatch(r"[0-9A-Za-z]+(?:[ \t-][0-9A-Za-z]+)*", text) is None:
        return None
    compact = _SEPARATORS.sub("", text)
    if _SHORT_NUMERIC.fullmatch(compact) or _SHORT_ALNUM.fullmatch(compact):
        return ExtractedCode(otp_type="totp", value=compact)
    return None


def extract(content: str) -> ExtractedCode | None:
    """Find the one-time code (or magic link) in ``content``; None when there is none."""
    stripped = content.strip()
    if not stripped:
        return None
    if len(stripped) <= SHORT_CONTENT:
        short = _short(stripped)
        if short is not None:
            return short
    bound = parse_origin_bound(normalize(content))
    if bound is not None:
        return ExtractedCode(otp_type="totp", value=bound.code, origin=bound.origin)
    url = only_url(stripped)
    if url is not None:
        return ExtractedCode(otp_type="magic_link", value=url)
    if looks_like_html(content):
        doc = html_to_text(content)
        texts = [normalize(doc.visible), normalize(doc.hidden)]
        links = doc.links
    else:
        texts = [normalize(content)]
        links = []
    for text in texts:
        code = find_code(mask(text))
        if code is not None:
            return ExtractedCode(otp_type="totp", value=code)
    joined = "\n".join(texts)
    if not links and "http" not in joined.lower():
        return None  # no http(s) URL anywhere: no magic link, so no veto scan either
    if message_vetoes_links(joined):
        return None
    visible_url = only_url(texts[0])
    if visible_url is not None and visible_url in html.unescape(content):
        return ExtractedCode(otp_type="magic_link", value=visible_url)
    link = find_magic_link(texts[0], links)
    # A URL rebuilt from text split by tags or folded by normalisation is not the sender's URL.
    if link is not None and link in html.unescape(content):
        return ExtractedCode(otp_type="magic_link", value=link)
    return None
