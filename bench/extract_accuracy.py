"""Precision/recall of ``vaults.codes.extract`` on both labelled corpora, as markdown tables.

* ``tests/codes/corpus.jsonl`` — the tuning corpus the rules were written against;
* ``tests/codes/corpus_real.jsonl`` — rendered from real authentication software's own
  templates and translations (``tests/codes/corpus_real/SOURCES.md``), written and scored
  once before any rule changed.

precision = correct / returned-non-None, recall = correct / expected-non-None; a returned
value counts as correct when type, value (and origin, if labelled) match exactly. Each corpus
gets an overall row, then per kind, per language and (real corpus) per source repository, each
beside the figures of the extractor before the rework (``extract_accuracy_before.json``,
commit a84e94d). Exits 1 when precision < 1.0 on either corpus, or recall is below 1.0 on the
tuning corpus or 0.98 on the real one. Run: ``.venv/bin/python bench/extract_accuracy.py``
(``-v`` also lists every miss).
"""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaults.codes.extract import ExtractedCode, extract

ROOT = Path(__file__).resolve().parent.parent

CORPORA = {
    "corpus_real.jsonl": ROOT / "tests" / "codes" / "corpus_real.jsonl",
    "corpus.jsonl": ROOT / "tests" / "codes" / "corpus.jsonl",
}
BEFORE = Path(__file__).resolve().parent / "extract_accuracy_before.json"
PRECISION_TARGET = 1.0
RECALL_TARGETS = {"corpus_real.jsonl": 0.98, "corpus.jsonl": 1.0}


@dataclass
class Tally:
    """Counts for one slice of a corpus."""

    messages: int = 0
    expected: int = 0
    returned: int = 0
    correct: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct / self.returned if self.returned else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.expected if self.expected else 1.0


def load(path: Path) -> list[dict[str, Any]]:
    """The corpus entries, one JSON object per line."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def matches(got: ExtractedCode | None, expected: dict[str, Any] | None) -> bool:
    """True when ``got`` is exactly the labelled answer."""
    if got is None or expected is None:
        return got is None and expected is None
    if (got.otp_type, got.value) != (expected["otp_type"], expected["value"]):
        return False
    return "origin" not in expected or got.origin == expected["origin"]


def slices(entry: dict[str, Any]) -> list[str]:
    """The table rows an entry counts in."""
    keys = ["all", f"kind:{entry['kind']}", f"lang:{entry['lang']}"]
    if "source" in entry:
        keys.append(f"source:{entry['source'].split(':', 1)[0]}")
    return keys


def evaluate(entries: Iterable[dict[str, Any]]) -> dict[str, Tally]:
    """Tallies keyed by ``all``, ``kind:…``, ``lang:…`` and ``source:…`` (repository)."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for entry in entries:
        got = extract(entry["content"])
        expected = entry["expected"]
        ok = matches(got, expected)
        for key in slices(entry):
            tally = tallies[key]
            tally.messages += 1
            tally.expected += expected is not None
            tally.returned += got is not None
            tally.correct += ok and got is not None
            if not ok:
                shown = None if got is None else f"{got.otp_type}:{got.value}"
                tally.misses.append(f"{entry['id']}: got {shown}, expected {expected}")
    return tallies


def _before() -> dict[str, dict[str, dict[str, int]]]:
    if not BEFORE.exists():
        return {}
    data: dict[str, dict[str, dict[str, int]]] = json.loads(BEFORE.read_text())["corpora"]
    return data


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.3f}" if den else "1.000"


def table(tallies: dict[str, Tally], before: dict[str, dict[str, int]]) -> str:
    """Markdown table: overall, per kind, per language, per source; before → after."""
    lines = [
        "| slice | messages | expected | returned | correct | precision | recall"
        " | precision before | recall before |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = ["all"]
    for prefix in ("kind:", "source:", "lang:"):
        keys += sorted(k for k in tallies if k.startswith(prefix))
    for key in keys:
        t = tallies[key]
        old = before.get(key.replace("kind:", "kind:"))
        old_p = _ratio(old["correct"], old["returned"]) if old else "–"
        old_r = _ratio(old["correct"], old["expected"]) if old else "–"
        lines.append(
            f"| {key} | {t.messages} | {t.expected} | {t.returned} | {t.correct}"
            f" | {t.precision:.3f} | {t.recall:.3f} | {old_p} | {old_r} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    before = _before()
    ok = True
    for name, path in CORPORA.items():
        entries = load(path)
        started = time.perf_counter()
        tallies = evaluate(entries)
        elapsed = time.perf_counter() - started
        overall = tallies["all"]
        old = before.get(name, {}).get("all")
        langs = len({e["lang"] for e in entries})
        print(f"### {name} ({len(entries)} messages, {langs} languages)")
        print()
        print(table(tallies, before.get(name, {})))
        print()
        target = RECALL_TARGETS[name]
        was = (
            f"; before (a84e94d): precision {_ratio(old['correct'], old['returned'])},"
            f" recall {_ratio(old['correct'], old['expected'])}"
            if old
            else ""
        )
        print(
            f"{name}: precision {overall.precision:.3f} (target {PRECISION_TARGET}), "
            f"recall {overall.recall:.3f} (target {target}){was}; "
            f"{len(entries)} messages in {elapsed * 1000:.0f} ms"
        )
        if "-v" in argv or overall.misses:
            for miss in overall.misses:
                print(f"- {miss}")
        print()
        if overall.precision < PRECISION_TARGET or overall.recall < target:
            print(f"TARGETS MISSED on {name}", file=sys.stderr)
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
