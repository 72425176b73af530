"""Find code-shaped tokens in text and score them by keyword proximity.

A candidate is a 4–8 digit number (``482913``; ``584 302`` and ``482-913`` joined;
``G-482913`` without its prefix; ``4 8 2 9 1 3`` from one-digit table cells) or a 4–10 character
upper-case alphanumeric token with at least one letter and one digit (``K7Q2ZP``).

Each candidate is first *filtered*: glued to a longer number, a date, a time or an amount; part
of a phone number, IBAN or card number; followed by a unit ("10 minutes", "USD", "%"); a house
number; or right after a distractor label ("order #", "ending in", "ZIP", "Tel."). It is then
*scored*: how close the nearest strong keyword ("code", "OTP", "验证码" ...) sits before it
(same sentence; or a sentence or two away when the code stands on a line of its own; or
further when the keyword points down: "the code below"), or right after it ("482913 is your
code"), or a weak login/verify keyword in its sentence. Keywords qualified as promo, gift,
pickup, driver ... codes, and "confirmation codes" of travel/event messages, count as
distractors. Only a candidate above the threshold is returned; placeholder numbers (0000,
123456) never are; ties between different values, or three or more codes (a list of backup
codes), return nothing.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass
from typing import Final, Literal

from vaults.codes._rules import TERMINATOR, TermKind, find_terms, lower, rules

__all__ = ["Candidate", "find_code"]

Shape = Literal["digits", "grouped", "spaced", "alnum", "letters"]

_GROUPED: Final = re.compile(r"(?<![A-Za-z0-9])[0-9]{2,4}(?:[ -][0-9]{2,4}){1,3}(?![A-Za-z0-9])")
_SPACED: Final = re.compile(r"(?<![A-Za-z0-9])[0-9](?:[ \t]{1,8}[0-9]){3,7}(?![A-Za-z0-9])")
_ALNUM_GROUPED: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Z0-9]{3,5}(?:[- ][A-Z0-9]{3,5}){1,2}(?![A-Za-z0-9])"
)
# Digits glued to letters belong to a mixed code ("2222223A", "222A2223"), scanned as such.
_DIGITS: Final = re.compile(r"(?<![0-9A-Za-z])[0-9]{4,10}(?![0-9A-Za-z])")
_LETTERS: Final = re.compile(r"(?<![A-Za-z0-9])[A-Z]{4,10}(?![A-Za-z0-9])")
_VOWELS: Final = frozenset("AEIOUY")
_ALNUM: Final = re.compile(r"(?<![A-Za-z0-9])[A-Z0-9]{4,10}(?![A-Za-z0-9])")
_PREFIX: Final = re.compile(r"(?<![A-Za-z0-9])[A-Z]{1,3}-\Z")
_NUMBERISH: Final = re.compile(
    r"(?:\+[ ]?|\([0-9]{1,5}\)[ ]?)?[0-9]+(?:(?:[ .\-]|[ ]?\([0-9]{1,5}\)[ ]?)[0-9]+)*"
)
_IBAN: Final = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
_UNIT_SUFFIX: Final = re.compile(r"[0-9][ ]?\Z")
_DASHED_ID: Final = re.compile(r"[A-Z0-9]+(?:-[A-Z0-9]+)+")
_GROUP_SEP: Final = re.compile(r"[ .\-()+]+")
_BLANK_LINES: Final = re.compile(r"\n{3,}")
_YEAR: Final = re.compile(r"(?:19|20)[0-9]{2}")

_REJECT_BEFORE: Final = frozenset("#$€£¥₹₩₽+*•@/\\_=&?%~^№")
_REJECT_AFTER: Final = frozenset("%$€£¥₹₩₽°@/+#")
_NUMERIC_JOINERS: Final = frozenset("-.,:")

THRESHOLD: Final = 7
_TIGHT: Final = 48
_NEAR: Final = 120
_AFTER: Final = 40
_WEAK: Final = 60
_CLAIM: Final = 12
_QUALIFIER_REACH: Final = 30
_CLAUSE_BREAK: Final = re.compile(r"[.!?;:\n。！？；：]|[0-9]")
_DISTRACTOR_GAP: Final = 25
_LABEL_INDENT: Final = 15
_POINTER_REACH: Final = 200
_POINTER_AFTER: Final = 60
_POINTER_BEFORE: Final = 40
_EXAMPLE_REACH: Final = 80
_LABEL_GAP: Final = 16
"""At most this much text between a code word and a letters-only or 9-10 digit code."""
_POINTER_STOPS: Final = 3
_WINDOW: Final = 220
_MAX_CANDIDATES: Final = 400


@dataclass(frozen=True)
class Candidate:
    """A code-shaped token: its normalised value and its span in the text."""

    value: str
    start: int
    end: int
    shape: Shape


@dataclass(frozen=True)
class _Term:
    start: int
    end: int
    kind: TermKind
    pointer: bool = False
    """A strong keyword that points further down ("the code below", "following code")."""


@dataclass(frozen=True)
class _Score:
    value: str
    points: int
    gap: int
    cued: bool
    """A code word labels this very token ("code is 123456", "123456 is your code")."""


def _masked_spans(text: str) -> list[tuple[int, int]]:
    """Spans of IBANs, phone numbers and long digit groups (card, account): never codes."""
    spans = [m.span() for m in _IBAN.finditer(text)]
    for match in _NUMBERISH.finditer(text):
        raw = match.group(0)
        groups = [g for g in _GROUP_SEP.split(raw) if g]
        digits = sum(len(g) for g in groups)
        phone_start = raw[0] in "+("
        many = len(groups) >= 3 and digits >= 9
        joined = len(groups) == 2 and digits >= 9 and " " not in raw
        code_like = digits <= 10 and len({len(g) for g in groups}) == 1 and len(groups) >= 2
        if (phone_start and digits >= 6) or ((many or joined) and not code_like):
            spans.append(match.span())
    return spans


def _bounded(text: str, start: int, end: int) -> bool:
    """True when the token is not glued to a longer number, a quantity or an identifier."""
    before = text[start - 1] if start > 0 else " "
    before2 = text[start - 2] if start > 1 else " "
    after = text[end] if end < len(text) else " "
    after2 = text[end + 1] if end + 1 < len(text) else " "
    if before.isascii() and before.isalnum():
        return False
    if after.isascii() and after.isalnum():
        return False
    if before in _REJECT_BEFORE or after in _REJECT_AFTER:
        return False
    if before in _NUMERIC_JOINERS and (before2.isdigit() or before2 in "*•)xX"):
        return False
    if before == " " and before2.isdigit():
        return False
    return not (after in _NUMERIC_JOINERS and after2.isdigit())


def _scan_candidates(text: str) -> list[Candidate]:
    taken = bytearray(len(text))
    found: list[Candidate] = []

    def free(start: int, end: int) -> bool:
        return taken.find(1, start, end) < 0

    def add(value: str, start: int, end: int, shape: Shape) -> None:
        taken[start:end] = b"\x01" * (end - start)
        found.append(Candidate(value, start, end, shape))

    for match in _GROUPED.finditer(text):
        groups = re.split(r"[ -]", match.group(0))
        sizes = {len(g) for g in groups}
        value = "".join(groups)
        if len(sizes) != 1 or not 4 <= len(value) <= 10:
            continue
        if len(groups[0]) == 2 and len(groups) < 3:
            continue
        add(value, match.start(), match.end(), "grouped")
    for match in _SPACED.finditer(text):
        if free(*match.span()):
            add("".join(match.group(0).split()), match.start(), match.end(), "spaced")
    for match in _ALNUM_GROUPED.finditer(text):
        groups = re.split(r"[- ]", match.group(0))
        value = "".join(groups)
        if (
            len({len(g) for g in groups}) == 1
            and 6 <= len(value) <= 10
            and any(c.isalpha() for c in value)
            and ("-" in match.group(0) or any(c.isdigit() for c in value))
            and free(*match.span())
        ):
            shape: Shape = "alnum" if any(c.isdigit() for c in value) else "letters"
            add(value, match.start(), match.end(), shape)
    for match in _DIGITS.finditer(text):
        if free(*match.span()):
            start = match.start()
            prefix = _PREFIX.search(text, max(0, start - 4), start)
            add(match.group(0), prefix.start() if prefix else start, match.end(), "digits")
    for match in _ALNUM.finditer(text):
        token = match.group(0)
        if (
            not token.isdigit()
            and any(c.isdigit() for c in token)
            and any(c.isalpha() for c in token)
            and free(*match.span())
        ):
            add(token, match.start(), match.end(), "alnum")
        if len(found) > _MAX_CANDIDATES:
            break
    for match in _LETTERS.finditer(text):
        token = match.group(0)
        # Generated letter codes avoid vowels (no words); "SUMMER" or "HELLO" are words.
        # "XXXXXX" is a template's mask, not a code.
        if (
            sum(c in _VOWELS for c in token) * 5 <= len(token)
            and len(set(token)) > 2
            and free(*match.span())
        ):
            add(token, match.start(), match.end(), "letters")
        if len(found) > _MAX_CANDIDATES:
            break
    found.sort(key=lambda c: c.start)
    return found[:_MAX_CANDIDATES]


def _terms(text: str, candidates: list[Candidate]) -> list[_Term]:
    """Keyword/distractor terms, scanned only in windows around the candidates."""
    windows: list[list[int]] = []
    for cand in candidates:
        lo, hi = max(0, cand.start - _WINDOW), min(len(text), cand.end + _WINDOW)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    lowered = lower(text)
    compiled = rules()
    travel: bool | None = None
    terms: list[_Term] = []
    for lo, hi in windows:
        for start, end, kind in find_terms(text, lowered, lo, hi):
            pointer = False
            if kind == "strong":
                if _qualified_away(text, start, end) or compiled.non_login_qualifier.search(
                    lowered, start, end
                ):
                    kind = "distractor"
                elif compiled.booking_label.search(text, max(0, start - 16), end + 20):
                    if travel is None:
                        travel = compiled.travel.search(text) is not None
                    if travel:
                        kind = "distractor"
                pointer = _points_down(text, start, end)
            terms.append(_Term(start, end, kind, pointer))
    return terms


def _points_down(text: str, start: int, end: int) -> bool:
    """The keyword's clause says the code follows further down ("listed below", "following")."""
    compiled = rules()
    after = _clause(text[end : end + _POINTER_AFTER], last=False, breaks=TERMINATOR)
    before = _clause(text[max(0, start - _POINTER_BEFORE) : start], last=True, breaks=TERMINATOR)
    return (
        compiled.pointer_after.search(after) is not None
        or compiled.pointer_before.search(before) is not None
    )


def _qualified_away(text: str, start: int, end: int) -> bool:
    """A qualifier in the keyword's own clause makes it a promo/gift/pickup code."""
    before = _clause(text[max(0, start - _QUALIFIER_REACH) : start], last=True)
    after = _clause(text[end : end + _QUALIFIER_REACH], last=False)
    return rules().non_login_qualifier.search(f"{before} {after}") is not None


def _clause(text: str, *, last: bool, breaks: re.Pattern[str] | None = None) -> str:
    parts = (breaks or _CLAUSE_BREAK).split(text)
    return parts[-1] if last else parts[0]


def _trivial(value: str) -> bool:
    """Placeholder-looking numbers: one repeated digit or a straight run (0000, 1234, 987654)."""
    if not value.isdigit():
        return False
    steps = {int(b) - int(a) for a, b in itertools.pairwise(value)}
    return steps in ({0}, {1}, {-1})


def _example(text: str, cand: Candidate) -> bool:
    """An example or template marker near the token ("e.g.", "such as", "{code}", "XXXXXX")."""
    lo, hi = max(0, cand.start - _EXAMPLE_REACH), min(len(text), cand.end + _EXAMPLE_REACH)
    return rules().example.search(text, lo, hi) is not None


def _strong_alnum(value: str) -> bool:
    """Looks generated: 6+ characters with at least two letters and two digits."""
    digits = sum(c.isdigit() for c in value)
    return len(value) >= 6 and digits >= 2 and len(value) - digits >= 2


def _collapsed(gap: str) -> int:
    return len(" ".join(gap.split()))


def _is_quantity(text: str, cand: Candidate) -> bool:
    return (
        rules().after_unit.match(text, cand.end) is not None
        or rules().street_after.match(text, cand.end) is not None
    )


def _after_distractor(text: str, cand: Candidate, terms: list[_Term], ends: list[int]) -> bool:
    index = bisect.bisect_right(ends, cand.start) - 1
    if index < 0:
        return False
    term = terms[index]
    if term.kind != "distractor":
        return False
    if _UNIT_SUFFIX.search(text, max(0, term.start - 2), term.start):
        return False  # "49,99 EUR: 730 219" - the currency belongs to the amount before it
    gap = text[term.end : cand.start]
    # Dashed identifiers between label and number belong to the value ("plate B-AB 1234").
    words = _DASHED_ID.sub("", gap)
    if len(gap) > _DISTRACTOR_GAP or any(c.isalpha() for c in words) or TERMINATOR.search(gap):
        return False
    if "\n" in gap:
        # A label on the line above ("Order number:" / value) starts its line; a word at the
        # end of a sentence ("... to your account:") does not.
        line_start = text.rfind("\n", 0, term.start) + 1
        return term.start - line_start <= _LABEL_INDENT
    return True


class _Scorer:
    def __init__(self, text: str, viable: list[Candidate], terms: list[_Term]) -> None:
        self.text = text
        # Upper-case words ("HDFC", "AMAZON") are candidates only when labelled; they never
        # stand between a keyword and a number.
        self.viable_starts = [c.start for c in viable if c.shape != "letters"]
        strong = [t for t in terms if t.kind == "strong"]
        self.strong_ends = [t.end for t in strong]
        self.strong_by_end = strong
        self.strong_by_start = sorted(strong, key=lambda t: t.start)
        self.strong_starts = [t.start for t in self.strong_by_start]
        weak = [t for t in terms if t.kind == "weak"]
        self.weak = weak
        self.weak_starts = [t.start for t in weak]

    def _between(self, lo: int, hi: int) -> bool:
        """Another viable candidate starts inside [lo, hi)."""
        i = bisect.bisect_left(self.viable_starts, lo)
        return i < len(self.viable_starts) and self.viable_starts[i] < hi

    def before(self, cand: Candidate) -> tuple[int, int]:
        """(points, gap) for the nearest strong keyword before the candidate."""
        i = bisect.bisect_right(self.strong_ends, cand.start) - 1
        if i < 0:
            return 0, 10**6
        term = self.strong_by_end[i]
        gap_text = self.text[term.end : cand.start]
        gap = _collapsed(gap_text)
        stops = len(TERMINATOR.findall(gap_text))
        if stops == 0 and gap <= _TIGHT:
            return 10, gap
        # A code on a line of its own may sit under a longer sentence that names it.
        reach, max_stops = (
            (_POINTER_REACH, _POINTER_STOPS) if term.pointer or self._alone(cand) else (_NEAR, 2)
        )
        if (
            stops <= max_stops
            and gap <= reach
            and not self._between(term.end, cand.start)
            and (stops == 0 or self._alone(cand))
        ):
            return 6, gap
        return 0, gap

    def _labelled(self, cand: Candidate) -> bool:
        """Only a label's punctuation or one short verb between keyword and token ("code: X",
        "code is X", "Kód je X"); "code is in the HTML" is a sentence, not a label."""
        i = bisect.bisect_right(self.strong_ends, cand.start) - 1
        gap = self.text[self.strong_by_end[i].end : cand.start]
        words = re.findall(r"[^\W\d_]+", gap)
        return len(gap) <= _LABEL_GAP and len(words) <= 1 and all(len(w) <= 5 for w in words)

    def _alone(self, cand: Candidate) -> bool:
        """The candidate is displayed on a line of its own (a code block, not a sentence)."""
        line_start = self.text.rfind("\n", 0, cand.start) + 1
        line_end = self.text.find("\n", cand.end)
        line_end = len(self.text) if line_end < 0 else line_end
        rest = self.text[line_start : cand.start] + self.text[cand.end : line_end]
        return not any(c.isalnum() for c in rest)

    def after(self, cand: Candidate) -> tuple[int, int]:
        """(points, gap) for the nearest strong keyword after the candidate."""
        i = bisect.bisect_left(self.strong_starts, cand.end)
        if i >= len(self.strong_starts):
            return 0, 10**6
        term = self.strong_by_start[i]
        gap_text = self.text[cand.end : term.start]
        gap = _collapsed(gap_text)
        if (
            gap <= _AFTER
            and TERMINATOR.search(gap_text) is None
            and not self._between(cand.end, term.start)
            and not self._claimed(term)
        ):
            return 8, gap
        return 0, gap

    def _claimed(self, term: _Term) -> bool:
        """The keyword labels a value right after it ("Code B: 739201"), not the one before."""
        i = bisect.bisect_left(self.viable_starts, term.end)
        if i >= len(self.viable_starts):
            return False
        gap_text = self.text[term.end : self.viable_starts[i]]
        return _collapsed(gap_text) <= _CLAIM and TERMINATOR.search(gap_text) is None

    def weak_points(self, cand: Candidate) -> int:
        i = bisect.bisect_left(self.weak_starts, cand.start)
        for term in self.weak[max(0, i - 1) : i + 1]:
            lo, hi = (term.end, cand.start) if term.end <= cand.start else (cand.end, term.start)
            gap_text = self.text[lo:hi]
            if _collapsed(gap_text) <= _WEAK and TERMINATOR.search(gap_text) is None:
                return 5
        return 0

    def score(self, cand: Candidate) -> _Score | None:
        before, before_gap = self.before(cand)
        after, after_gap = self.after(cand)
        weak = self.weak_points(cand)
        tight_before = before == 10
        strong_alnum = cand.shape == "alnum" and _strong_alnum(cand.value)
        alone = bool(before) and self._alone(cand)
        if (
            cand.shape == "alnum"
            and not (tight_before or (after and after_gap <= 25))
            and not (strong_alnum and before)
            and not alone
        ):
            return None
        if cand.shape == "letters" and not ((tight_before and self._labelled(cand)) or alone):
            return None
        long_number = len(cand.value) > 8
        if long_number and not (
            (cand.shape == "digits" and tight_before and before_gap <= _LABEL_GAP)
            or (cand.shape == "grouped" and (tight_before or alone))
        ):
            return None
        if cand.shape == "spaced" and not before:
            return None
        if (
            cand.shape == "digits"
            and len(cand.value) == 4
            and _YEAR.fullmatch(cand.value)
            and not (tight_before and before_gap <= 12)
        ):
            return None
        points = max(before, after, weak)
        if cand.shape == "digits":
            points += 2 if len(cand.value) == 6 else 1
        elif cand.shape in ("grouped", "spaced", "letters") or strong_alnum or alone:
            points += 1
        gap = (
            min(g for p, g in ((before, before_gap), (after, after_gap)) if p)
            if (before or after)
            else 10**6
        )
        cued = (tight_before and before_gap <= _LABEL_GAP) or bool(after)
        return _Score(cand.value, points, gap, cued)


def _squeeze(text: str) -> str:
    """Collapse runs of blanks and blank lines (HTML layout leaves plenty of both)."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines))


def find_code(text: str) -> str | None:
    """The one code ``text`` carries, or None when there is none or it is ambiguous."""
    text = _squeeze(text)
    candidates = _scan_candidates(text)
    if not candidates:
        return None
    masked = _masked_spans(text)
    terms = _terms(text, candidates)
    ends = [t.end for t in terms]
    viable = [
        c
        for c in candidates
        if _bounded(text, c.start if c.shape != "digits" else c.end - len(c.value), c.end)
        and not any(s < c.end and c.start < e for s, e in masked)
        and not _is_quantity(text, c)
        and not _after_distractor(text, c, terms, ends)
    ]
    if not viable:
        return None
    scorer = _Scorer(text, viable, terms)
    best: dict[str, _Score] = {}
    placeholders: set[str] = set()
    for cand in viable:
        scored = scorer.score(cand)
        if scored is None or scored.points < THRESHOLD:
            continue
        if _trivial(scored.value) and not (scored.cued and not _example(text, cand)):
            placeholders.add(scored.value)  # not returned, but still part of a list of codes
            continue
        known = best.get(scored.value)
        if known is None or (scored.points, -scored.gap) > (known.points, -known.gap):
            best[scored.value] = scored
    if not best or len(best) + len(placeholders) >= 3:
        return None
    ranked = sorted(best.values(), key=lambda s: (-s.points, s.gap))
    if len(ranked) == 2 and (ranked[0].points, ranked[0].gap) == (
        ranked[1].points,
        ranked[1].gap,
    ):
        return None
    return ranked[0].value
