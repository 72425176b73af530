"""The extraction rules as data: ``vaults/codes/rules/*.json``, one file per language.

Each file holds regular-expression *words* (lower case) grouped by what they mean; every key is
optional. See ``docs/extraction-languages.md`` for the format and how to add a language.

==========================  ================================================================
key                         meaning
==========================  ================================================================
``code_words``              name a one-time code ("code", "kod\\w*", "验证码") - *strong*
``code_compounds``          end or start a compound that names a code ("Anmeldecode",
                            "vahvistuskoodi"): matched anywhere inside a word
``cased_code_words``        case-sensitive code words ("mTAN")
``context_words``           a login/verification context ("sign in", "do not share") - *weak*
``not_code_labels``         a number after them is not a code ("order", "ZIP", "card ending")
``cased_not_code_labels``   case-sensitive ones (the US state before a ZIP code)
``not_login_qualifiers``    turn a code word into a promo/gift/pickup code ("promo code")
``points_down_after``       after a code word: the code follows further down ("below")
``points_down_before``      before a code word: same ("the following code")
``example_markers``         the number is an example or a template ("e.g.", "{code}", "XXXX")
``travel_words``            a travel/event message: its "confirmation code" is a booking
``booking_labels``          code words that label a booking in such messages ("confirmation")
``units``                   a number followed by one is a quantity ("15 minutes", "EUR")
``unit_marks``              the same, as characters glued to the number ("%", "円")
``street_suffixes``         "1234 Main Street": a house number (case-sensitive)
``url_words``               in a URL's path: a sign-in/verification link ("login", "verify")
``url_refusals``            in a URL: not a sign-in link ("unsubscribe", "privacy")
``token_params``            URL query parameters that carry a sign-in token ("token", "oobCode")
``link_words``              anchor text / sentence: a sign-in link ("sign in", "confirm")
``link_refusals``           anchor text / the link's own line: not one ("unsubscribe")
``link_vetoes``             anywhere in the message: no link is a sign-in link ("reset your
                            password", "recover", "invited")
==========================  ================================================================

A file with ``"unspaced": true`` holds a script written without spaces between words (Chinese,
Japanese, Thai ...): its words are matched anywhere. Other words must stand as whole words.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final, Literal

__all__ = [
    "Rules",
    "TermKind",
    "find_terms",
    "lower",
    "rules",
]

TermKind = Literal["strong", "weak", "distractor"]

# Letters of scripts written with spaces: word boundaries. Arabic and Hebrew are included, and
# their files spell out the prefixes that attach to a word (ال, ב ...).
L: Final = (
    "A-Za-z\u00c0-\u024f\u0370-\u03ff\u1f00-\u1fff\u0400-\u052f\u0530-\u058f\u0590-\u05ff"
    "\u0600-\u065f\u066e-\u06ff\u0750-\u077f\u1e00-\u1eff"
)
_B: Final = f"(?<![{L}])"
_LETTER: Final = re.compile(f"[{L}]")
_E: Final = f"(?![{L}])"

# End of a sentence inside a gap of text (layout line breaks are not sentence ends).
TERMINATOR: Final = re.compile(r"[.!?։۔](?=\s|$)|[。！？।]")

_LISTS = (
    "code_words",
    "code_compounds",
    "cased_code_words",
    "context_words",
    "not_code_labels",
    "cased_not_code_labels",
    "not_login_qualifiers",
    "points_down_after",
    "points_down_before",
    "example_markers",
    "travel_words",
    "booking_labels",
    "units",
    "unit_marks",
    "street_suffixes",
    "url_words",
    "url_refusals",
    "token_params",
    "link_words",
    "link_refusals",
    "link_vetoes",
)


@dataclass(frozen=True)
class Language:
    """One rules file."""

    code: str
    unspaced: bool
    words: dict[str, tuple[str, ...]]


class RulesError(ValueError):
    """A rules file is malformed (raised at import: a packaging or contributor mistake)."""


def load_languages() -> list[Language]:
    """Every ``rules/*.json`` shipped with the package, sorted by file name."""
    found: list[Language] = []
    folder = resources.files("vaults.codes").joinpath("rules")
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        unknown = set(data) - {*_LISTS, "unspaced", "_about"}
        if unknown:
            raise RulesError(f"rules/{entry.name}: unknown keys {sorted(unknown)}")
        words = {key: tuple(data.get(key, ())) for key in _LISTS}
        for key, items in words.items():
            for word in items:
                if not isinstance(word, str) or not word:
                    raise RulesError(f"rules/{entry.name}: {key} holds a non-string or empty word")
                cased = key.startswith("cased_") or key == "street_suffixes"
                if not cased and _fold(word) != _fold(word).lower():
                    raise RulesError(f"rules/{entry.name}: {key} word must be lower case: {word!r}")
        found.append(Language(entry.name[:-5], bool(data.get("unspaced")), words))
    return found


def _fold(word: str) -> str:
    """The word without its upper-case escapes (``\\S``, ``\\W``)."""
    return re.sub(r"\\[A-Z]", "", word)


def _alternation(words: list[str]) -> str:
    unique = list(dict.fromkeys(words))
    # Longer words first, so "code postal" wins over "code" at the same position.
    unique.sort(key=len, reverse=True)
    return "|".join(f"(?:{w})" for w in unique)


def _words_regex(langs: list[Language], key: str, *, flags: int = 0) -> re.Pattern[str] | None:
    bounded = [w for lang in langs if not lang.unspaced for w in lang.words[key]]
    free = [w for lang in langs if lang.unspaced for w in lang.words[key]]
    parts = []
    if bounded:
        parts.append(f"{_B}(?:{_alternation(bounded)}){_E}")
    if free:
        parts.append(f"(?:{_alternation(free)})")
    return re.compile("|".join(parts), flags) if parts else None


_NEVER: Final = re.compile(r"(?!)")


@dataclass(frozen=True)
class Rules:
    """The compiled rules of every language (see :func:`rules`)."""

    terms: re.Pattern[str]
    term_kinds: tuple[TermKind, ...]
    unspaced_terms: re.Pattern[str]
    unspaced_kinds: tuple[TermKind, ...]
    unspaced_runs: re.Pattern[str]
    """Stretches of unspaced scripts (and ASCII letters glued before them, "QRコード")."""
    compounds: re.Pattern[str]
    cased_terms: re.Pattern[str]
    cased_kinds: tuple[TermKind, ...]
    pointer_after: re.Pattern[str]
    pointer_before: re.Pattern[str]
    non_login_qualifier: re.Pattern[str]
    example: re.Pattern[str]
    travel: re.Pattern[str]
    booking_label: re.Pattern[str]
    after_unit: re.Pattern[str]
    street_after: re.Pattern[str]
    url_words: re.Pattern[str]
    url_refusals: re.Pattern[str]
    token_params: frozenset[str]
    link_words: re.Pattern[str]
    link_refusals: re.Pattern[str]
    link_vetoes: re.Pattern[str]
    languages: tuple[str, ...]


_SPECIAL: Final = frozenset("\\([.?*+|^${")


def _dispatch(words: list[tuple[TermKind, str]], kinds: list[TermKind]) -> str:
    """Branches by script block, then by first character: a position tries few words.

    Words of the same first character keep their order (distractor > strong > weak, longer
    first); words that start with a class or group come after them in their block. Each word
    is a capturing group whose kind is appended to ``kinds`` (``match.lastindex`` finds it).
    """
    blocks: dict[int, tuple[dict[str, list[tuple[TermKind, str]]], list[tuple[TermKind, str]]]]
    blocks = {}
    for kind, word in words:
        literal = word[0] not in _SPECIAL and word[1:2] not in ("?", "*", "+", "{")
        # A word that starts with an optional prefix has no single block to guard it with.
        block = ord(word[0]) >> 7 if literal else -1
        buckets, general = blocks.setdefault(block, ({}, []))
        if literal:
            buckets.setdefault(word[0], []).append((kind, word[1:]))
        else:
            general.append((kind, word))
    groups: list[str] = []
    for block, (buckets, general) in blocks.items():
        branches: list[str] = []
        for first, entries in buckets.items():
            kinds.extend(kind for kind, _ in entries)
            rest = "|".join(f"({tail})" for _, tail in entries)
            branches.append(f"{re.escape(first)}(?:{rest})")
        for kind, word in general:
            kinds.append(kind)
            branches.append(f"({word})")
        if block < 0:
            groups.append("|".join(branches))
        else:
            lo, hi = chr(block << 7), chr((block << 7) + 127)
            groups.append(f"(?=[{re.escape(lo)}-{re.escape(hi)}])(?:{'|'.join(branches)})")
    return "|".join(groups)


_TERM_KEYS: Final = ("not_code_labels", "code_words", "context_words")


def _ordered(langs: list[Language], *, unspaced: bool) -> list[tuple[TermKind, str]]:
    ordered: list[tuple[TermKind, str]] = []
    order: tuple[tuple[TermKind, str], ...] = (
        ("distractor", "not_code_labels"),
        ("strong", "code_words"),
        ("weak", "context_words"),
    )
    for kind, key in order:
        words = [w for lang in langs if lang.unspaced == unspaced for w in lang.words[key]]
        unique = sorted(dict.fromkeys(words), key=len, reverse=True)
        ordered.extend((kind, w) for w in unique)
    return ordered


def _terms(
    langs: list[Language], *, unspaced: bool
) -> tuple[re.Pattern[str], tuple[TermKind, ...]]:
    """One regex for the terms of spaced (whole words) or unspaced scripts, lower-cased."""
    kinds: list[TermKind] = []
    branches = _dispatch(_ordered(langs, unspaced=unspaced), kinds)
    if not branches:
        return _NEVER, ()
    if unspaced:
        return re.compile(branches), tuple(kinds)
    return re.compile(f"{_B}(?=[{L}])(?:{branches}){_E}"), tuple(kinds)


def _runs(langs: list[Language]) -> re.Pattern[str]:
    blocks = sorted(
        {
            ord(c) >> 7
            for lang in langs
            if lang.unspaced
            for key in _TERM_KEYS
            for w in lang.words[key]
            for c in w
            if not c.isascii()
        }
    )
    if not blocks:
        return _NEVER
    ranges = "".join(f"{re.escape(chr(b << 7))}-{re.escape(chr((b << 7) + 127))}" for b in blocks)
    return re.compile(f"[a-z]*[{ranges}](?:[{ranges}]|\\s)*")


def _compounds(langs: list[Language]) -> re.Pattern[str]:
    """The end of a compound code word ("…code", "…koodi"); the caller finds the word start."""
    words = [w for lang in langs for w in lang.words["code_compounds"]]
    return re.compile(f"(?:{_alternation(words)}){_E}") if words else _NEVER


def _cased(langs: list[Language]) -> tuple[re.Pattern[str], tuple[TermKind, ...]]:
    kinds: list[TermKind] = []
    groups: list[str] = []
    order: tuple[tuple[TermKind, str], ...] = (
        ("strong", "cased_code_words"),
        ("distractor", "cased_not_code_labels"),
    )
    for kind, key in order:
        words = [w for lang in langs for w in lang.words[key]]
        if words:
            groups.append(f"((?<![A-Za-z])(?:{_alternation(words)})(?![A-Za-z]))")
            kinds.append(kind)
    return (re.compile("|".join(groups)) if groups else _NEVER), tuple(kinds)


@cache
def rules() -> Rules:
    """Compile the rules files once."""
    langs = load_languages()
    terms, term_kinds = _terms(langs, unspaced=False)
    unspaced_terms, unspaced_kinds = _terms(langs, unspaced=True)
    cased, cased_kinds = _cased(langs)

    def words(key: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
        return _words_regex(langs, key, flags=flags) or _NEVER

    units = words("units")
    marks = "".join(re.escape(m) for lang in langs for m in lang.words["unit_marks"])
    after_unit = re.compile(
        r"[ \t]{0,2}(?:" + units.pattern + (f"|[{marks}]" if marks else "") + ")", re.IGNORECASE
    )
    streets = _alternation([w for lang in langs for w in lang.words["street_suffixes"]])
    street_after = (
        re.compile(rf"[ \t]+(?:[A-Z][\w.'-]{{0,20}}[ \t]+){{1,3}}(?:{streets})\b")
        if streets
        else _NEVER
    )
    url_words = _alternation([w for lang in langs for w in lang.words["url_words"]])
    url_refusals = _alternation([w for lang in langs for w in lang.words["url_refusals"]])
    return Rules(
        terms=terms,
        term_kinds=term_kinds,
        unspaced_terms=unspaced_terms,
        unspaced_kinds=unspaced_kinds,
        unspaced_runs=_runs(langs),
        compounds=_compounds(langs),
        cased_terms=cased,
        cased_kinds=cased_kinds,
        pointer_after=words("points_down_after"),
        pointer_before=words("points_down_before"),
        non_login_qualifier=words("not_login_qualifiers"),
        example=words("example_markers"),
        travel=words("travel_words"),
        booking_label=re.compile(
            _alternation([w for lang in langs for w in lang.words["booking_labels"]]) or "(?!)",
            re.IGNORECASE,
        ),
        after_unit=after_unit,
        street_after=street_after,
        url_words=re.compile(url_words or "(?!)", re.IGNORECASE),
        url_refusals=re.compile(url_refusals or "(?!)", re.IGNORECASE),
        token_params=frozenset(w for lang in langs for w in lang.words["token_params"]),
        link_words=words("link_words"),
        link_refusals=words("link_refusals"),
        link_vetoes=words("link_vetoes"),
        languages=tuple(lang.code for lang in langs if lang.code != "common"),
    )


def lower(text: str) -> str:
    """Lower-case ``text`` without changing its length (so positions stay valid)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def find_terms(text: str, lowered: str, start: int, end: int) -> list[tuple[int, int, TermKind]]:
    """Terms in ``text[start:end]`` as (start, end, kind), in order; ``lowered = lower(text)``."""
    compiled = rules()
    found: list[tuple[int, int, TermKind]] = []
    for match in compiled.terms.finditer(lowered, start, end):
        found.append((match.start(), match.end(), compiled.term_kinds[(match.lastindex or 1) - 1]))
    for run in compiled.unspaced_runs.finditer(lowered, start, end):
        for match in compiled.unspaced_terms.finditer(lowered, run.start(), run.end()):
            kind = compiled.unspaced_kinds[(match.lastindex or 1) - 1]
            found.append((match.start(), match.end(), kind))
    for match in compiled.cased_terms.finditer(text, start, end):
        found.append((match.start(), match.end(), compiled.cased_kinds[(match.lastindex or 1) - 1]))
    for match in compiled.compounds.finditer(lowered, start, end):
        word_start = match.start()
        while word_start > start and _LETTER.match(lowered, word_start - 1):
            word_start -= 1
        clash = [t for t in found if t[0] < match.end() and word_start < t[1]]
        if all(kind == "weak" for _, _, kind in clash):
            found = [t for t in found if t not in clash]
            found.append((word_start, match.end(), "strong"))
    found.sort()
    return found
