"""Magic links: a sign-in / verification URL carrying a token, judged by context and shape.

A link qualifies when

* its **context** says sign in / verify / confirm: words in the URL's path (``login``,
  ``verify``, ``magic``), in the anchor text, or in the sentence before a URL written in the
  text ("Click here to sign in: https://…"), and
* its **shape** carries a token: a token parameter (``token``, ``t``, ``code``, ``key``,
  ``oobCode``, ``otp``, ``signature`` … with a value of 6+ characters) or a random-looking path
  segment (6+ characters mixing letters and digits, or 16+ token characters),

and nothing refuses it: unsubscribe / privacy / help / "not me" words in the URL, the anchor
or the link's own line, or a reset / recovery / revert / remove / invitation intent anywhere
in the message (every language of ``rules/``). Among several qualifying links the one with the
most context wins, then the first. The word lists live in ``rules/*.json``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from vaults.codes._html import Link
from vaults.codes._rules import rules
from vaults.codes._text import URL

__all__ = ["find_magic_link", "message_vetoes_links", "only_url", "strip_url"]

_TRAILING: Final = ".,;:!?)]}'\"»›>"
_SEGMENT_SPLIT: Final = re.compile(r"[/?&=#;:]")
_TOKEN: Final = re.compile(r"[A-Za-z0-9_\-~%.+]{16,}")
_CONTEXT: Final = 200
_MIN_TOKEN: Final = 6


@dataclass(frozen=True)
class _Scored:
    url: str
    points: int
    order: int


def strip_url(url: str) -> str:
    """Drop punctuation that ends the sentence around a bare URL."""
    return url.rstrip(_TRAILING)


def only_url(text: str) -> str | None:
    """The URL when ``text`` is nothing but one http(s) URL."""
    stripped = text.strip()
    match = URL.fullmatch(stripped)
    if match is None:
        return None
    url = strip_url(stripped)
    return url if _has_host(url) else None


def _has_host(url: str) -> bool:
    """The URL names a dotted host name (``https://0`` or ``https:///x`` do not)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and "." in host.strip(".")


def _random_looking(segment: str) -> bool:
    digits = sum(c.isdigit() for c in segment)
    letters = sum(c.isalpha() for c in segment)
    return (len(segment) >= _MIN_TOKEN and digits >= 1 and letters >= 1) or (
        _TOKEN.fullmatch(segment) is not None
    )


def _words_of(url: str) -> str:
    """The URL without its scheme and without random tokens (whose letters mean nothing)."""
    rest = url.split("://", 1)[-1]
    return " ".join(s for s in _SEGMENT_SPLIT.split(rest) if s and not _random_looking(s))


def _carries_token(url: str) -> bool:
    """A token parameter with a 6+ character value, or a random-looking path segment."""
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return False
    params = rules().token_params
    for name, value in query:
        if name.lower() in params and len(value) >= _MIN_TOKEN:
            return True
    fragment_path = parts.fragment.split("?", 1)[0]
    segments = [*parts.path.split("/"), *fragment_path.split("/")]
    if any(_random_looking(s) for s in segments if s):
        return True
    return any(_TOKEN.fullmatch(v) and _random_looking(v) for _, v in query)


def message_vetoes_links(text: str) -> bool:
    """A reset / recovery / revert / remove / invitation intent anywhere in the message."""
    return rules().link_vetoes.search(text) is not None


def _score(url: str, words: str, context: str, order: int) -> _Scored | None:
    if not url.lower().startswith(("http://", "https://")) or not _has_host(url):
        return None
    compiled = rules()
    url_words = _words_of(url)
    points = 0
    if compiled.url_words.search(url_words):
        points += 2
    if words and compiled.link_words.search(words):
        points += 2
    if context and compiled.link_words.search(context):
        points += 2
    if points < 2:
        return None
    same_line = context.rpartition("\n")[2]
    if compiled.url_refusals.search(url_words) or compiled.link_refusals.search(
        f"{words} \n {same_line}"
    ):
        return None
    if not _carries_token(url):
        return None
    return _Scored(url, points, order)


def _context_before(text: str, start: int) -> str:
    """The URL's own line before it, or the previous non-empty line when that holds no words."""
    line_start = text.rfind("\n", 0, start) + 1
    own = text[max(line_start, start - _CONTEXT) : start]
    if any(c.isalpha() for c in own):
        return own
    before = text[max(0, line_start - _CONTEXT) : line_start].rstrip()
    return before.rpartition("\n")[2] + "\n" + own


def find_magic_link(text: str, links: Iterable[Link] = ()) -> str | None:
    """The best sign-in link among ``links`` (HTML anchors) and URLs written in ``text``."""
    scored: list[_Scored] = []
    order = 0
    for link in links:
        result = _score(link.href, link.text, "", order)
        order += 1
        if result is not None:
            scored.append(result)
    for match in URL.finditer(text):
        url = strip_url(match.group(0))
        result = _score(url, "", _context_before(text, match.start()), order)
        order += 1
        if result is not None:
            scored.append(result)
    if not scored:
        return None
    return min(scored, key=lambda s: (-s.points, s.order)).url
