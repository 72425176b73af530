"""Precision/recall of ``vaults.codes.extract`` on the labelled corpus, as a markdown table.

precision = correct / returned-non-None, recall = correct / expected-non-None; a returned
value counts as correct when type, value (and origin, if labelled) match exactly. Exits 1
when precision < 1.0 or recall < 0.97. Run: ``.venv/bin/python bench/extract_accuracy.py``
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

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from vaults.codes.extract import ExtractedCode, extract  # noqa: E402

CORPUS = ROOT / "tests" / "codes" / "corpus.jsonl"
PRECISION_TARGET = 1.0
RECALL_TARGET = 0.97


@dataclass
class Tally:
    """Counts for one slice of the corpus."""

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


def load(path: Path = CORPUS) -> list[dict[str, Any]]:
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


def evaluate(entries: Iterable[dict[str, Any]]) -> dict[str, Tally]:
    """Tallies keyed by ``all``, ``kind:<kind>`` and ``lang:<lang>``."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    for entry in entries:
        got = extract(entry["content"])
        expected = entry["expected"]
        ok = matches(got, expected)
        for key in ("all", f"kind:{entry['kind']}", f"lang:{entry['lang']}"):
            tally = tallies[key]
            tally.messages += 1
            tally.expected += expected is not None
            tally.returned += got is not None
            tally.correct += ok and got is not None
            if not ok:
                shown = None if got is None else f"{got.otp_type}:{got.value}"
                tally.misses.append(f"{entry['id']}: got {shown}, expected {expected}")
    return tallies


def table(tallies: dict[str, Tally]) -> str:
    """Markdown table: overall row, then per kind, then per language."""
    lines = [
        "| slice | messages | expected | returned | correct | precision | recall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    keys = ["all", *sorted(k for k in tallies if k.startswith("kind:"))]
    keys += sorted(k for k in tallies if k.startswith("lang:"))
    for key in keys:
        t = tallies[key]
        lines.append(
            f"| {key} | {t.messages} | {t.expected} | {t.returned} | {t.correct}"
            f" | {t.precision:.3f} | {t.recall:.3f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    entries = load()
    started = time.perf_counter()
    tallies = evaluate(entries)
    elapsed = time.perf_counter() - started
    overall = tallies["all"]
    print(table(tallies))
    print()
    print(
        f"precision {overall.precision:.3f} (target {PRECISION_TARGET}), "
        f"recall {overall.recall:.3f} (target {RECALL_TARGET}), "
        f"{len(entries)} messages in {elapsed * 1000:.0f} ms"
    )
    if "-v" in argv or overall.misses:
        for miss in overall.misses:
            print(f"- {miss}")
    ok = overall.precision >= PRECISION_TARGET and overall.recall >= RECALL_TARGET
    if not ok:
        print("TARGETS MISSED", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
