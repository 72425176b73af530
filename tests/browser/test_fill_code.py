"""fill_code / find_code_inputs in real Chromium, on every code page of the test site.

Each page's server checks what the page itself holds (a widget's own state, the boxes'
values) against the code it expects, and that nothing was typed where it must not be
(honeypot, phone, postcode, card, CAPTCHA fields): the tests assert "accepted", once.
"""

from __future__ import annotations

import html
import time
from typing import Any

import pytest

from tests.browser.conftest import result
from tests.browser.testsite import CODE_PAGE, CODE_PAGES, Website
from vaults.browser import fill_code, find_code_inputs
from vaults.errors import CodeFieldNotFound, InvalidInput, NoCode, TotpExpired, VaultsError
from vaults.models import Credential, TotpCode
from vaults.totp import CodeLease


def open_page(page: Any, site: Website, name: str, code: str) -> str:
    sid = site.session(code=code)
    page.goto(site.page_url(name, sid))
    return sid


@pytest.mark.parametrize("spec", CODE_PAGES, ids=[p.name for p in CODE_PAGES])
def test_every_page_accepts_the_code(page: Any, site: Website, spec: Any) -> None:
    code = spec.new_code()
    sid = open_page(page, site, spec.name, code)
    found = fill_code(page, code, submit=True)
    assert found.kind == spec.layout
    if spec.layout == "split":
        assert found.count == spec.length
    assert result(page) == "accepted"
    assert site.answers(sid) == [(True, "ok")]  # submitted exactly once


def box_ids(inputs: Any) -> list[str]:
    return [box.evaluate("e => e.id") for box in inputs.boxes]


def test_find_reports_layout_in_visual_order(page: Any, site: Website) -> None:
    open_page(page, site, "three-three", "123456")
    found = find_code_inputs(page)
    assert (found.kind, found.count, found.accepts_letters) == ("split", 6, False)
    assert box_ids(found) == [f"b{i}" for i in range(6)]
    assert "count=6" in repr(found)


def test_visual_order_is_not_document_order(page: Any, site: Website) -> None:
    page.set_content(
        """<form><label>Verification code</label>
        <div style="display:flex; flex-direction:row-reverse; gap:6px; width:300px">"""
        + "".join(
            f'<input id="r{i}" maxlength="1" inputmode="numeric" style="width:30px">'
            for i in range(6)
        )
        + "</div></form>"
    )
    found = find_code_inputs(page)
    assert box_ids(found) == [f"r{i}" for i in reversed(range(6))]


def test_letters_are_reported(page: Any, site: Website) -> None:
    open_page(page, site, "alnum-boxes", "AB12CD")
    assert find_code_inputs(page).accepts_letters is True
    open_page(page, site, "single-otc", "123456")
    assert find_code_inputs(page).accepts_letters is False


def test_submit_false_types_without_submitting(page: Any, site: Website) -> None:
    sid = open_page(page, site, "six-auto", "482913")
    found = fill_code(page, "482 913")  # spaces and dashes in a code are not typed
    assert [b.input_value() for b in found.boxes] == list("482913")
    page.wait_for_timeout(100)
    assert site.answers(sid) == []
    page.click("button[type=submit]")
    assert result(page) == "accepted"


def test_retries_by_paste_when_boxes_refuse_typing(page: Any, site: Website) -> None:
    open_page(page, site, "paste-only", "590231")
    assert fill_code(page, "590231", submit=True).method == "paste"
    assert result(page) == "accepted"


def test_retries_by_fill_when_a_field_refuses_keys(page: Any, site: Website) -> None:
    open_page(page, site, "single-paste-only", "590231")
    assert fill_code(page, "590231", submit=True).method == "fill"
    assert result(page) == "accepted"


def test_typed_with_keys_where_the_page_takes_them(page: Any, site: Website) -> None:
    open_page(page, site, "react-otp-input", "111111")
    assert fill_code(page, "111111", submit=True).method == "keys"
    assert result(page) == "accepted"


def test_replaces_what_the_boxes_held(page: Any, site: Website) -> None:
    open_page(page, site, "six-auto", "246810")
    page.evaluate("() => document.querySelectorAll('.boxes input').forEach(b => b.value = '9')")
    fill_code(page, "246810", submit=True)
    assert result(page) == "accepted"


def test_in_a_frame_passed_directly(page: Any, site: Website) -> None:
    open_page(page, site, "iframe-single", "135790")
    page.wait_for_selector("iframe")
    inner = next(f for f in page.frames if f.url.split("?")[0].endswith("/iframe-inner"))
    inner.wait_for_selector("#code")
    found = fill_code(inner, "135790", submit=True)
    assert found.frame_url.endswith("/p/iframe-inner")
    assert result(page) == "accepted"


def test_cross_origin_frames_are_not_searched(page: Any, site: Website) -> None:
    other = site.origin.replace("127.0.0.1", "localhost")  # another origin, same server
    page.goto(site.page_url("single-otc", site.session(code="1")))
    page.set_content(f'<h1>Pay</h1><iframe src="{other}/p/iframe-inner?sid=x"></iframe>')
    page.wait_for_selector("iframe")
    page.frames[-1].wait_for_selector("#code")
    with pytest.raises(CodeFieldNotFound):
        find_code_inputs(page)


def test_waits_for_a_late_field(page: Any, site: Website) -> None:
    page.goto(site.page_url("late-render", site.session(code="777123")) + "&hold=1")
    with pytest.raises(CodeFieldNotFound):
        find_code_inputs(page)  # timeout 0: one look, before it renders
    page.evaluate("setTimeout(release, 300)")
    assert fill_code(page, "777123", submit=True, timeout=5).kind == "single"
    assert result(page) == "accepted"


def test_no_code_field_names_what_it_saw(page: Any, site: Website) -> None:
    page.goto(site.page_url("login-single", site.session()))
    start = time.monotonic()
    with pytest.raises(CodeFieldNotFound) as caught:
        fill_code(page, "123456", timeout=0.3)
    assert time.monotonic() - start < 5
    message = str(caught.value)
    assert "no one-time code field on http://127.0.0.1:" in message
    assert "/p/login-single within 0.3 s" in message
    assert "sid=" not in message  # no query string: it may hold tokens
    assert 'password "password"' in message
    assert isinstance(caught.value, VaultsError)
    assert caught.value.exit_code == 1


def test_distractor_fields_alone_are_not_code_fields(page: Any) -> None:
    page.set_content(
        """<form>
        <input name="phone" type="tel" maxlength="10" inputmode="numeric">
        <input name="zip" placeholder="ZIP code" maxlength="5" inputmode="numeric">
        <input name="cvc" autocomplete="cc-csc" maxlength="4">
        <input name="captcha" placeholder="Enter the characters you see" maxlength="6">
        <input name="promo_code" placeholder="Promo code" maxlength="8">
        <input type="hidden" name="otp" value="">
        <input name="otp_old" autocomplete="one-time-code" disabled>
        </form>"""
    )
    with pytest.raises(CodeFieldNotFound) as caught:
        find_code_inputs(page)
    message = str(caught.value)
    for why in ("phone number", "postcode", "cc-csc", "captcha", "not a login code", "disabled"):
        assert why in message


def test_box_count_must_match_the_code(page: Any, site: Website) -> None:
    open_page(page, site, "four-boxes", "1234")
    with pytest.raises(CodeFieldNotFound, match="has 4 boxes; the code has 6 characters"):
        fill_code(page, "123456", timeout=0)


def test_bad_codes_are_refused_before_typing(page: Any) -> None:
    for bad in ("", "1" * 33, "12<34>", "١٢٣٤٥٦"):
        with pytest.raises(InvalidInput):
            fill_code(page, bad, timeout=0)


class CountingClock:
    def __init__(self, times: list[float]) -> None:
        self.times = times
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return self.times[min(self.calls - 1, len(self.times) - 1)]


def test_lease_is_taken_once_for_all_boxes(page: Any, site: Website) -> None:
    code = TotpCode(code="864209", valid_from=0, valid_until=30, period=30, digits=6)
    clock = CountingClock([29.9, 31.0, 31.0])  # the window ends right after the first read
    lease = CodeLease(code, clock=clock)
    open_page(page, site, "chakra-pin", "864209")
    fill_code(page, lease, submit=True)
    assert clock.calls == 1
    assert result(page) == "accepted"


def test_expired_lease_types_nothing(page: Any, site: Website) -> None:
    code = TotpCode(code="864209", valid_from=0, valid_until=30, period=30, digits=6)
    sid = open_page(page, site, "six-auto", "864209")
    with pytest.raises(TotpExpired):
        fill_code(page, CodeLease(code, clock=lambda: 30.0))
    assert page.input_value("#b0") == ""
    assert site.answers(sid) == []


def test_credential_and_totp_code(page: Any, site: Website) -> None:
    now = int(time.time())
    totp = TotpCode(code="302118", valid_from=now - 1, valid_until=now + 60, period=60, digits=6)
    cred = Credential(vault="memory", id="1", name="Acme", totp=totp)
    open_page(page, site, "antd-otp", "302118")
    fill_code(page, cred, submit=True)
    assert result(page) == "accepted"
    open_page(page, site, "vue-boxes", "302118")
    fill_code(page, totp, submit=True)
    assert result(page) == "accepted"
    with pytest.raises(NoCode, match="'Acme' \\(memory\\) has no one-time code"):
        fill_code(page, Credential(vault="memory", id="1", name="Acme"), timeout=0)


def test_eight_digit_code_on_eight_boxes_and_not_on_six(page: Any, site: Website) -> None:
    spec = CODE_PAGE["eight-boxes"]
    code = spec.new_code()
    open_page(page, site, "eight-boxes", code)
    assert fill_code(page, code, submit=True).count == 8
    assert result(page) == "accepted"


def test_code_words_of_the_extractor_name_code_fields(page: Any) -> None:
    # "পাসকোড" (Bengali: passcode) is only in the code extractor's rules (vaults/codes/rules)
    page.set_content('<form><label for="x">পাসকোড</label><input id="x" name="f1"></form>')
    found = find_code_inputs(page)
    assert found.kind == "single"
    assert found.boxes[0].evaluate("e => e.id") == "x"


def test_a_password_field_is_not_a_code_field_in_any_language(page: Any) -> None:
    # "รหัส" is a code in Thai, "รหัสผ่าน" a password; "κωδικός πρόσβασης" likewise in Greek
    page.set_content(
        """<form><label for="u">ชื่อผู้ใช้</label><input id="u" name="u">
        <label for="p">รหัสผ่าน</label><input id="p" type="password" name="p">
        <label for="g">Κωδικός πρόσβασης</label><input id="g" type="password" name="g"></form>"""
    )
    with pytest.raises(CodeFieldNotFound):
        find_code_inputs(page)


BUTTON_FORM = """<label for=c>Verification code</label>
<input id=c autocomplete=one-time-code inputmode=numeric maxlength=6>
<div style="height: 900px"></div>
<button type=button id=go
  onclick="window.top.clicks.push([event.isTrusted, document.getElementById('c').value])">
  Verify</button>"""


def test_submit_button_in_a_scrolled_frame_gets_one_real_click(page: Any) -> None:
    # no form: the button is found by its words and clicked with the mouse at its centre,
    # through the frame's position, border and padding, once both are scrolled into view
    page.set_content(
        '<script>window.clicks = []</script><div style="height: 700px"></div>'
        '<iframe style="margin-left: 37px; border: 20px solid; padding: 30px 40px" width="420" '
        f'height="260" srcdoc="{html.escape(BUTTON_FORM)}"></iframe>'
    )
    page.frames[-1].wait_for_selector("#go")
    found = fill_code(page, "482913", submit=True)
    assert found.frame_url == "about:srcdoc"
    assert page.evaluate("window.clicks") == [[True, "482913"]]


def test_a_covered_submit_button_is_not_clicked_through_the_cover(page: Any) -> None:
    # a banner lies over the button: the mouse would hit the banner, so Playwright's own click
    # (which waits for the button to receive events) is used; the banner goes after 300 ms
    page.set_content(
        "<script>window.clicks = []</script>"
        + BUTTON_FORM.replace("900px", "10px")
        + '<div id=cover style="position: fixed; inset: 0; background: #fff8"></div>'
        "<script>setTimeout(() => cover.remove(), 300)</script>"
    )
    fill_code(page, "482913", submit=True)
    assert page.evaluate("window.clicks") == [[True, "482913"]]
