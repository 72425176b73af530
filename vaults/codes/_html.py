"""HTML e-mail bodies to text: visible text, hidden text and the links they carry.

Uses the standard library's tokenizer (linear time, no backtracking regexes). Script and
style contents are dropped, entities are decoded, and text inside elements hidden with
inline CSS (``display:none``, ``visibility:hidden``, ``mso-hide:all`` ...), the ``hidden``
attribute or the document ``<head>`` (the ``<title>``) goes to a separate hidden buffer so
that callers can prefer what a reader actually sees.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["HtmlText", "Link", "html_to_text", "looks_like_html"]

_HTML_HINT = re.compile(
    r"<(?=[!a-zA-Z])(?:!doctype|html|head|body|div|p|br|table|tr|td|span|a\s|img|font|center|strong|b|i|em"
    r"|h[1-6]|ul|ol|li|style|meta|title)\b[^>]{0,2000}>",
    re.IGNORECASE,
)
_HIDING_STYLE = re.compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|mso-hide\s*:\s*all"
    r"|(?<![-\w])(?:max-height|font-size|opacity|line-height)\s*:\s*0+(?:px|em|%)?\s*(?:!important\s*)?(?:;|$)",
    re.IGNORECASE,
)
_VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)
_SKIP = frozenset(("script", "style", "template", "noscript", "svg"))
_BLOCK = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "title",
        "tr",
        "ul",
    ]
)
_CELL = frozenset(("td", "th"))
_WHITESPACE = re.compile(r"[ \t\n\r\f]+")


@dataclass(frozen=True)
class Link:
    """One ``<a href>``: the target and the visible words of the anchor."""

    href: str
    text: str


@dataclass
class HtmlText:
    """What :func:`html_to_text` found."""

    visible: str
    hidden: str
    links: list[Link] = field(default_factory=list)


def looks_like_html(content: str) -> bool:
    """True when ``content`` carries HTML markup worth parsing."""
    return _HTML_HINT.search(content) is not None


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.visible: list[str] = []
        self.hidden: list[str] = []
        self.links: list[Link] = []
        self._stack: list[tuple[str, bool]] = []
        self._hiding = 0
        self._skipping = 0
        self._anchor_href: str | None = None
        self._anchor_text: list[str] = []
        self._anchor_hidden = False

    def _emit(self, text: str) -> None:
        (self.hidden if self._hiding else self.visible).append(text)
        if self._anchor_href is not None:
            self._anchor_text.append(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self._void(tag, attrs)
            return
        hides = tag == "head" or tag in _SKIP
        for name, value in attrs:
            if name == "hidden" or (name == "style" and value and _HIDING_STYLE.search(value)):
                hides = True
        self._stack.append((tag, hides))
        if hides:
            self._hiding += 1
        if tag in _SKIP:
            self._skipping += 1
        if tag in _BLOCK:
            self._emit("\n")
        elif tag in _CELL:
            self._emit(" \t ")
        if tag == "a":
            self._close_anchor()
            href = next((v for n, v in attrs if n == "href" and v), None)
            if href is not None:
                self._anchor_href = href.strip()
                self._anchor_text = []
                self._anchor_hidden = self._hiding > 0

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            self._void(tag, attrs)
        else:
            self.handle_starttag(tag, attrs)
            self.handle_endtag(tag)

    def _void(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "hr"):
            self._emit("\n")
        elif tag == "img":
            alt = next((v for n, v in attrs if n == "alt" and v), None)
            if alt and self._anchor_href is not None:
                self._anchor_text.append(alt)

    def handle_endtag(self, tag: str) -> None:
        if not any(name == tag for name, _ in self._stack):
            return
        while self._stack:
            name, hides = self._stack.pop()
            if hides:
                self._hiding -= 1
            if name in _SKIP:
                self._skipping -= 1
            if name == "a":
                self._close_anchor()
            if name == tag:
                break
        if tag in _BLOCK:
            self._emit("\n")
        elif tag in _CELL:
            self._emit(" \t ")

    def _close_anchor(self) -> None:
        if self._anchor_href is not None and not self._anchor_hidden:
            text = " ".join("".join(self._anchor_text).split())
            self.links.append(Link(self._anchor_href, text))
        self._anchor_href = None
        self._anchor_text = []

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if not self._pre:
            data = _WHITESPACE.sub(" ", data)
        self._emit(data)

    @property
    def _pre(self) -> bool:
        return any(name in ("pre", "textarea") for name, _ in self._stack)

    def close(self) -> None:
        super().close()
        self._close_anchor()


def html_to_text(content: str) -> HtmlText:
    """Split an HTML document into visible text, hidden text and its links."""
    collector = _Collector()
    collector.feed(content)
    collector.close()
    return HtmlText(
        visible="".join(collector.visible),
        hidden="".join(collector.hidden),
        links=collector.links,
    )
