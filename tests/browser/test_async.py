"""The async twins (afind_code_inputs, afill_code, afill_login) on Playwright's async API:
the same plans as the sync functions, driven by awaiting each call."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import SecretStr

from tests.browser.conftest import launch_options
from tests.browser.testsite import Website
from vaults.browser import afill_code, afill_login, afind_code_inputs
from vaults.errors import CodeFieldNotFound
from vaults.models import Credential

RESULT = "document.querySelector('#result').dataset.state !== 'pending'"


@pytest.mark.slow
def test_async_twins(chromium: object, site: Website) -> None:
    from playwright.async_api import async_playwright

    cred = Credential(
        vault="memory", id="1", name="Acme", username="bob", password=SecretStr("pw-async")
    )

    async def main() -> None:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(**launch_options())
            try:
                page = await browser.new_page()
                sid = site.session(code="908172", username="bob", password="pw-async")
                await page.goto(site.page_url("input-otp", sid))
                found = await afind_code_inputs(page, length=6, timeout=5)
                assert (found.kind, found.count, found.accepts_letters) == ("single", 1, False)
                assert (await afill_code(page, "908172", submit=True)).method == "keys"
                await page.wait_for_function(RESULT)
                assert await page.inner_text("#result") == "accepted"

                await page.goto(site.page_url("paste-only", sid))
                assert (await afill_code(page, "908172", submit=True)).method == "paste"
                await page.wait_for_function(RESULT)

                await page.goto(site.page_url("login-two-step", sid))
                assert (await afill_login(page, cred, submit=True)).step == "username"
                assert (await afill_login(page, cred, submit=True)).step == "password"
                assert "accepted" in await page.inner_text("#result")

                with pytest.raises(CodeFieldNotFound):
                    await afill_code(page, "908172", timeout=0)
                assert site.answers(sid) == [(True, "ok")] * 4
            finally:
                await browser.close()

    # the session's sync Playwright owns this thread's event loop: run in a thread of its own
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, main()).result(timeout=120)
