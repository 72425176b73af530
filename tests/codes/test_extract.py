"""vaults.codes.extract: one test group per rule, the corpus targets, properties and speed."""

from __future__ import annotations

import html
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from vaults.codes._html import html_to_text, looks_like_html
from vaults.codes._text import normalize
from vaults.codes.extract import ExtractedCode, extract

CORPUS = Path(__file__).with_name("corpus.jsonl")
PRECISION_TARGET = 1.0
RECALL_TARGET = 0.97


def code_of(content: str) -> str | None:
    """The extracted one-time code, asserting it is a code and not a link."""
    result = extract(content)
    if result is None:
        return None
    assert result.otp_type == "totp", result
    return result.value


def link_of(content: str) -> str | None:
    result = extract(content)
    if result is None:
        return None
    assert result.otp_type == "magic_link", result
    return result.value


# --------------------------------------------------------------------------- model


def test_model_is_frozen_and_typed() -> None:
    found = ExtractedCode(otp_type="totp", value="482913")
    assert found.origin is None
    with pytest.raises(ValidationError):
        setattr(found, "value", "000000")
    with pytest.raises(ValidationError):
        ExtractedCode(otp_type="sms", value="1")  # type: ignore[arg-type]
    assert ExtractedCode(otp_type="totp", value="482913") == found


def test_model_repr_does_not_show_the_code() -> None:
    found = extract("Your verification code is 482913.")
    assert found is not None
    assert "482913" not in repr(found)
    assert "482913" not in str(found)


# --------------------------------------------------------------------------- short content


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("482913", "482913"),
        ("004271", "004271"),
        ("0713", "0713"),
        ("90817264", "90817264"),
        ("584 302", "584302"),
        ("482-913", "482913"),
        ("G-482913", "482913"),
        ("K7Q2ZP", "K7Q2ZP"),
        ("ab12cd", "ab12cd"),
        ("  \n 918273 \n", "918273"),
        ("#5821", "5821"),
        ("４８２９１３", "482913"),
        ("OTP: 4821", "4821"),
    ],
)
def test_short_content_is_the_code_itself(content: str, expected: str) -> None:
    assert code_of(content) == expected


@pytest.mark.parametrize(
    "content", ["", "   ", "Thanks!", "STOP", "Yes", "12:30", "$45.00", "123", "SUMMER", "ok ok"]
)
def test_short_content_that_is_no_code(content: str) -> None:
    assert extract(content) is None


def test_short_url_is_a_magic_link() -> None:
    assert link_of("https://a.co/m") == "https://a.co/m"


# --------------------------------------------------------------------------- code shapes


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Your Coinbase verification code is: 773 091. Don't share it.", "773091"),
        ("Your WhatsApp code: 584-302. Don't share this code.", "584302"),
        ("Chase: Your one-time code is 71 23 45. It expires in 10 min.", "712345"),
        ("Your Binance verification code: 4829 1730. Valid for 5 minutes.", "48291730"),
        ("Your sign-in code is 4 8 2 9 1 3", "482913"),
    ],
)
def test_codes_with_spaces_or_dashes_inside(content: str, expected: str) -> None:
    assert code_of(content) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("G-482913 is your Google verification code.", "482913"),
        ("FB-73921 is your Facebook confirmation code", "73921"),
    ],
)
def test_prefixed_codes_lose_their_prefix(content: str, expected: str) -> None:
    assert code_of(content) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("Your Lyft code is 3815. Happy riding!", "3815"),
        ("Telegram code: 48291", "48291"),
        ("Your verification code is 881240.", "881240"),
        ("Use 4829173 as Microsoft account security code", "4829173"),
        ("Your Apple ID Code is: 73920184. Don't share it.", "73920184"),
        ("Your code is K7Q2ZP", "K7Q2ZP"),
        ("Your Epic Games security code is AB3X9Q. It expires in 30 minutes.", "AB3X9Q"),
        ("Your confirmation code is XK7-Q2P", "XK7Q2P"),
    ],
)
def test_four_to_eight_digits_and_alphanumeric(content: str, expected: str) -> None:
    assert code_of(content) == expected


@pytest.mark.parametrize(
    "content",
    [
        "Your code is 123.",
        "Your code is 12345678901.",
        "Your code is SUMMER.",
        "Your code is 1234567890123.",
    ],
)
def test_too_short_too_long_or_a_word_is_no_code(content: str) -> None:
    assert extract(content) is None


@pytest.mark.parametrize("value", ["004213", "0092", "00000042"])
def test_leading_zeros_are_kept(value: str) -> None:
    assert code_of(f"Your verification code is {value}. Don't share it.") == value


# --------------------------------------------------------------------------- HTML


def _page(body: str, head: str = "") -> str:
    return f"<!DOCTYPE html><html><head><title>Acme</title>{head}</head><body>{body}</body></html>"


def test_html_tags_are_stripped() -> None:
    content = _page(
        "<table><tr><td><p>Your verification code:</p></td></tr>"
        '<tr><td style="font-size:32px"><span>482</span><span>913</span></td></tr></table>'
    )
    assert code_of(content) == "482913"


def test_html_scripts_and_styles_are_ignored() -> None:
    head = "<style>.code{color:#482913} /* code 111111 */</style>"
    only_script = _page("<script>var code = 111111; // Your code is 111111</script><p>Hi</p>", head)
    assert extract(only_script) is None
    both = _page("<script>var code = 111111;</script><p>Your login code is <b>730291</b></p>", head)
    assert code_of(both) == "730291"


def test_html_entities_are_decoded() -> None:
    content = _page(
        "<p>Tu c&oacute;digo de verificaci&oacute;n es&nbsp;<b>&#51;&#56;&#49;&#8209;204</b></p>"
    )
    assert code_of(content) == "381204"


def test_html_visible_code_wins_over_hidden_text() -> None:
    content = _page(
        '<div style="display:none;max-height:0;overflow:hidden">Your code is 111111</div>'
        "<p>Your code is</p><h2>615207</h2>"
    )
    assert code_of(content) == "615207"


def test_html_hidden_preheader_is_a_fallback() -> None:
    content = _page(
        '<div style="display:none">Your Acme code is 820114</div>'
        '<p><img src="https://acme.com/code.png" alt=""></p>'
    )
    assert code_of(content) == "820114"


def test_html_digit_per_cell_layout() -> None:
    cells = "".join(f'<td style="border:1px solid">{d}</td>' for d in "073915")
    content = _page(f"<p>Your sign-in code:</p><table><tr>{cells}</tr></table>")
    assert code_of(content) == "073915"


# --------------------------------------------------------------------------- languages


@pytest.mark.parametrize(
    ("lang", "content", "expected"),
    [
        ("es", "BBVA: Tu código de verificación es 381204. No lo compartas.", "381204"),
        ("es", "048213 es tu código de WhatsApp.", "048213"),
        ("de", "Dein Bestätigungscode für Kleinanzeigen: 629104.", "629104"),
        ("de", "Ihr Code lautet 3381. Er ist 10 Minuten gültig.", "3381"),
        ("de", "Ihre mTAN für die Überweisung von 89,90 EUR lautet 771920.", "771920"),
        ("fr", "Votre code de vérification est : 947210.", "947210"),
        ("fr", "Votre mot de passe à usage unique : 48291730", "48291730"),
        ("pt", "Nubank: Seu código de acesso é 492 817. Não compartilhe.", "492817"),
        ("pt", "Itau: sua senha temporaria e 7730.", "7730"),
        ("ru", "Код подтверждения: 5821. Никому не сообщайте его.", "5821"),
        ("ru", "Ваш код для входа в Telegram: 48291.", "48291"),
        ("zh", "【淘宝】验证码482913，您正在登录，请勿泄露。", "482913"),
        ("zh", "【微信】482019是你的验证码，5分钟内有效。", "482019"),
        ("ja", "【Amazon】認証コード：482913 このコードは10分間有効です。", "482913"),
        ("ja", "確認コードは 0582 です。", "0582"),
        ("ko", "[카카오] 인증번호 [482913]를 입력해 주세요.", "482913"),
        ("ko", "[토스] 인증번호는 739201입니다.", "739201"),
    ],
)
def test_non_english_keywords(lang: str, content: str, expected: str) -> None:
    assert code_of(content) == expected, lang


# --------------------------------------------------------------------------- distractors

DISTRACTORS: dict[str, list[str]] = {
    "phone": [
        "Questions? Call us at 555-201-3344 or +1 (415) 555 0134.",
        "Verification code sent to +49 30 1234567.",
        "Kundenservice: 0800 123 4567",
    ],
    "date": [
        "Your code was sent on 12/05/2025.",
        "Verification code requested 2025-05-12.",
        "Code angefordert am 12.05.2025",
    ],
    "time": ["Your code expires at 14:30.", "Code requested at 09:45:12 UTC."],
    "amount": [
        "Your code for the payment of $4829 is on its way.",
        "Code for a payment of EUR 1.250,00 requested.",
        "Approve the 4829 USD transfer with your code.",
    ],
    "order": [
        "Order #482913 confirmed. Use your code at pickup.",
        "Your code for order 482913 will follow.",
        "Your Amazon order #112-4829131-5551234 has shipped.",
    ],
    "card": [
        "Your code for the card ending in 4242 will follow.",
        "Code requested for card ****4242.",
        "Visa •••• 4242 charged.",
    ],
    "zip": ["Your ZIP code 94105 has been updated.", "Acme Inc., San Francisco, CA 94105"],
    "expiry": ["Your code expires in 10 minutes.", "Your code is valid for 1440 minutes."],
    "year": ["Verification code system launched in 2024.", "© 2025 Acme Inc. Code of conduct."],
    "reference": [
        "Your code request (reference 55821) was received.",
        "Ticket #48213: code reset requested.",
        "Transaction ID: 77123. Your code will follow.",
    ],
    "account": [
        "Your code for the transfer to DE89 3704 0044 0532 0130 00 will follow.",
        "Reminder: your bill is due. Account 98127733. Your code will follow.",
    ],
    "promo": ["Use promo code SAVE20 for 20% off.", "Your invite code is K7Q2ZP."],
}


@pytest.mark.parametrize(
    "content", [c for group in DISTRACTORS.values() for c in group], ids=lambda c: c[:40]
)
def test_distractor_alone_is_no_code(content: str) -> None:
    assert extract(content) is None


@pytest.mark.parametrize(
    "distractor", [c for group in DISTRACTORS.values() for c in group], ids=lambda c: c[:40]
)
def test_distractor_next_to_a_code_does_not_win(distractor: str) -> None:
    assert code_of(f"Your verification code is 630518. {distractor}") == "630518"
    assert code_of(f"{distractor}\n\nYour verification code is 630518.") == "630518"


@pytest.mark.parametrize(
    "content",
    [
        "Your new PIN must have 4 to 8 digits and can't be 1234 or 0000.",
        "Example: your code looks like 123456.",
    ],
)
def test_placeholder_numbers_are_not_codes(content: str) -> None:
    assert extract(content) is None


@pytest.mark.parametrize(
    "content",
    [
        "Código de recarga promocional: RECARGA50",
        "Your gift card redemption code is 7XQ29K.",
        "【菜鸟驿站】取件码 4021，请及时取件。",
        "DevConf 2025 at the venue: your registration is confirmed. Registration code: DC25-4812",
    ],
)
def test_codes_that_are_not_login_codes(content: str) -> None:
    assert extract(content) is None


def test_currency_after_an_amount_does_not_label_the_next_number() -> None:
    content = "Ihr Freigabecode für die Zahlung an Amazon über 49,99 EUR: 730 219"
    assert code_of(content) == "730219"


def test_a_code_a_sentence_away_must_stand_on_its_own_line() -> None:
    displayed = "Here's your verification code. It's valid for 20 minutes.\n\n  518204\n"
    assert code_of(displayed) == "518204"
    in_prose = "Never share your PIN. Our branch 4821 opens on Monday."
    assert extract(in_prose) is None


def test_sms_with_every_kind_of_distractor() -> None:
    content = (
        "OTP for txn of INR 5,499.00 at AMAZON on card XX4242 is 382914. Valid till 14:32 "
        "on 12/05/2025. Order #55821. Call 1800-123-4567. Expires in 10 minutes."
    )
    assert code_of(content) == "382914"


# --------------------------------------------------------------------------- origin-bound


def test_origin_bound_line_wins_and_records_origin() -> None:
    found = extract("Your previous code 111111 was cancelled.\n\n@bank.example.com #482913")
    assert found == ExtractedCode(
        otp_type="totp", value="482913", origin="https://bank.example.com"
    )


def test_origin_bound_embedded_origin_keeps_top_level() -> None:
    found = extract("747723 is your Pay code.\n\n@pay.example #747723 @shop.example")
    assert found is not None
    assert (found.value, found.origin) == ("747723", "https://pay.example")


def test_origin_bound_trailing_text_and_newline_are_tolerated() -> None:
    found = extract("Acme code 550213\n@Acme.Example #550213 $future\n")
    assert found is not None
    assert (found.value, found.origin) == ("550213", "https://acme.example")


def test_origin_bound_unicode_host_is_punycode() -> None:
    found = extract("Your code is 1234.\n@bücher.example #1234")
    assert found is not None
    assert found.origin == "https://xn--bcher-kva.example"


@pytest.mark.parametrize(
    "content",
    [
        "Your code is 402918.\n\n@ #402918",
        "Your code is 402918.\n\n@exa mple.com #402918",
        "Your code is 402918.\n\n@example.com  #402918",
        "Your code is 402918.\n\n@-bad-.com #402918",
    ],
)
def test_malformed_origin_line_falls_back_to_the_text(content: str) -> None:
    found = extract(content)
    assert found is not None
    assert (found.value, found.origin) == ("402918", None)


def test_origin_line_must_be_the_last_line() -> None:
    assert extract("@example.com #123456\nThanks for using Example!") is None


# --------------------------------------------------------------------------- magic links

MAGIC = "https://acme.com/auth/magic?token=Zx8kLm2Pq9Rt4VwY5sTu"


def test_message_that_is_only_a_url_is_a_magic_link() -> None:
    assert link_of(f"  {MAGIC}\n") == MAGIC


def test_html_sign_in_link_among_unsubscribe_and_privacy_links() -> None:
    href = "https://app.example.com/login/callback?token=8f2c9a71b4e05d3c6a1f&amp;next=%2F"
    content = _page(
        "<p>Click the button below to sign in. The link expires in 15 minutes.</p>"
        '<a href="https://example.com/unsubscribe?u=a1b2c3d4e5f6g7h8i9j0">Unsubscribe</a>'
        f'<a href="{href}">Sign in to Example</a>'
        '<a href="https://example.com/privacy">Privacy</a>'
    )
    assert link_of(content) == html.unescape(href)


def test_tracking_href_with_sign_in_anchor_words() -> None:
    href = "https://click.mail.acme.com/ls/click?upn=Qm9X2kLp8vZ3rT7wY1sN5bH4"
    content = _page(f'<p>Here is the link you asked for.</p><a href="{href}">Log in to Acme</a>')
    assert link_of(content) == href


def test_plain_text_sign_in_link() -> None:
    content = (
        f"Hi,\n\nClick the link below to sign in:\n\n{MAGIC}\n\nThis link expires in 15 minutes."
        "\n\nUnsubscribe: https://acme.com/unsubscribe?u=8812&t=a1b2c3d4e5f6g7h8i9"
    )
    assert link_of(content) == MAGIC


@pytest.mark.parametrize(
    "content",
    [
        "Reset your password: https://acme.com/password/reset?token=8fK2pQ9xZ7mN3vB1cD4e",
        "Unsubscribe: https://acme.com/unsubscribe?u=8812&t=a1b2c3d4e5f6g7h8i9 | "
        "Privacy: https://acme.com/privacy",
        "This week at Acme! Log in to see what's new: https://acme.com/login",
        "New sign-in to your account. Not you? https://acme.com/security/not-me?token=Zk29dL3mQ8pX7rT2vW5y",
        _page(
            '<a href="https://acme.com/orders/4829131?token=Zx8kLm2Pq9Rt4VwY5sTu">View order</a>'
        ),
        _page(
            "<p>Dana invited you to join Northwind.</p>"
            '<a href="https://app.acme.com/invite/accept?token=a81f2c9d73b04e5a8c11">Accept</a>'
        ),
        _page('<a href="https://acme.com/x/y?token=a81f2c9d73b04e5a8c11">Open</a>'),
    ],
    ids=["reset", "unsubscribe", "login-page", "not-me", "order-link", "invite", "bare-token"],
)
def test_links_that_are_not_magic_links(content: str) -> None:
    assert extract(content) is None


def test_code_is_preferred_over_a_verify_link() -> None:
    content = f"Your Acme code is 482913. Or tap {MAGIC} to verify."
    assert code_of(content) == "482913"


# --------------------------------------------------------------------------- no guesses


@pytest.mark.parametrize(
    "content",
    [
        "Hello, how are you? See you at 7.",
        "Your Acme verification code has expired. Request a new one in the app.",
        "Code A: 482913\nCode B: 739201",
        "Your backup codes: 1234-5678, 2345-6789, 3456-7890, 4567-8901.",
        "Acme: 482913",
        "Flight UA 1432 departs 07:45. Confirmation code: QX4T7M.",
    ],
    ids=["chat", "expired", "two-codes", "backup-codes", "no-keyword", "pnr"],
)
def test_no_code_or_ambiguous_returns_none(content: str) -> None:
    assert extract(content) is None


# --------------------------------------------------------------------------- corpus


def load_corpus() -> list[dict[str, Any]]:
    with CORPUS.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def is_correct(got: ExtractedCode | None, expected: dict[str, Any] | None) -> bool:
    if got is None or expected is None:
        return got is None and expected is None
    if (got.otp_type, got.value) != (expected["otp_type"], expected["value"]):
        return False
    return "origin" not in expected or got.origin == expected["origin"]


def accuracy(
    extractor: Callable[[str], ExtractedCode | None], entries: list[dict[str, Any]]
) -> tuple[float, float, list[str]]:
    """(precision, recall, wrong ids); precision = correct/returned, recall = correct/expected."""
    returned = expected = correct = 0
    wrong: list[str] = []
    for entry in entries:
        got = extractor(entry["content"])
        returned += got is not None
        expected += entry["expected"] is not None
        if is_correct(got, entry["expected"]):
            correct += got is not None
        else:
            wrong.append(entry["id"])
    return correct / max(returned, 1), correct / max(expected, 1), wrong


def test_corpus_is_big_varied_and_well_formed() -> None:
    entries = load_corpus()
    assert len(entries) >= 150
    ids = [e["id"] for e in entries]
    assert len(set(ids)) == len(ids)
    for entry in entries:
        assert set(entry) == {"id", "content", "expected", "lang", "kind"}, entry["id"]
        if entry["expected"] is not None:
            assert entry["expected"]["otp_type"] in ("totp", "magic_link")
            assert isinstance(entry["expected"]["value"], str)
    assert sum(e["expected"] is None for e in entries) >= 20
    assert (
        sum(
            e["expected"] is not None and e["expected"]["otp_type"] == "magic_link" for e in entries
        )
        >= 5
    )
    langs = Counter(e["lang"] for e in entries)
    assert {"en", "es", "de", "fr", "pt", "ru", "zh", "ja", "ko"} <= set(langs)
    kinds = Counter(e["kind"] for e in entries)
    assert {"sms", "email", "html", "push"} <= set(kinds)


def test_corpus_precision_and_recall_targets() -> None:
    precision, recall, wrong = accuracy(extract, load_corpus())
    assert precision == PRECISION_TARGET, wrong
    assert recall >= RECALL_TARGET, wrong


def test_corpus_gate_rejects_a_naive_extractor() -> None:
    """The targets are real: "first 4-8 digit number" fails them."""

    def naive(content: str) -> ExtractedCode | None:
        match = re.search(r"(?<!\d)\d{4,8}(?!\d)", content)
        return None if match is None else ExtractedCode(otp_type="totp", value=match.group(0))

    precision, recall, _ = accuracy(naive, load_corpus())
    assert precision < PRECISION_TARGET
    assert recall < RECALL_TARGET


# --------------------------------------------------------------------------- properties

_FRAGMENTS = st.sampled_from(
    [
        "Your code is ",
        "verification code: ",
        "验证码",
        "認証コード",
        "인증번호 ",
        "код ",
        " order #",
        " ending in ",
        "G-",
        "@example.com #",
        "\n",
        " ",
        "-",
        ".",
        ":",
        "<p>",
        "</p>",
        "<b>",
        '<div style="display:none">',
        "</div>",
        "&nbsp;",
        "&#52;",
        "https://acme.com/login?token=",
        "Zx8kLm2Pq9Rt4VwY",
        "$",
        "10 minutes",
    ]
)
_NUMBERS = st.from_regex(r"[0-9]{1,9}|[A-Z0-9]{3,9}|[0-9]{3}[ -][0-9]{3}", fullmatch=True)
_MESSAGES = st.one_of(
    st.text(max_size=300),
    st.lists(st.one_of(_FRAGMENTS, _NUMBERS, st.text(max_size=8)), max_size=25).map("".join),
)


def _readable(content: str) -> list[str]:
    """The input as a reader sees it: raw, entity-decoded, and HTML visible/hidden text."""
    views = [content, html.unescape(content)]
    if looks_like_html(content):
        doc = html_to_text(content)
        views += [doc.visible, doc.hidden]
    return [re.sub(r"[\s\-]", "", normalize(v)) for v in views]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_MESSAGES)
def test_extract_never_raises_and_never_invents(content: str) -> None:
    found = extract(content)
    if found is None:
        return
    assert found.value
    if found.otp_type == "magic_link":
        assert found.value in content or found.value in html.unescape(content)
        return
    compact = re.sub(r"[\s\-]", "", found.value)
    assert any(compact in view for view in _readable(content)), (content, found.value)
    if found.origin is not None:
        host = found.origin.removeprefix("https://")
        assert host.encode().decode("idna").lower() in content.lower() or host in content.lower()


# --------------------------------------------------------------------------- speed


def _email_50kb() -> str:
    row = (
        '<tr><td style="padding:8px;font-family:Arial">Item {i}: Coffee beans, qty 2, '
        'price $1{i}.99, SKU 88{i:04d}</td><td><a href="https://shop.example.com/p/{i}'
        '?utm_source=mail&amp;utm_campaign=spring">View</a></td></tr>\n'
    )
    rows = "".join(row.format(i=i) for i in range(400))
    body = _page(f"<p>Your verification code is <b>482913</b></p><table>{rows}</table>")
    return body[:50_000]


def _cpu_ms(content: str, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()
        extract(content)
        best = min(best, time.process_time() - started)
    return best * 1000


def test_50kb_email_extracts_well_under_50ms() -> None:
    content = _email_50kb()
    assert len(content) == 50_000
    assert code_of(content) == "482913"
    assert _cpu_ms(content) < 50


@pytest.mark.parametrize(
    "content",
    [
        "1234 " * 10_000,
        "<" * 50_000,
        "a" * 50_000,
        "code 1234. " * 4_500,
        "&#" * 25_000,
        '<a href="' * 6_000,
        "https://x.com/" + "a" * 50_000,
        "验证码尾号取件码登录" * 5_000,
        " ".join(str(i) for i in range(10_000))[:50_000],
        "@" + "a." * 25_000 + " #1",
    ],
    ids=["digits", "lt", "letters", "codes", "entities", "tags", "url", "cjk", "numbers", "origin"],
)
def test_pathological_inputs_stay_fast(content: str) -> None:
    # the best of 3 CPU times: catastrophic backtracking takes seconds on every run, while a
    # loaded CI machine once stretched a single 150 ms run past 200 ms
    assert _cpu_ms(content) < 200
