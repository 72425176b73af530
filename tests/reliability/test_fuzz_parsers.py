"""Bad input never crashes: every parser, fed mutated real-shaped inputs, either succeeds or
raises one of the documented errors (:class:`vaults.errors.VaultsError` subclasses).

Two engines per target (``fuzz/fuzz_targets.py``):

- hypothesis: structure-aware mutations of real-shaped documents and texts
  (``fuzz/fuzz_strategies.py``);
- atheris (libFuzzer, coverage-guided over the instrumented vaults packages): a short, bounded
  run per target in a subprocess (``fuzz/atheris_fuzz.py``), seeded with the same real shapes.

Sizes: ``VAULTS_FUZZ_EXAMPLES`` hypothesis examples per target (default 300 under
``make reliability``, 60 otherwise) and ``VAULTS_FUZZ_SECONDS`` of atheris per target (default 6,
two targets at a time). Inputs tried per target go to the report.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FUZZ_DIR = Path(__file__).resolve().parent / "fuzz"
sys.path.insert(0, str(FUZZ_DIR))

import fuzz_seeds as seeds  # noqa: E402
import fuzz_strategies as fs  # noqa: E402
import fuzz_targets as ft  # noqa: E402

from vaults.codes.extract import extract  # noqa: E402

SLOW_INPUT_S = 2.0
"""No single input may take longer than this (catastrophic regex backtracking is a hang)."""


def _examples(report: Any) -> int:
    configured = os.environ.get("VAULTS_FUZZ_EXAMPLES")
    if configured:
        return int(configured)
    return 300 if report.enabled else 60


def fuzz(
    report: Any,
    key: str,
    strategy: st.SearchStrategy[Any],
    check: Callable[[Any], None],
    *,
    examples: int | None = None,
    warm_up: Callable[[], None] | None = None,
) -> None:
    """Run ``check`` over ``strategy``; record the inputs tried (and a crash) for ``key``.

    ``warm_up`` runs first, untimed: what a target sets up once (servers, vaults, imports)
    is not one input's time."""
    if warm_up is not None:
        warm_up()
    tried = 0
    slowest = 0.0

    @settings(
        max_examples=examples or _examples(report),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def run(value: Any) -> None:
        nonlocal tried, slowest
        tried += 1
        started = time.perf_counter()
        check(value)
        took = time.perf_counter() - started
        slowest = max(slowest, took)
        assert took < SLOW_INPUT_S, f"one input took {took:.1f} s"

    failure: BaseException | None = None
    try:
        run()
    except BaseException as exc:
        failure = exc
    report.record(
        "parsers",
        ft.TARGETS[key].name,
        checked=tried,
        failures=1 if failure is not None else 0,
        detail="hypothesis: mutated real-shaped inputs"
        + (f"; crash: {type(failure).__name__}" if failure is not None else ""),
    )
    if failure is not None:
        raise failure


# -- hypothesis, one test per target -----------------------------------------------------------


def test_totp_secrets(reliability_report: Any) -> None:
    fuzz(reliability_report, "totp", fs.totp_secrets, ft.check_totp)


def test_keepass_totp_attributes(reliability_report: Any) -> None:
    fuzz(reliability_report, "keepass-totp", fs.keepass_attributes, ft.check_keepass_totp)


def test_references(reliability_report: Any) -> None:
    def warm_up() -> None:  # the three backends, their vaults and first lookups
        for scheme in ("bitwarden", "op", "keepass"):
            ft.check_reference(f"{scheme}://GitHub")

    fuzz(reliability_report, "references", fs.references, ft.check_reference, warm_up=warm_up)


_SERVE_BODIES = [body for _, body in seeds.bw_serve_envelopes()]


def test_bitwarden_serve_json(reliability_report: Any) -> None:
    bodies = st.one_of(fs.json_bytes(_SERVE_BODIES), fs.any_text.map(fs.encode))
    strategy = st.tuples(st.sampled_from([200, 400, 403, 404]), bodies, st.booleans())
    fuzz(reliability_report, "bitwarden-serve", strategy, lambda a: ft.check_bitwarden_serve(*a))


_BW_OUTPUTS = [
    seeds.bw_listing(),
    seeds.bw_item(),
    seeds.BW_STATUS,
    seeds.BW_ORGANIZATIONS,
    seeds.BW_COLLECTIONS,
]


def test_bitwarden_cli_output(reliability_report: Any) -> None:
    out = st.one_of(
        fs.json_bytes(_BW_OUTPUTS),
        fs.mutated_text([o for _, o, _ in seeds.bw_cli_outputs()]).map(fs.encode),
    )
    err = fs.mutated_text(seeds.BW_MESSAGES).map(fs.encode)
    strategy = st.tuples(st.sampled_from([0, 1, 2]), out, err, st.booleans())
    fuzz(reliability_report, "bitwarden-cli", strategy, lambda a: ft.check_bitwarden_cli(*a))


def test_connect_json(reliability_report: Any) -> None:
    def answers(doc: Any, depth: int) -> dict[str, ft.Answer]:
        return {
            route: (status, b"[" * depth + body + b"]" * depth)
            for route, (status, body) in ft.connect_answers(doc).items()
        }

    docs = st.builds(
        answers,
        fs.mutated_json(seeds.connect_documents(), max_edits=6),
        st.sampled_from([0] * 15 + [1500]),
    )
    fuzz(reliability_report, "connect", docs, ft.check_connect)


def test_op_cli_output(reliability_report: Any) -> None:
    out = st.one_of(
        fs.json_bytes([seeds.op_item(cli=True)], max_edits=6),
        fs.any_text.map(fs.encode),
    )
    err = fs.mutated_text(seeds.OP_ERRORS).map(fs.encode)
    strategy = st.tuples(st.sampled_from([0, 1, 2]), out, err)
    fuzz(reliability_report, "op-cli", strategy, lambda a: ft.check_op_cli(*a))


def test_message_extraction(reliability_report: Any) -> None:
    fuzz(reliability_report, "extract", fs.messages, ft.check_extract)


def test_raw_mail(reliability_report: Any) -> None:
    real = [m.decode("latin-1") for m in ft.mail_seeds()]
    strategy = fs.mutated_text(real, max_edits=8).map(lambda t: t.encode("utf-8", "surrogatepass"))
    fuzz(reliability_report, "mime", strategy, ft.check_mime, examples=None)


# Long runs of the characters the extraction patterns repeat on: quadratic (or worse)
# backtracking shows as seconds per message at the HTTP API's 64 KiB.
_PATHOLOGICAL = [
    "1", "1 ", "1-", "a1", "A-", " ", "\n", ".", "#", "@", "<", "<a ", "<p>", "&#", "%",
    "http://a.", "https://x.example/", "code ", "code: ", "+1 ", "(5", "://", "?t=", "&amp;",
]  # fmt: skip


@pytest.mark.parametrize("length", [4096, 65536])
def test_extraction_stays_fast_on_long_repetitive_messages(
    reliability_report: Any, length: int
) -> None:
    slow: list[str] = []
    tried = 0
    for unit in _PATHOLOGICAL:
        for tail in ("", " code 482913", "x"):
            text = (unit * (length // len(unit)))[: length - len(tail)] + tail
            started = time.perf_counter()
            ft.check_extract(text)
            tried += 1
            if time.perf_counter() - started > SLOW_INPUT_S:
                slow.append(repr(unit))
    reliability_report.record(
        "parsers",
        ft.TARGETS["extract"].name,
        checked=tried,
        failures=len(slow),
        detail="long repetitive messages up to 64 KiB, each under 2 s",
    )
    assert not slow, f"extraction took over {SLOW_INPUT_S} s on runs of {slow}"
    assert extract("Your code is 482913") is not None


def test_signature_verification(reliability_report: Any) -> None:
    bodies = st.one_of(
        st.sampled_from(seeds.SIGNED_BODIES),
        fs.json_bytes([{"timestamp": ft.AT, "task_id": "t"}, {"timestamp": int(ft.AT) - 299}]),
        st.binary(max_size=64),
    )
    strategy = st.tuples(bodies, st.booleans(), st.sampled_from([None, 300.0, 0.0]))
    fuzz(reliability_report, "signature", strategy, lambda a: ft.check_signature(*a))


def test_pull_endpoint_answers(reliability_report: Any) -> None:
    bodies = st.one_of(
        st.sampled_from([b for _, b in seeds.PULL_ANSWERS]),
        fs.json_bytes([{"verification_code": "482913"}, {"verification_code": 731946}]),
        fs.messages.map(lambda m: fs.dumps({"verification_code": m})),
    )
    strategy = st.tuples(st.sampled_from(ft.PULL_STATUSES), bodies)
    fuzz(reliability_report, "pull-answer", strategy, lambda a: ft.check_pull_answer(*a))


# -- atheris: coverage-guided, every target ------------------------------------------------------

_COUNT = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_PROGRESS = re.compile(r"^#(\d+)\s", re.MULTILINE)


@dataclass
class AtherisRun:
    key: str
    returncode: int
    inputs: int
    output: str


def _atheris(key: str, seconds: float, workdir: Path) -> AtherisRun:
    corpus = workdir / f"corpus-{key}"
    corpus.mkdir(parents=True)
    command = [
        sys.executable,
        str(FUZZ_DIR / "atheris_fuzz.py"),
        key,
        "--seeds-dir",
        str(workdir / f"seeds-{key}"),
        f"-max_total_time={seconds:g}",
        "-timeout=10",
        "-rss_limit_mb=2048",
        "-print_final_stats=1",
        f"-artifact_prefix={workdir}/crash-{key}-",
        str(corpus),
    ]
    proc = subprocess.run(
        command, capture_output=True, text=True, errors="replace", timeout=seconds + 120
    )
    output = proc.stderr + proc.stdout
    found = _COUNT.search(output)
    counts = [int(n) for n in _PROGRESS.findall(output)]
    inputs = int(found.group(1)) if found else max(counts, default=0)
    return AtherisRun(key, proc.returncode, inputs, output)


def test_atheris_coverage_guided(reliability_report: Any, tmp_path: Path) -> None:
    pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")
    seconds = float(os.environ.get("VAULTS_FUZZ_SECONDS", "6"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda key: _atheris(key, seconds, tmp_path), ft.TARGETS))
    crashed = []
    for run in runs:
        failed = run.returncode != 0
        reliability_report.record(
            "parsers",
            ft.TARGETS[run.key].name,
            checked=run.inputs,
            failures=1 if failed else 0,
            detail=f"atheris: coverage-guided, {seconds:g} s",
        )
        if failed:
            crashed.append(run)
    assert not crashed, "\n\n".join(
        f"atheris {run.key} (exit {run.returncode}):\n{run.output[-4000:]}" for run in crashed
    )
    assert all(run.inputs > 0 for run in runs), [(r.key, r.inputs) for r in runs]
