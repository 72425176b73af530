"""The raw MIME reader: real messages other mail libraries collected (tests/data/eml, see
SOURCES.md there), and code mails built on the wire format (quoted-printable, base64, each
charset the issue lists, RFC 2047 subjects, Gmail/Outlook/Apple forwards)."""

from __future__ import annotations

import base64
import quopri
from email.message import EmailMessage
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from vaults.codes.extract import extract
from vaults.codes.mail_ingest import push_mail
from vaults.codes.mime import MAX_MESSAGE_BYTES, parse_mail, recipient_for
from vaults.errors import InvalidInput, NoCode

EML = Path(__file__).resolve().parent.parent / "data" / "eml"


def read(name: str) -> bytes:
    return (EML / name).read_bytes()


def first_code(raw: bytes) -> str | None:
    for text in parse_mail(raw).contents():
        found = extract(text)
        if found is not None:
            return found.value
    return None


# -- real messages nobody here wrote ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "subject", "body_has", "recipient"),
    [
        ("mikel-japanese.eml", "まみむめも", "かきくえこ", "raasdnil@gmail.com"),  # UTF-8, base64
        ("mikel-japanese_iso_2022.eml", "まみむめも", "すみません。", "raasdnil@gmail.com"),
        (
            "mikel-japanese_shift_jis.eml",
            "test",
            "このメールはテスト用のメールです。",
            "unknown@example.com",
        ),
        ("mikel-ks_c_5601-1987.eml", "test", "스티해", "unknown@example.com"),  # EUC-KR family
        # declared GB2312, sent as UTF-8 (Outlook Express); 8-bit UTF-8 in To:
        ("spamscope-mail_test_12.eml", "代开各地增值税发票", "我公司可代开", "danglüe@email.com"),
        # GB2312 base64 HTML only; RFC 2047 GB2312 subject
        (
            "spamscope-mail_test_9.eml",
            "我把镜头拉近些",
            "http://go2buy.com.cn/",
            "webmaster@khaleejtimes.com",
        ),
        (
            "spamscope-mail_test_13.eml",
            "New Webinar: So, You Have A Disaster",
            "Upcoming Webinar",
            "dpinnix@coastbankcalifornia.com",
        ),
        (
            "spamscope-mail_test_17.eml",
            "Transferencia Interbancaria Banca en Línea",
            "Test",
            "compliance@akaancasadebolsa.com.mx",
        ),
        (
            "spamscope-mail_test_18.eml",
            "Test for Comma and Name Bugs",
            "This is a test email body.",
            "tony.stark@example.com",
        ),
        (
            "spamscope-mail_test_19.eml",
            "Test email with email address as display name",
            "display name is itself",
            "charlie@example.com",
        ),
        (
            "spamscope-mail_malformed_2.eml",
            "Delivery failure (abh@netpar.com.br)",
            "quota exceeded",
            "tanya@infospacemail.com",
        ),
    ],
)
def test_real_messages_decode(name: str, subject: str, body_has: str, recipient: str) -> None:
    mail = parse_mail(read(name))
    assert mail.subject.startswith(subject)
    assert any(body_has in text for text in mail.contents()), mail.contents()[0][:300]
    assert recipient_for(mail) == recipient
    assert not any("\ufffd" in text for text in mail.contents())  # nothing mis-decoded


def test_real_forward_as_attachment_reads_the_inner_message() -> None:
    # Apple Mail: "This is the first part." then the forwarded mail as message/rfc822
    mail = parse_mail(read("mikel-attachment_message_rfc822.eml"))
    assert mail.forwarded
    assert mail.subject == "Another PDF"
    assert mail.bodies[0].startswith("Just attaching another PDF")
    assert recipient_for(mail) == "xxxx@xxxx.com"  # the inner To:, not blah@example.com
    assert recipient_for(mail, ["blah@example.com"]) == "xxxx@xxxx.com"


# -- code mails on the wire format ---------------------------------------------------------------
CODE_TEXT = "Your Acme verification code is 482913. It expires in 10 minutes."


def message(body: str, *, subtype: str = "plain", charset: str = "utf-8", cte: str = "qp") -> bytes:
    data = body.encode(charset)
    if cte == "qp":
        payload, name = quopri.encodestring(data).decode("ascii"), "quoted-printable"
    elif cte == "base64":
        payload, name = base64.encodebytes(data).decode("ascii"), "base64"
    else:
        payload, name = data.decode("latin-1"), cte
    head = (
        "From: Acme <no-reply@acme.example>\r\nTo: User <user@example.com>\r\n"
        "Subject: =?utf-8?q?Sign-in_code?=\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: text/{subtype}; charset="{charset}"\r\n'
        f"Content-Transfer-Encoding: {name}\r\n\r\n"
    )
    return head.encode("ascii") + payload.encode("latin-1")


@pytest.mark.parametrize(
    ("charset", "text"),
    [
        ("utf-8", "Ваш код подтверждения: 482913"),
        ("iso-8859-1", "Votre code de vérification est 482913"),
        ("iso-8859-2", "Twój kod weryfikacyjny to 482913, zażółć"),
        ("iso-8859-5", "Ваш код: 482913"),
        ("iso-8859-7", "Κωδικός OTP 482913"),
        ("windows-1250", "Ověřovací kód (verification code): 482913"),
        ("windows-1251", "Ваш код подтверждения: 482913"),
        ("windows-1252", "Ihr Bestätigungscode lautet 482913 – danke"),
        ("windows-1256", "رمز التحقق الخاص بك هو 482913"),
        ("koi8-r", "Ваш код подтверждения: 482913"),
        ("shift_jis", "認証コードは 482913 です"),
        ("iso-2022-jp", "認証コードは 482913 です"),
        ("gb2312", "您的验证码是 482913"),
        ("gbk", "您的驗證碼是 482913"),
        ("big5", "您的驗證碼是 482913"),
        ("euc-kr", "인증 코드는 482913 입니다"),
    ],
)
@pytest.mark.parametrize("cte", ["qp", "base64"])
def test_charsets_and_transfer_encodings(charset: str, text: str, cte: str) -> None:
    raw = message(text, charset=charset, cte=cte)
    mail = parse_mail(raw)
    assert mail.bodies[0].strip() == text
    assert mail.subject == "Sign-in code"
    assert first_code(raw) == "482913"


def test_alternative_prefers_text_and_uses_html_when_it_holds_more() -> None:
    both = MIMEMultipart("alternative")
    both.attach(MIMEText(CODE_TEXT, "plain"))
    both.attach(MIMEText(f"<p>{CODE_TEXT.replace('482913', '<b>482913</b>')}</p>", "html"))
    assert parse_mail(both.as_bytes()).bodies[0] == CODE_TEXT

    stub = MIMEMultipart("alternative")
    stub.attach(MIMEText("View this message in an HTML mail client.", "plain"))
    words = " ".join(["Hello and welcome to Acme, we are glad you are here."] * 4)
    stub.attach(MIMEText(f"<html><body><p>{words}</p><p>{CODE_TEXT}</p></body></html>", "html"))
    mail = parse_mail(stub.as_bytes())
    assert mail.bodies[0].startswith("<html>")
    assert first_code(stub.as_bytes()) == "482913"


def test_attachments_are_not_read() -> None:
    outer = MIMEMultipart("mixed")
    outer["To"] = "user@example.com"
    outer.attach(MIMEText("Please find the invoice attached.", "plain"))
    invoice = MIMEText("Invoice 77231984, code 112233", "plain")
    invoice.add_header("Content-Disposition", "attachment", filename="invoice.txt")
    outer.attach(invoice)
    assert all("112233" not in text for text in parse_mail(outer.as_bytes()).contents())


GMAIL_FORWARD = """Sent from my phone, call me at 0176 4829 1355.

---------- Forwarded message ---------
From: Acme <no-reply@acme.example>
Date: Mon, 2 Dec 2024 at 10:04
Subject: Your sign-in code
To: <user@example.com>


Your Acme verification code is 482913.
"""

OUTLOOK_FORWARD = """Here it is. Ticket 55120934 for reference.

________________________________
From: Acme <no-reply@acme.example>
Sent: Monday, December 2, 2024 10:04 AM
To: Jane User <jane@example.org>
Subject: Your sign-in code

Your Acme verification code is 731046.
"""

APPLE_FORWARD = """Begin forwarded message:

From: Acme <no-reply@acme.example>
Subject: Your sign-in code
Date: 2 December 2024 at 10:04:00 CET
To: bob@example.net

Use 590274 to sign in to Acme.
"""

GERMAN_GMAIL_FORWARD = """---------- Weitergeleitete Nachricht ---------
Von: Acme <no-reply@acme.example>
Date: Mo., 2. Dez. 2024 um 10:04 Uhr
Subject: Ihr Anmeldecode
An: <erika@example.de>

Ihr Bestätigungscode lautet 264810.
"""


@pytest.mark.parametrize(
    ("body", "code", "recipient"),
    [
        (GMAIL_FORWARD, "482913", "user@example.com"),
        (OUTLOOK_FORWARD, "731046", "jane@example.org"),
        (APPLE_FORWARD, "590274", "bob@example.net"),
        (GERMAN_GMAIL_FORWARD, "264810", "erika@example.de"),
    ],
)
def test_inline_forwards_read_the_inner_message(body: str, code: str, recipient: str) -> None:
    msg = EmailMessage()
    msg["From"] = "Forwarder <me@forwarder.example>"
    msg["To"] = "codes@vaults.example"
    msg["Subject"] = "Fwd: Your sign-in code"
    msg.set_content(body)
    raw = msg.as_bytes()
    mail = parse_mail(raw)
    assert mail.forwarded
    assert first_code(raw) == code  # not the phone number or ticket above the marker
    assert recipient_for(mail, ["codes@vaults.example"]) == recipient


def test_html_only_gmail_forward() -> None:
    html = (
        '<div dir="ltr">FYI<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
        "---------- Forwarded message ---------<br>From: <strong>Acme</strong> "
        "<span>&lt;no-reply@acme.example&gt;</span><br>Date: Mon, 2 Dec 2024<br>"
        'Subject: Your code<br>To: &lt;<a href="mailto:user@example.com">user@example.com</a>'
        "&gt;<br></div><br><br>Your Acme verification code is <b>482913</b>.</div></div>"
    )
    msg = EmailMessage()
    msg["To"] = "codes@vaults.example"
    msg["Subject"] = "Fwd: Your code"
    msg.set_content(html, subtype="html")
    mail = parse_mail(msg.as_bytes())
    assert mail.forwarded
    assert recipient_for(mail) == "user@example.com"
    assert first_code(msg.as_bytes()) == "482913"


def test_forward_as_attachment_outlook_style() -> None:
    inner = EmailMessage()
    inner["From"] = "Acme <no-reply@acme.example>"
    inner["To"] = "user@example.com"
    inner["Subject"] = "Your code"
    inner.set_content(CODE_TEXT)
    outer = MIMEMultipart("mixed")
    outer["To"] = "codes@vaults.example"
    outer.attach(MIMEText("See attached. Call 0176 4829 1355.", "plain"))
    outer.attach(MIMEMessage(inner))
    mail = parse_mail(outer.as_bytes())
    assert recipient_for(mail, ["codes@vaults.example"]) == "user@example.com"
    assert first_code(outer.as_bytes()) == "482913"


def test_recipient_rules() -> None:
    msg = EmailMessage()
    msg["To"] = "User <user@example.com>, other@example.com"
    msg["Delivered-To"] = "watcher@gmail.example"
    msg.set_content(CODE_TEXT)
    mail = parse_mail(msg.as_bytes())
    assert recipient_for(mail) == "user@example.com"
    assert recipient_for(mail, ["other@example.com"]) == "other@example.com"  # named: itself
    assert recipient_for(mail, ["redirect@vaults.example"]) == "user@example.com"  # a rule kept To
    del msg["To"]
    msg["To"] = "undisclosed-recipients:;"
    mail = parse_mail(msg.as_bytes())
    assert recipient_for(mail, ["codes@vaults.example"]) == "codes@vaults.example"
    assert recipient_for(mail) == "watcher@gmail.example"


def test_subject_is_searched_last() -> None:
    msg = EmailMessage()
    msg["To"] = "user@example.com"
    encoded = base64.b64encode(b"482913 est votre code").decode()
    msg["Subject"] = f"=?utf-8?b?{encoded}?="
    msg.set_content("Bonjour, merci.")
    assert first_code(msg.as_bytes()) == "482913"


def test_bad_input_is_refused_clearly() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        parse_mail(b"  \r\n")
    with pytest.raises(InvalidInput, match="larger"):
        parse_mail(b"To: a@b.c\r\n\r\n" + b"x" * MAX_MESSAGE_BYTES)
    with pytest.raises(InvalidInput, match="header"):
        parse_mail(b"\r\njust a body without headers")


def test_hostile_structure_stays_bounded() -> None:
    nested = CODE_TEXT
    raw = f"To: user@example.com\r\nContent-Type: text/plain\r\n\r\n{nested}".encode()
    for depth in range(60):
        raw = (
            (
                f"To: user@example.com\r\nContent-Type: multipart/mixed; boundary=b{depth}\r\n\r\n"
                f"--b{depth}\r\n"
            ).encode()
            + raw
            + f"\r\n--b{depth}--\r\n".encode()
        )
    parse_mail(raw)  # returns: depth is capped, no recursion error


def test_push_mail_stores_under_the_recipient(sqlite_url: str, codes_host: object) -> None:
    from vaults.codes.inbox import Inbox

    with Inbox(sqlite_url, host=codes_host) as inbox:  # type: ignore[arg-type]
        code = push_mail(inbox, message(CODE_TEXT))
        assert (code.identifier, code.value, code.source) == ("user@example.com", "482913", "email")
        phone = push_mail(inbox, message(CODE_TEXT), identifier="+15550100")
        assert phone.identifier == "+15550100"
        with pytest.raises(NoCode):
            push_mail(inbox, message("Thanks for your order."))
        no_recipient = b"From: a@acme.example\r\nSubject: x\r\n\r\n" + CODE_TEXT.encode()
        with pytest.raises(InvalidInput, match="recipient"):
            push_mail(inbox, no_recipient)


def test_repr_hides_the_text() -> None:
    msg = EmailMessage()
    msg["To"] = "user@example.com"
    msg["Subject"] = "482913 is your Acme code"
    msg.set_content(CODE_TEXT)
    mail = parse_mail(msg.as_bytes())
    assert "482913" not in repr(mail) and "482913" not in str(mail)
    assert "user@example.com" in repr(mail)


def test_a_charset_name_with_a_nul_byte_is_an_unknown_charset() -> None:
    """Found by the atheris mime target: codecs.lookup raises ValueError on a NUL byte."""
    raw = (
        b"From: a@example.com\r\nTo: b@example.com\r\nSubject: x\r\n"
        b'Content-Type: text/plain; charset="utf\x00-8"\r\n\r\nYour code is 482913\r\n'
    )
    found = extract(parse_mail(raw).bodies[0])
    assert found is not None and found.value == "482913"
