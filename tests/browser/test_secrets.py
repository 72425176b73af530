"""Canaries: a password and a code typed by vaults.browser appear in no log record we write,
no repr, and no error — including errors from Playwright itself, whose messages quote the
values of the calls that failed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import SecretStr

from tests.browser.testsite import Website
from vaults.browser import fill_code, fill_login, find_code_inputs
from vaults.errors import CodeFieldNotFound, LoginFieldNotFound
from vaults.models import Credential
from vaults.testing.leaks import Exposure, assert_no_leak, error_texts, record_texts

PASSWORD = "canary-pw-5Qz8-browser"
CODE = "604417"
CRED = Credential(
    vault="memory", id="1", name="Acme", username="carol", password=SecretStr(PASSWORD)
)
SECRETS = {PASSWORD: "password", CODE: "code"}


def _answered(site: Website, sid: str, count: int) -> bool:
    return len(site.answers(sid)) >= count


def _goto_after_submit(page: Any, url: str, answered: Callable[[], bool]) -> None:
    """Open ``url`` once the previous form's submission has reached the server and its
    navigation has ended: a ``goto`` racing that navigation is interrupted by it."""
    deadline = time.monotonic() + 10
    while not answered() and time.monotonic() < deadline:
        page.wait_for_timeout(20)
    for attempt in range(3):
        page.wait_for_load_state()
        try:
            page.goto(url)
            return
        except Exception as exc:  # playwright's Error: "interrupted by another navigation"
            if "interrupted by another navigation" not in str(exc) or attempt == 2:
                raise


def test_no_secret_in_logs_reprs_or_errors(
    page: Any, site: Website, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    exposures: list[Exposure] = []
    sid = site.session(code=CODE, username="carol", password=PASSWORD)

    page.goto(site.page_url("login-single", sid))
    exposures.append(Exposure("LoginFilled", repr(fill_login(page, CRED, submit=True))))
    for done, name in enumerate(("six-auto", "single-otc", "paste-only", "single-paste-only")):
        _goto_after_submit(
            page, site.page_url(name, sid), lambda n=done + 1: _answered(site, sid, n)
        )
        exposures.append(Exposure(name, repr(fill_code(page, CODE, submit=True))))
    assert [ok for ok, _ in site.answers(sid)] == [True] * 5

    # no code field: the message lists the inputs seen, not what they hold
    page.set_content(
        f'<input name="note" value="{CODE}"><input type="password" value="{PASSWORD}">'
    )
    with pytest.raises(CodeFieldNotFound) as no_field:
        find_code_inputs(page)
    exposures += error_texts("CodeFieldNotFound", no_field.value)

    # the page disables the fields as they are typed into: Playwright times out, and its
    # message (which quotes the call, value included) must not reach the caller
    page.set_default_timeout(500)
    page.set_content(
        '<form><input name="username" autocomplete="username" oninput="pw.disabled = true">'
        '<input type="password" id="pw" name="pw"></form>'
    )
    with pytest.raises(LoginFieldNotFound, match="changed while it was filled") as gone:
        fill_login(page, CRED)
    exposures += error_texts("LoginFieldNotFound", gone.value)
    page.set_content(
        "<form><label for=c>Verification code</label><input id=c autocomplete=one-time-code "
        "onkeydown='event.preventDefault(); this.disabled = true'></form>"
    )
    with pytest.raises(CodeFieldNotFound, match="changed while the code was typed") as typed:
        fill_code(page, CODE)
    exposures += error_texts("CodeFieldNotFound (typing)", typed.value)

    exposures += record_texts(caplog.records)
    assert any(r.name == "vaults.browser" for r in caplog.records)  # it did log
    assert_no_leak(exposures, SECRETS)
