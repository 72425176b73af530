"""Real Chromium (Debian's /usr/bin/chromium) driven by Playwright, and the test website.

One browser per session, a fresh context (cookies, storage) per test. Without Chromium,
Playwright or npm (the widget pages are built from npm packages with esbuild) the browser
tests are skipped, unless VAULTS_REQUIRE_CHROMIUM=1 (CI), which turns the skip into a
failure. ``VAULTS_CHROMIUM`` points at another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.testsite import Website, build_widgets, widgets_built

CHROMIUM = os.environ.get("VAULTS_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking switches Chromium keeps calling home on a closed network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(what: str) -> None:
    if os.environ.get("VAULTS_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"VAULTS_REQUIRE_CHROMIUM=1 but {what}")
    pytest.skip(f"browser tests skipped: {what}")


def launch_options() -> dict[str, Any]:
    return {"executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install 'vaults[browser]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def site() -> Iterator[Website]:
    if not widgets_built():
        if shutil.which("npm") is None or shutil.which("node") is None:
            _missing("npm/node are needed to build the widget pages")
        build_widgets()
    with Website() as running:
        yield running


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def result(page: Any, timeout: float = 15.0) -> str:
    """The page's answer (``#result``, in any frame) once it is no longer pending."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        for frame in page.frames:
            try:
                el = frame.query_selector("#result")
                if el is not None and el.get_attribute("data-state") != "pending":
                    return str(el.inner_text())
            except Exception:  # a frame navigating away
                pass
        if time.monotonic() > deadline:
            return "pending"
        page.wait_for_timeout(25)
