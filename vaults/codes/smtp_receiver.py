"""An SMTP receiver for code mail (``vaults serve --smtp-port``; needs ``vaults[mail]``).

Point an MX record (or a forwarding rule) at it and every mail's code lands in the inbox:

* only recipients in the configured domains are accepted (``550 5.7.1`` otherwise): it is
  the final destination for those domains and never relays;
* STARTTLS with ``tls_cert``/``tls_key``; messages over ``size_limit`` bytes are refused
  (``SIZE`` is announced);
* the identifier is the envelope recipient, or the original recipient when the message was
  forwarded by a rule (Gmail, Outlook) — see :func:`vaults.codes.mime.recipient_for`;
* the DKIM signature is verified (``dkimpy``) and the result logged and given in the reply
  to ``DATA`` (``dkim=pass d=example.com``); with ``require_dkim`` a message without a passing
  signature is refused with ``550 5.7.20``.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from vaults.codes.inbox import Inbox
from vaults.codes.mail_ingest import push_parsed_mail
from vaults.codes.mime import MAX_MESSAGE_BYTES, parse_mail, recipient_for
from vaults.codes.records import identifier_key
from vaults.errors import ConfigurationError, InvalidInput, NoCode, VaultsError

__all__ = ["DkimResult", "SmtpReceiver", "verify_dkim"]

DnsFunc = Callable[..., bytes | None]
_DKIM_TIMEOUT: Final = 10.0

log = logging.getLogger("vaults.codes.smtp")


@dataclass(frozen=True)
class DkimResult:
    """``pass`` / ``fail`` / ``none`` (no signature) / ``temperror`` (key lookup failed)."""

    result: str
    domain: str | None = None

    def __str__(self) -> str:
        return f"dkim={self.result}" + (f" d={self.domain}" if self.domain else "")


def verify_dkim(raw: bytes, dnsfunc: DnsFunc | None = None) -> DkimResult:
    """Verify the first DKIM-Signature of ``raw`` (``dnsfunc``: the TXT lookup; default
    DNS through dnspython)."""
    import dkim

    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].lower()
    if b"\ndkim-signature:" not in b"\n" + head:
        return DkimResult("none")
    checker = dkim.DKIM(raw, logger=logging.getLogger("vaults.codes.smtp.dkim"))
    kwargs: dict[str, Any] = {"dnsfunc": dnsfunc} if dnsfunc is not None else {}
    try:
        ok = checker.verify(**kwargs)
    except dkim.DnsTimeoutError:
        return DkimResult("temperror")
    except dkim.DKIMException:
        ok = False
    domain = checker.domain.decode("ascii", "replace") if checker.domain else None
    return DkimResult("pass" if ok else "fail", domain)


class _Handler:
    def __init__(
        self,
        inbox: Inbox,
        domains: Iterable[str],
        *,
        require_dkim: bool,
        dkim_dns: DnsFunc | None,
        quota: Any | None,
    ) -> None:
        self.inbox = inbox
        self.domains = {d.strip().lower().rstrip(".") for d in domains if d.strip()}
        self.require_dkim = require_dkim
        self.dkim_dns = dkim_dns
        self.quota = quota

    def accepts(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower().rstrip(".")
        return "@" in address and domain in self.domains

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.accepts(address):
            log.info("SMTP recipient refused (not a configured domain)")
            return "550 5.7.1 Relaying denied: this server only receives mail for its domains"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", errors="surrogateescape")
        loop = asyncio.get_running_loop()
        try:
            dkim_result = await asyncio.wait_for(
                loop.run_in_executor(None, partial(verify_dkim, raw, self.dkim_dns)),
                _DKIM_TIMEOUT,
            )
        except TimeoutError:
            dkim_result = DkimResult("temperror")
        if self.require_dkim and dkim_result.result != "pass":
            log.info("SMTP message refused: %s", dkim_result)
            return "550 5.7.20 No passing DKIM signature found"
        try:
            mail = await loop.run_in_executor(None, parse_mail, raw)
        except InvalidInput as exc:
            return f"554 5.6.0 {exc.message}"
        stored = 0
        for recipient in dict.fromkeys(envelope.rcpt_tos):
            who = recipient_for(mail, [recipient]) or recipient
            if self.quota is not None and self.quota.hit(identifier_key(who)) is not None:
                return "451 4.7.1 Too many messages for this recipient; try again later"
            try:
                code = await loop.run_in_executor(
                    None, partial(push_parsed_mail, self.inbox, mail, identifier=who)
                )
            except NoCode:
                log.info("SMTP message for %s holds no code (%s)", who, dkim_result)
                continue
            except VaultsError as exc:
                if isinstance(exc, InvalidInput):
                    log.info("SMTP message skipped: %s", exc.message)
                    continue
                log.warning("SMTP message not stored: %s", exc.message)
                return "451 4.3.0 The code store is unavailable; try again later"
            stored += 1
            log.info("stored a %s for %s from SMTP (%s)", code.otp_type, who, dkim_result)
        return f"250 2.0.0 OK: {stored} code{'s' if stored != 1 else ''} stored ({dkim_result})"


class SmtpReceiver:
    """aiosmtpd on its own thread: ``start()`` / ``stop()`` (or a ``with`` block)."""

    def __init__(
        self,
        inbox: Inbox,
        domains: Iterable[str],
        *,
        host: str = "127.0.0.1",
        port: int = 2525,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        require_dkim: bool = False,
        size_limit: int = MAX_MESSAGE_BYTES,
        dkim_dns: DnsFunc | None = None,
        quota: Any | None = None,
        hostname: str | None = None,
    ) -> None:
        try:
            from aiosmtpd.controller import Controller
        except ImportError:
            raise ConfigurationError(
                "the SMTP receiver needs the mail extra: pip install 'vaults[mail]'"
            ) from None
        handler = _Handler(
            inbox, domains, require_dkim=require_dkim, dkim_dns=dkim_dns, quota=quota
        )
        if not handler.domains:
            raise ConfigurationError(
                "the SMTP receiver needs at least one --smtp-domain to receive mail for"
            )
        if (tls_cert is None) != (tls_key is None):
            raise ConfigurationError("give both --smtp-cert and --smtp-key for STARTTLS")
        tls_context = None
        if tls_cert is not None and tls_key is not None:
            tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            try:
                tls_context.load_cert_chain(str(tls_cert), str(tls_key))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(f"cannot load the SMTP certificate: {exc}") from None
        self.handler = handler
        self.host = host
        self.port = port
        self.controller = Controller(
            handler,
            hostname=host,
            port=port,
            server_hostname=hostname,
            data_size_limit=size_limit,
            tls_context=tls_context,
            require_starttls=False,
            timeout=60,
        )

    def start(self) -> SmtpReceiver:
        import dkim  # noqa: F401 - imported now, not while the first message waits

        try:
            self.controller.start()
        except (OSError, RuntimeError) as exc:
            raise ConfigurationError(
                f"cannot listen for SMTP on {self.host}:{self.port}: {exc}"
            ) from None
        self.port = self.controller.port
        log.info(
            "receiving SMTP on %s:%d for %s", self.host, self.port, sorted(self.handler.domains)
        )
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
