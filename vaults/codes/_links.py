"""Magic links: a sign-in/verify URL carrying a token, among unsubscribe and privacy links.

A link qualifies when its URL or its anchor words (or, for a bare URL in text, the words just
before it) say *sign in / log in / verify / confirm / magic / token*, when it carries a
token-like component (16+ characters mixing letters and digits), and when nothing about it
says unsubscribe, privacy, terms, help, password reset or "this wasn't me".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from vaults.codes._html import Link
from vaults.codes._text import URL

__all__ = ["find_magic_link", "only_url", "strip_url"]

_TRAILING: Final = ".,;:!?)]}'\"»›>"
_POSITIVE_URL: Final = re.compile(
    r"log[-_]?in|sign[-_]?in|log[-_]?on|magi[cq]|verif|confirm|auth|otp|passwordless"
    r"|one[-_]?time|activate|validate|connexion|connect|anmeld|einlogg|iniciar|acceso|entrar"
    r"|acesso|vhod|вход",
    re.IGNORECASE,
)
# A token parameter alone says little (unsubscribe, invitation and order links carry them too).
_TOKEN_WORD: Final = re.compile(r"token|(?<![a-z])t(?![a-z])|oobcode|code", re.IGNORECASE)
_NEGATIVE_URL: Final = re.compile(
    r"unsubscribe|opt[-_]?out|optout|privacy|terms|preference|settings|notification|help"
    r"|support|legal|policy|cookie|contact|about|careers|blog|reset|forgot|recover"
    r"|password(?!less)|not[-_]?me|notme|wasnt|was[-_]not|secure[-_]?(?:your[-_]?)?account"
    r"|lock|revoke|deny|decline|cancel|report|abuse|disavow|activity|devices|webversion"
    r"|order|track|receipt|invoice|billing|shipping|delivery|cart|checkout|invit|join|referr"
    r"|view[-_]?(?:in[-_]?)?(?:browser|online)|facebook\.com|twitter\.com|instagram\.com"
    r"|linkedin\.com|youtube\.com|apps\.apple\.com|play\.google\.com|\.(?:png|jpe?g|gif|svg|css)\b",
    re.IGNORECASE,
)
_POSITIVE_WORDS: Final = re.compile(
    r"(?<![a-z])(?:sign(?:ing)?[\s-]?in|log(?:ging)?[\s-]?in|log[\s-]?on|verify|confirm"
    r"|magic\s+link|continue\s+to|access\s+your\s+account|activate|iniciar\s+sesi[oó]n"
    r"|entrar|acceder|anmelden|einloggen|best[äa]tigen|connecter|connexion|v[ée]rifier"
    r"|confirmer|acessar|войти|вход|подтверд\w*)(?![a-z])"
    r"|登录|登錄|登入|验证|驗證|ログイン|認証|로그인|인증",
    re.IGNORECASE,
)
_NEGATIVE_WORDS: Final = re.compile(
    r"unsubscribe|privacy|terms|help|support|not\s+you|wasn'?t\s+(?:me|you)|secure\s+your"
    r"|report|cancel|deny|reset|forgot|manage|preferences|view\s+(?:in|online)|darse\s+de\s+baja"
    r"|order|track|receipt|invoice|shipment|delivery|invit|join\s|accept"
    r"|abbestellen|désabonner|désinscri|отписаться|退订|配信停止|수신\s?거부",
    re.IGNORECASE,
)
_SEGMENT_SPLIT: Final = re.compile(r"[/?&=#;]")
_TOKEN: Final = re.compile(r"[A-Za-z0-9_\-~%.+]{16,}")


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


def _is_token(segment: str) -> bool:
    digits = sum(c.isdigit() for c in segment)
    letters = sum(c.isalpha() for c in segment)
    return len(segment) >= 16 and digits >= 2 and letters >= 2


def _words_of(url: str) -> str:
    """The URL without its scheme and without random tokens (whose letters mean nothing)."""
    rest = url.split("://", 1)[-1]
    return " ".join(s for s in _SEGMENT_SPLIT.split(rest) if s and not _is_token(s))


def _tokenish(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    rest = f"{parts.path}?{parts.query}#{parts.fragment}"
    return any(_is_token(match.group(0)) for match in _TOKEN.finditer(rest))


def _score(url: str, words: str, context: str, order: int) -> _Scored | None:
    if not url.lower().startswith(("http://", "https://")) or not _has_host(url):
        return None
    url_words = _words_of(url)
    points = 0
    if _POSITIVE_URL.search(url_words):
        points += 2
    elif _TOKEN_WORD.search(url_words):
        points += 1
    if words and _POSITIVE_WORDS.search(words):
        points += 2
    if context and _POSITIVE_WORDS.search(context):
        points += 2
    if points < 2:
        return None
    same_line = context.rpartition("\n")[2]
    if _NEGATIVE_URL.search(url_words) or _NEGATIVE_WORDS.search(f"{words} {same_line}"):
        return None
    if not _tokenish(url):
        return None
    return _Scored(url, points, order)


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
        line_start = text.rfind("\n", 0, max(0, match.start() - 1))
        context = text[max(line_start, match.start() - 160, 0) : match.start()]
        result = _score(url, "", context, order)
        order += 1
        if result is not None:
            scored.append(result)
    if not scored:
        return None
    return min(scored, key=lambda s: (-s.points, s.order)).url
