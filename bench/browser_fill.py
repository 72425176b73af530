"""``fill_code`` in headless Chromium: time per form and success over every test page.

Each run opens the page (not timed), then times one ``fill_code(page, code, submit=True)``
call — finding the entry (all same-origin frames), typing, reading back, the retry where the
page needs one, and submitting — and then waits for the page's server to answer (not timed):
a run succeeds when the server accepted the code. The pages are tests/browser's: five built
from real widget libraries (npm, esbuild) and the hand-written layouts.

Targets: median ≤ 150 ms per form for every page, 100 % accepted. The machine's load
average is printed with the table, and each page's median no-op ``page.evaluate`` round
trip measured in the same runs: on a shared CPU the figures move with the load, the ratio
of the two much less. "Of which key events" is the median time spent inside Playwright's
``keyboard.type`` (the browser dispatching the keys and the page's own handlers running):
on widgets that re-render on every key it is most of the total.

Usage: python bench/browser_fill.py [--runs 7] [--json PATH]
Needs Debian's Chromium (/usr/bin/chromium, or VAULTS_CHROMIUM) and node/npm for the widgets.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM, launch_options  # noqa: E402
from tests.browser.testsite import (  # noqa: E402
    CODE_PAGES,
    PageSpec,
    Website,
    build_widgets,
    widgets_built,
)
from vaults.browser import fill_code  # noqa: E402

TARGET_MS = 150.0
LIBRARY = {
    "input-otp": "input-otp (shadcn/ui)",
    "chakra-pin": "Chakra UI PinInput",
    "antd-otp": "Ant Design Input.OTP",
    "react-otp-input": "react-otp-input",
    "vue-boxes": "Vue 3 controlled boxes",
}


@dataclass
class Row:
    page: str
    layout: str
    runs: int
    accepted: int
    median_ms: float
    max_ms: float
    method: str
    rtt_ms: float
    """Median of a no-op ``page.evaluate`` round trip measured around the fills."""
    keys_ms: float
    """Median time inside Playwright's ``keyboard.type`` during the fills: the browser
    dispatching the key events and the page's own handlers (a widget re-rendering on each
    key), which fill_code waits for but does not run."""


def answered(page: Any, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                el = frame.query_selector("#result")
                if el is not None and el.get_attribute("data-state") != "pending":
                    return str(el.get_attribute("data-state"))
            except Exception:  # a frame navigating
                pass
        page.wait_for_timeout(10)
    return "pending"


class TimedKeys:
    """Wraps a page's ``keyboard.type`` (the object fill_code types with) and adds up the
    time spent in it."""

    def __init__(self, page: Any) -> None:
        self.spent = 0.0
        keyboard = page.keyboard
        real = keyboard.type

        def timed(*args: Any, **kwargs: Any) -> Any:
            tick = time.perf_counter()
            try:
                return real(*args, **kwargs)
            finally:
                self.spent += time.perf_counter() - tick

        keyboard.type = timed


def bench_page(browser: Any, site: Website, spec: PageSpec, runs: int) -> Row:
    times: list[float] = []
    rtts: list[float] = []
    keys: list[float] = []
    methods: set[str] = set()
    accepted = 0
    context = browser.new_context()
    try:
        page = context.new_page()
        typing = TimedKeys(page)
        for _ in range(runs):
            code = spec.new_code()
            sid = site.session(code=code)
            page.goto(site.page_url(spec.name, sid))
            page.wait_for_load_state("load")
            if spec.name == "late-render":  # its form renders 400 ms after load
                page.wait_for_selector("#c")
            elif spec.name == "iframe-single":
                page.frames[-1].wait_for_selector("#code")
            elif spec.widget:
                page.wait_for_selector("input")
            for _ in range(3):
                tick = time.perf_counter()
                page.evaluate("1")
                rtts.append((time.perf_counter() - tick) * 1000)
            typing.spent = 0.0
            start = time.perf_counter()
            try:
                found = fill_code(page, code, submit=True, timeout=5)
                methods.add(found.method or "?")
            except Exception as exc:  # counted as a failure, reported
                print(f"{spec.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                continue
            times.append((time.perf_counter() - start) * 1000)
            keys.append(typing.spent * 1000)
            if answered(page) == "accepted" and site.answers(sid) == [(True, "ok")]:
                accepted += 1
    finally:
        context.close()
    layout = f"{LIBRARY.get(spec.name, 'hand-written')}, {spec.layout}"
    if spec.layout == "split":
        layout += f" ×{spec.length}"
    return Row(
        page=spec.name,
        layout=layout,
        runs=runs,
        accepted=accepted,
        median_ms=statistics.median(times) if times else float("nan"),
        max_ms=max(times) if times else float("nan"),
        method="/".join(sorted(methods)),
        rtt_ms=statistics.median(rtts) if rtts else float("nan"),
        keys_ms=statistics.median(keys) if keys else float("nan"),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    if not widgets_built():
        build_widgets()
    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    with Website() as site, sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        try:
            # warm-up: the first page of a fresh browser pays for its own start-up
            bench_page(browser, site, CODE_PAGES[0], 2)
            rows = [bench_page(browser, site, spec, args.runs) for spec in CODE_PAGES]
        finally:
            browser.close()
    load_after = os.getloadavg()[0]

    total = sum(r.runs for r in rows)
    ok = sum(r.accepted for r in rows)
    medians = [r.median_ms for r in rows]
    print(
        f"`fill_code(page, code, submit=True)` in headless Chromium, {args.runs} runs per page; "
        f"1-minute load average {load_before:.1f} before, {load_after:.1f} after "
        f"({os.cpu_count()} CPUs)."
    )
    print()
    print(
        "| page | widget, layout | median ms | max ms | accepted | typed by "
        "| of which key events ms | no-op round trip ms | median ÷ round trip |"
    )
    print("|---|---|---:|---:|---:|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r.page} | {r.layout} | {r.median_ms:.0f} | {r.max_ms:.0f} | "
            f"{r.accepted}/{r.runs} | {r.method} | {r.keys_ms:.0f} | {r.rtt_ms:.1f} | "
            f"{r.median_ms / r.rtt_ms:.0f} |"
        )
    print()
    slow = [r.page for r in rows if not r.median_ms <= TARGET_MS]
    print(
        f"**{len(rows)} pages: {ok}/{total} forms accepted ({100 * ok / total:.1f} %, target "
        f"100 %); median of the per-page medians {statistics.median(medians):.0f} ms, slowest "
        f"page median {max(medians):.0f} ms (target ≤ {TARGET_MS:.0f} ms per form)"
        + (f"; over target: {', '.join(slow)}" if slow else "")
        + "**"
    )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1), encoding="utf-8")
    return 0 if ok == total and not slow else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
