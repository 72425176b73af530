"""2FA codes inbox: pull one-time codes and magic links out of SMS, e-mail and push messages.

The ways a host gets a one-time code that no TOTP secret produces:

* :class:`Inbox` — codes pushed in (``push``; the HTTP API of ``vaults serve``), waited
  for with ``wait`` / ``await_wait``; stored in SQLite or PostgreSQL (``VAULTS_STORE``);
* :func:`pull` / :func:`apull` — asking the user's own endpoint, signed with
  :func:`sign_request` (timestamp, method, URL and body); endpoint authors check requests
  with :func:`verify_signature`;
* :mod:`vaults.codes.extract` — reading a code or magic link out of a message;
* :func:`watch_imap` / :func:`awatch_imap` — codes straight from an IMAP mailbox (IDLE);
  :func:`push_mail` / :func:`parse_mail` — raw RFC 822 mail; the SMTP receiver
  (:mod:`vaults.codes.smtp_receiver`) and provider webhooks (:mod:`vaults.codes.inbound`)
  of ``vaults serve``.

Names load lazily: ``import vaults.codes`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaults.codes.extract import ExtractedCode
    from vaults.codes.imap_watch import awatch_imap, watch_imap
    from vaults.codes.inbox import Inbox
    from vaults.codes.mail_ingest import push_mail
    from vaults.codes.mime import MailMessage, parse_mail
    from vaults.codes.pull_endpoint import apull, apull_once, pull, pull_once
    from vaults.codes.records import PushedCode
    from vaults.codes.signature import SIGNATURE_HEADER, sign_request, verify_signature

_LAZY = {
    "ExtractedCode": "vaults.codes.extract",
    "Inbox": "vaults.codes.inbox",
    "MailMessage": "vaults.codes.mime",
    "parse_mail": "vaults.codes.mime",
    "push_mail": "vaults.codes.mail_ingest",
    "watch_imap": "vaults.codes.imap_watch",
    "awatch_imap": "vaults.codes.imap_watch",
    "PushedCode": "vaults.codes.records",
    "pull": "vaults.codes.pull_endpoint",
    "apull": "vaults.codes.pull_endpoint",
    "pull_once": "vaults.codes.pull_endpoint",
    "apull_once": "vaults.codes.pull_endpoint",
    "SIGNATURE_HEADER": "vaults.codes.signature",
    "sign_request": "vaults.codes.signature",
    "verify_signature": "vaults.codes.signature",
}

__all__ = [
    "SIGNATURE_HEADER",
    "ExtractedCode",
    "Inbox",
    "MailMessage",
    "PushedCode",
    "apull",
    "apull_once",
    "awatch_imap",
    "parse_mail",
    "pull",
    "pull_once",
    "push_mail",
    "sign_request",
    "verify_signature",
    "watch_imap",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vaults.codes' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
