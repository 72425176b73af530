"""Length-preserving text normalisation shared by every extraction step."""

from __future__ import annotations

import re

__all__ = ["URL", "mask", "normalize"]

# Full-width digits and letters only: full-width punctuation (，：) stays a CJK separator.
_FULLWIDTH = (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B))
_TABLE: dict[int, str] = {cp: chr(cp - 0xFEE0) for cp in _FULLWIDTH}
_TABLE.update({0x3000: " ", 0x00A0: " ", 0x2007: " ", 0x202F: " ", 0x2009: " "})
_TABLE.update({cp: "-" for cp in (0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212)})
_TABLE.update({0x0660 + i: str(i) for i in range(10)})
_TABLE.update({0x06F0 + i: str(i) for i in range(10)})
_TABLE.update({0x0966 + i: str(i) for i in range(10)})
_TABLE.update({cp: "" for cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD)})
_TABLE[ord("\r")] = ""

# A URL ends at white space, quotes, angle brackets, or CJK / Hangul text glued to it
# ("…/confirm-email/KEY/을 클릭하세요": the particle is not part of the link).
URL = re.compile(
    r"\bhttps?://[^\s<>\"'`\x00-\x1f\u3000-\u30ff\u3400-\u9fff\uac00-\ud7af\uff00-\uffef]{1,4000}",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")


def normalize(text: str) -> str:
    """Fold full-width digits/letters, odd spaces, dashes and digits; drop invisible characters."""
    return text.translate(_TABLE)


def mask(text: str) -> str:
    """Blank out URLs and e-mail addresses (same length) so their digits are never codes."""

    def blank(match: re.Match[str]) -> str:
        return " " * len(match.group(0))

    text = URL.sub(blank, text)
    return _EMAIL.sub(blank, text) if "@" in text else text
