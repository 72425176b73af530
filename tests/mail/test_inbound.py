"""Provider webhooks and the raw MIME endpoint of ``vaults serve``.

Twilio requests are signed by the official ``twilio`` library's RequestValidator (the
oracle); Mailgun, SendGrid and Postmark requests are built as their documentation describes.
A wrong or missing signature is 403 (basic auth without credentials: 401) and stores nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from vaults.codes.inbound import MAX_INBOUND_BYTES, twilio_signature
from vaults.codes.inbox import Inbox
from vaults.codes.server import create_app

API_KEY = "api-key-canary-91b7d2e4c0"
TWILIO_TOKEN = "twilio-token-canary-5f0e7a"
MAILGUN_KEY = "key-mailgun-canary-3e8b"
SENDGRID_AUTH = "sendgrid:sg-pass-canary-77d1"
POSTMARK_AUTH = "postmark:pm-pass-canary-19c4"
SECRETS = (API_KEY, TWILIO_TOKEN, MAILGUN_KEY, SENDGRID_AUTH, POSTMARK_AUTH)
BASE = "http://testserver"
SMS = "Your Acme verification code is 482913. Don't share it."
ENV = {
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
    "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY,
    "VAULTS_SENDGRID_AUTH": SENDGRID_AUTH,
    "VAULTS_POSTMARK_AUTH": POSTMARK_AUTH,
}


@pytest.fixture
def inbox(sqlite_url: str, codes_host: Any) -> Iterator[Inbox]:
    with Inbox(sqlite_url, host=codes_host) as box:
        yield box


@pytest.fixture
def client(inbox: Inbox) -> Iterator[TestClient]:
    app = create_app(inbox=inbox, api_key=API_KEY, env=ENV)
    with TestClient(app, base_url=BASE) as test_client:
        yield test_client


def basic(credentials: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}


def no_secret_in(response: Any) -> None:
    for secret in (*SECRETS, "482913"):
        assert secret not in response.text


# -- Twilio ------
def twilio_form(**extra: str) -> dict[str, str]:
    return {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "AccountSid": "AC0123456789abcdef0123456789abcdef",
        "From": "+15005550006",
        "To": "+1 (555) 010-0000",
        "Body": SMS,
        "NumMedia": "0",
        **extra,
    }


def test_twilio_signed_by_the_official_validator(client: TestClient, inbox: Inbox) -> None:
    url = f"{BASE}/v1/inbound/twilio"
    form = twilio_form()
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    assert twilio_signature(TWILIO_TOKEN, url, form.items()) == signature  # same algorithm
    response = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    code = inbox.wait("+15550100000", timeout=0)
    assert (code.value, code.source) == ("482913", "phone")


def test_twilio_signature_covers_the_query_and_the_port(client: TestClient, inbox: Inbox) -> None:
    url = f"{BASE}/v1/inbound/twilio?account=acme"
    form = twilio_form()
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    response = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    # signed with the explicit default port, as Twilio sometimes does
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        "http://testserver:80/v1/inbound/twilio", form
    )
    response = client.post(
        "/v1/inbound/twilio", data=form, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200
    assert len(inbox.list()) == 2


@pytest.mark.parametrize(
    "tamper",
    ["wrong token", "changed body", "other url", "missing header", "api key instead"],
)
def test_twilio_forgeries_are_403_and_store_nothing(
    client: TestClient, inbox: Inbox, tamper: str
) -> None:
    url = f"{BASE}/v1/inbound/twilio"
    form = twilio_form()
    token = "not-the-token" if tamper == "wrong token" else TWILIO_TOKEN
    signed_url = f"{BASE}/v1/inbound/other" if tamper == "other url" else url
    headers = {"X-Twilio-Signature": RequestValidator(token).compute_signature(signed_url, form)}
    if tamper == "changed body":
        form = twilio_form(Body="Your Acme verification code is 999111.")
    if tamper == "missing header":
        headers = {}
    if tamper == "api key instead":
        headers = {"x-api-key": API_KEY}
    response = client.post(url, data=form, headers=headers)
    assert response.status_code == 403
    no_secret_in(response)
    assert inbox.list() == []


def test_twilio_behind_a_proxy_checks_the_public_url(inbox: Inbox) -> None:
    env = {**ENV, "VAULTS_PUBLIC_URL": "https://codes.example.com/"}
    form = twilio_form()
    public = "https://codes.example.com/v1/inbound/twilio"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(public, form)
    with TestClient(create_app(inbox=inbox, api_key=API_KEY, env=env), base_url=BASE) as client:
        response = client.post(
            "/v1/inbound/twilio", data=form, headers={"X-Twilio-Signature": signature}
        )
    assert response.status_code == 200
    assert inbox.wait("+15550100000", timeout=0).value == "482913"


def test_an_sms_without_code_still_gets_twiml(client: TestClient, inbox: Inbox) -> None:
    form = twilio_form(Body="STOP")
    url = f"{BASE}/v1/inbound/twilio"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    response = client.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and "<Response>" in response.text
    assert inbox.list() == []


def test_unconfigured_providers_are_off(inbox: Inbox) -> None:
    with TestClient(create_app(inbox=inbox, api_key=API_KEY, env={}), base_url=BASE) as client:
        for route in ("twilio", "mailgun", "sendgrid", "postmark"):
            response = client.post(f"/v1/inbound/{route}", data={"Body": SMS})
            assert response.status_code == 404, route
    assert inbox.list() == []


# -- Mailgun ------
def mailgun_fields(key: str = MAILGUN_KEY, **extra: str) -> dict[str, str]:
    timestamp = str(int(time.time()))
    token = hashlib.sha256(f"{time.perf_counter_ns()}".encode()).hexdigest()[:50]
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "recipient": "codes@mg.example.com",
        "sender": "no-reply@acme.example",
        "from": "Acme <no-reply@acme.example>",
        "subject": "Your Acme code",
        "body-plain": SMS,
        "stripped-text": SMS,
        "message-headers": json.dumps(
            [["To", "User <user@example.com>"], ["Subject", "Your Acme code"]]
        ),
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        **extra,
    }


def test_mailgun_parsed_fields(client: TestClient, inbox: Inbox) -> None:
    response = client.post("/v1/inbound/mailgun", data=mailgun_fields())
    assert response.status_code == 200, response.text
    stored = response.json()["stored"]
    assert [s["totp_identifier"] for s in stored] == ["user@example.com"]
    no_secret_in(response)  # the code is never echoed to the provider
    assert inbox.wait("user@example.com", timeout=0).value == "482913"


def test_mailgun_raw_mime_as_multipart(client: TestClient, inbox: Inbox) -> None:
    fields = mailgun_fields()
    for name in ("body-plain", "stripped-text", "message-headers"):
        del fields[name]
    files = {"body-mime": (None, code_mail("590274", "jane@example.org"))}
    response = client.post("/v1/inbound/mailgun/mime", data=fields, files=files)
    assert response.status_code == 200, response.text
    assert inbox.wait("jane@example.org", timeout=0).value == "590274"


def test_mailgun_forgery_replay_and_stale_are_refused(client: TestClient, inbox: Inbox) -> None:
    assert client.post("/v1/inbound/mailgun", data=mailgun_fields(key="wrong")).status_code == 403
    tampered = mailgun_fields()
    tampered["timestamp"] = str(int(tampered["timestamp"]) + 1)
    assert client.post("/v1/inbound/mailgun", data=tampered).status_code == 403
    stale_stamp = str(int(time.time()) - 3600)
    stale = mailgun_fields()
    stale["timestamp"] = stale_stamp
    stale["signature"] = hmac.new(
        MAILGUN_KEY.encode(), (stale_stamp + stale["token"]).encode(), hashlib.sha256
    ).hexdigest()
    assert client.post("/v1/inbound/mailgun", data=stale).status_code == 403
    assert inbox.list() == []
    fresh = mailgun_fields()
    assert client.post("/v1/inbound/mailgun", data=fresh).status_code == 200
    replay = client.post("/v1/inbound/mailgun", data=fresh)
    assert replay.status_code == 403 and "already used" in replay.text
    assert len(inbox.list()) == 1


# -- SendGrid ------
def code_mail(code: str, to: str = "user@example.com") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Acme <no-reply@acme.example>"
    msg["To"] = to
    msg["Subject"] = "Your Acme code"
    msg.set_content(f"Your Acme verification code is {code}.")
    return msg.as_bytes()


def test_sendgrid_parsed_fields_and_charsets(client: TestClient, inbox: Inbox) -> None:
    body_latin1 = "Votre code de vérification est 482913.".encode("iso-8859-1")
    files = {
        "headers": (None, b"From: Acme <no-reply@acme.example>\nTo: user@example.com\n"),
        "to": (None, b"user@example.com"),
        "from": (None, b"Acme <no-reply@acme.example>"),
        "subject": (None, b"Votre code"),
        "text": (None, body_latin1),
        "envelope": (None, b'{"to":["codes@parse.example.com"],"from":"no-reply@acme.example"}'),
        "charsets": (None, b'{"to":"UTF-8","subject":"UTF-8","from":"UTF-8","text":"iso-8859-1"}'),
        "SPF": (None, b"pass"),
    }
    response = client.post("/v1/inbound/sendgrid", files=files, headers=basic(SENDGRID_AUTH))
    assert response.status_code == 200, response.text
    assert inbox.wait("user@example.com", timeout=0).value == "482913"


def test_sendgrid_raw_email(client: TestClient, inbox: Inbox) -> None:
    files = {
        "email": (None, code_mail("731046", "bob@example.net")),
        "envelope": (None, b'{"to":["bob@example.net"],"from":"no-reply@acme.example"}'),
    }
    response = client.post("/v1/inbound/sendgrid", files=files, headers=basic(SENDGRID_AUTH))
    assert response.status_code == 200
    assert inbox.wait("bob@example.net", timeout=0).value == "731046"


def test_sendgrid_basic_auth(client: TestClient, inbox: Inbox) -> None:
    files = {"email": (None, code_mail("731046"))}
    missing = client.post("/v1/inbound/sendgrid", files=files)
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
    wrong = client.post("/v1/inbound/sendgrid", files=files, headers=basic("sendgrid:nope"))
    assert wrong.status_code == 403
    garbage = client.post(
        "/v1/inbound/sendgrid", files=files, headers={"Authorization": "Basic !!!"}
    )
    assert garbage.status_code == 403
    assert inbox.list() == []


# -- Postmark ------
def postmark_payload(**extra: Any) -> dict[str, Any]:
    return {
        "FromName": "Acme",
        "MessageStream": "inbound",
        "From": "no-reply@acme.example",
        "FromFull": {"Email": "no-reply@acme.example", "Name": "Acme", "MailboxHash": ""},
        "To": '"User" <codes+user@inbound.postmarkapp.com>',
        "ToFull": [{"Email": "user@example.com", "Name": "User", "MailboxHash": ""}],
        "Cc": "",
        "CcFull": [],
        "OriginalRecipient": "codes+user@inbound.postmarkapp.com",
        "Subject": "Your Acme code",
        "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
        "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
        "TextBody": "",
        "HtmlBody": "<html><body><p>Your Acme code is <b>264810</b>.</p></body></html>",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": [{"Name": "X-Spam-Status", "Value": "No"}],
        "Attachments": [],
        **extra,
    }


def test_postmark_json(client: TestClient, inbox: Inbox) -> None:
    response = client.post(
        "/v1/inbound/postmark", json=postmark_payload(), headers=basic(POSTMARK_AUTH)
    )
    assert response.status_code == 200, response.text
    assert inbox.wait("user@example.com", timeout=0).value == "264810"
    raw = code_mail("100234", "erika@example.de").decode()
    response = client.post(
        "/v1/inbound/postmark", json=postmark_payload(RawEmail=raw), headers=basic(POSTMARK_AUTH)
    )
    assert response.status_code == 200
    assert inbox.wait("erika@example.de", timeout=0).value == "100234"


def test_postmark_refusals(client: TestClient, inbox: Inbox) -> None:
    assert client.post("/v1/inbound/postmark", json=postmark_payload()).status_code == 401
    wrong = client.post(
        "/v1/inbound/postmark", json=postmark_payload(), headers=basic("postmark:x")
    )
    assert wrong.status_code == 403
    bad = client.post("/v1/inbound/postmark", content=b"[not json", headers=basic(POSTMARK_AUTH))
    assert bad.status_code == 422
    assert inbox.list() == []


# -- raw MIME ------
def test_mime_endpoint(client: TestClient, inbox: Inbox) -> None:
    headers = {"x-api-key": API_KEY, "content-type": "message/rfc822"}
    response = client.post("/v1/inbound/mime", content=code_mail("482913"), headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["totp_identifier"], data["code"], data["source"]) == (
        "user@example.com",
        "482913",
        "email",
    )
    response = client.post(
        "/v1/inbound/mime?identifier=%2B15550100&task_id=t1",
        content=code_mail("590274"),
        headers=headers,
    )
    assert response.json()["totp_identifier"] == "+15550100"
    assert response.json()["task_id"] == "t1"


def test_mime_endpoint_refusals(client: TestClient, inbox: Inbox) -> None:
    mail = code_mail("482913")
    assert client.post("/v1/inbound/mime", content=mail).status_code == 401
    assert (
        client.post("/v1/inbound/mime", content=mail, headers={"x-api-key": "wrong"}).status_code
        == 401
    )
    auth = {"x-api-key": API_KEY}
    assert (
        client.post(
            "/v1/inbound/mime", content=mail, headers={**auth, "content-type": "image/png"}
        ).status_code
        == 415
    )
    no_code = client.post(
        "/v1/inbound/mime",
        content=b"To: a@example.com\r\nSubject: hi\r\n\r\nThanks for your order.",
        headers=auth,
    )
    assert no_code.status_code == 422
    assert client.post("/v1/inbound/mime", content=b"", headers=auth).status_code == 422
    assert inbox.list() == []


def test_mail_routes_take_large_mails_but_not_huge_ones(client: TestClient, inbox: Inbox) -> None:
    msg = EmailMessage()
    msg["To"] = "user@example.com"
    msg.set_content("Your Acme verification code is 482913.")
    msg.add_attachment(b"\0" * (2 * 1024 * 1024), maintype="application", subtype="pdf")
    auth = {"x-api-key": API_KEY}
    assert client.post("/v1/inbound/mime", content=msg.as_bytes(), headers=auth).status_code == 200
    huge = b"To: a@example.com\r\n\r\n" + b"x" * MAX_INBOUND_BYTES
    assert client.post("/v1/inbound/mime", content=huge, headers=auth).status_code == 413
    # the Twilio route keeps the small JSON-API limit
    assert client.post("/v1/inbound/twilio", content=b"x" * 70_000).status_code == 413


def test_refused_signatures_and_quota_share_the_servers_limits(inbox: Inbox) -> None:
    from vaults.codes.security import Limits

    limits = Limits(failed_keys_per_minute=3, pushes_per_minute=2)
    app = create_app(inbox=inbox, api_key=API_KEY, env=ENV, limits=limits)
    url = f"{BASE}/v1/inbound/twilio"
    with TestClient(app, base_url=BASE) as client:
        form = twilio_form()
        good = {"X-Twilio-Signature": RequestValidator(TWILIO_TOKEN).compute_signature(url, form)}
        # per-identifier quota: the third SMS for the same number within a minute waits
        assert client.post(url, data=form, headers=good).status_code == 200
        assert client.post(url, data=form, headers=good).status_code == 200
        over = client.post(url, data=form, headers=good)
        assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
        # forged signatures count as failed keys: then 429 even for a good one
        bad = {"X-Twilio-Signature": "Zm9yZ2Vk"}
        assert [client.post(url, data=form, headers=bad).status_code for _ in range(3)] == [
            403,
            403,
            403,
        ]
        assert client.post(url, data=form, headers=good).status_code == 429
        blocked = client.post(
            "/v1/inbound/sendgrid",
            files={"email": (None, code_mail("731046"))},
            headers=basic(SENDGRID_AUTH),
        )
        assert blocked.status_code == 429
    assert len(inbox.list()) == 2
