"""The SMTP receiver (aiosmtpd) driven by Python's smtplib: configured domains only, STARTTLS,
size limit, envelope and forwarded recipients, DKIM (dkimpy; keys served by a test DNS
function), and ``vaults serve --smtp-port`` as a real process."""

from __future__ import annotations

import base64
import os
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.mail.conftest import Tls
from vaults.codes.inbox import Inbox
from vaults.codes.smtp_receiver import SmtpReceiver, verify_dkim
from vaults.errors import ConfigurationError

DOMAIN = "codes.example.net"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def dkim_key() -> tuple[bytes, bytes]:
    """(private key PEM, TXT record) for selector ``s1`` of acme.example."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


@pytest.fixture
def dns(dkim_key: tuple[bytes, bytes]) -> Any:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return dkim_key[1] if name == b"s1._domainkey.acme.example." else None

    return lookup


@pytest.fixture
def inbox(sqlite_url: str, codes_host: Any) -> Iterator[Inbox]:
    with Inbox(sqlite_url, host=codes_host) as box:
        yield box


@pytest.fixture
def receiver(inbox: Inbox, tls: Tls, dns: Any) -> Iterator[SmtpReceiver]:
    with SmtpReceiver(
        inbox,
        [DOMAIN],
        port=free_port(),
        tls_cert=tls.cert,
        tls_key=tls.key,
        dkim_dns=dns,
        size_limit=256 * 1024,
    ) as smtp:
        yield smtp


def code_mail(code: str, to: str = f"user@{DOMAIN}", *, sign: bytes | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Acme <no-reply@acme.example>"
    msg["To"] = to
    msg["Subject"] = "Your Acme code"
    msg["Message-ID"] = f"<{code}@acme.example>"
    msg.set_content(f"Your Acme verification code is {code}.")
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    if sign is not None:
        signature = dkim.sign(
            raw,
            b"s1",
            b"acme.example",
            sign,
            include_headers=[b"from", b"to", b"subject", b"message-id"],
        )
        raw = signature + raw
    return raw


def send(smtp: SmtpReceiver, tls: Tls, raw: bytes, rcpts: list[str]) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=10) as client:
        client.starttls(context=tls.client_context())
        client.ehlo()
        client.mail("no-reply@acme.example")
        for rcpt in rcpts:
            code, _ = client.rcpt(rcpt)
            assert code == 250
        return client.data(raw)


def test_starttls_delivery_with_dkim_pass(
    receiver: SmtpReceiver, tls: Tls, inbox: Inbox, dkim_key: tuple[bytes, bytes]
) -> None:
    code, reply = send(receiver, tls, code_mail("482913", sign=dkim_key[0]), [f"user@{DOMAIN}"])
    assert code == 250
    assert b"1 code stored" in reply and b"dkim=pass d=acme.example" in reply
    stored = inbox.wait(f"user@{DOMAIN}", timeout=0)
    assert (stored.value, stored.source) == ("482913", "email")


def test_relaying_is_refused(receiver: SmtpReceiver, inbox: Inbox) -> None:
    with smtplib.SMTP("127.0.0.1", receiver.port, timeout=10) as client:
        client.ehlo()
        assert b"STARTTLS" in client.esmtp_features.get("starttls", "").encode() or (
            client.has_extn("starttls")
        )
        client.mail("spammer@bad.example")
        code, reply = client.rcpt("victim@elsewhere.example")
        assert code == 550 and b"Relaying denied" in reply
        code, _ = client.rcpt(f"ok@{DOMAIN.upper()}")
        assert code == 250
    assert inbox.list() == []


def test_size_limit(receiver: SmtpReceiver, tls: Tls, inbox: Inbox) -> None:
    msg = EmailMessage()
    msg["To"] = f"user@{DOMAIN}"
    msg.set_content("Your Acme verification code is 482913.\n" + ("x" * 70 + "\n") * 4000)
    raw = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    code, reply = send(receiver, tls, raw, [f"user@{DOMAIN}"])
    assert code == 552, reply
    assert inbox.list() == []


def test_forwarded_by_a_rule_uses_the_original_recipient(
    receiver: SmtpReceiver, tls: Tls, inbox: Inbox
) -> None:
    # a Gmail/Outlook redirect keeps the original To:; the envelope is our address
    code, reply = send(
        receiver, tls, code_mail("590274", "jane@company.example"), [f"fwd@{DOMAIN}"]
    )
    assert code == 250, reply
    assert inbox.wait("jane@company.example", timeout=0).value == "590274"
    # two recipients of ours named in To: each gets the code
    raw = code_mail("731046", f"a@{DOMAIN}, b@{DOMAIN}")
    assert send(receiver, tls, raw, [f"a@{DOMAIN}", f"b@{DOMAIN}"])[0] == 250
    assert inbox.wait(f"a@{DOMAIN}", timeout=0).value == "731046"
    assert inbox.wait(f"b@{DOMAIN}", timeout=0).value == "731046"


def test_require_dkim(inbox: Inbox, tls: Tls, dns: Any, dkim_key: tuple[bytes, bytes]) -> None:
    with SmtpReceiver(
        inbox, [DOMAIN], port=free_port(), require_dkim=True, dkim_dns=dns,
        tls_cert=tls.cert, tls_key=tls.key,
    ) as smtp:  # fmt: skip
        code, reply = send(smtp, tls, code_mail("482913"), [f"user@{DOMAIN}"])
        assert code == 550 and b"DKIM" in reply
        signed = code_mail("482913", sign=dkim_key[0])
        tampered = signed.replace(b"482913", b"999111")
        assert send(smtp, tls, tampered, [f"user@{DOMAIN}"])[0] == 550
        assert inbox.list() == []
        assert send(smtp, tls, signed, [f"user@{DOMAIN}"])[0] == 250
    assert [c.value for c in inbox.list()] == ["482913"]


def test_dkim_results(dns: Any, dkim_key: tuple[bytes, bytes]) -> None:
    signed = code_mail("482913", sign=dkim_key[0])
    assert str(verify_dkim(signed, dns)) == "dkim=pass d=acme.example"
    assert verify_dkim(signed.replace(b"482913", b"482914"), dns).result == "fail"
    assert verify_dkim(code_mail("482913"), dns).result == "none"


def test_configuration_errors(inbox: Inbox, tls: Tls) -> None:
    with pytest.raises(ConfigurationError, match="smtp-domain"):
        SmtpReceiver(inbox, [], port=free_port())
    with pytest.raises(ConfigurationError, match="both"):
        SmtpReceiver(inbox, [DOMAIN], port=free_port(), tls_cert=tls.cert)


@pytest.mark.slow
def test_vaults_serve_smtp_port(sqlite_url: str, tls: Tls, tmp_path: Path) -> None:
    http_port, smtp_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAULTS_")}
    env |= {"VAULTS_STORE": sqlite_url, "VAULTS_API_KEY": "serve-key-canary-0123456789"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("vaults")), "serve", "--port", str(http_port),
         "--smtp-port", str(smtp_port), "--smtp-domain", DOMAIN,
         "--smtp-cert", str(tls.cert), "--smtp-key", str(tls.key)],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                client = smtplib.SMTP("127.0.0.1", smtp_port, timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        with client:
            client.starttls(context=tls.client_context())
            client.sendmail("no-reply@acme.example", [f"user@{DOMAIN}"], code_mail("264810"))
        with Inbox(sqlite_url) as inbox:
            assert inbox.wait(f"user@{DOMAIN}", timeout=10).value == "264810"
    finally:
        server.terminate()
        _, err = server.communicate(timeout=10)
    assert "receiving SMTP" in err
