"""Push a mail (raw RFC 822 or already taken apart) into the codes inbox.

Every mail path ends here: ``vaults codes push --mime``, the SMTP receiver, the IMAP
watcher, ``POST /v1/inbound/mime`` and the Mailgun/SendGrid/Postmark webhooks. The texts of
:meth:`MailMessage.contents` are tried best first; the first one holding a code or magic
link is stored under the mail's recipient (:func:`~vaults.codes.mime.recipient_for`) unless
an identifier is given.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial

import anyio

from vaults.codes.inbox import MAX_CONTENT_LENGTH, Inbox
from vaults.codes.mime import MailMessage, parse_mail, recipient_for
from vaults.codes.records import PushedCode
from vaults.errors import InvalidInput, NoCode

__all__ = ["apush_mail", "push_mail", "push_parsed_mail"]

log = logging.getLogger("vaults.codes.mail")


def push_parsed_mail(
    inbox: Inbox,
    mail: MailMessage,
    *,
    identifier: str | None = None,
    envelope: Sequence[str] = (),
    source: str = "email",
    task_id: str | None = None,
    workflow_run_id: str | None = None,
) -> PushedCode:
    """Store the code of ``mail`` for ``identifier`` (default: its recipient).

    Raises :class:`~vaults.errors.NoCode` when no text of the mail holds a code or link,
    :class:`~vaults.errors.InvalidInput` when no recipient can be told.
    """
    who = identifier if identifier is not None else recipient_for(mail, envelope)
    if who is None or not who.strip():
        raise InvalidInput("the mail names no recipient: give the identifier explicitly")
    for content in mail.contents():
        text = content.replace("\x00", "")[:MAX_CONTENT_LENGTH]
        if not text.strip():
            continue
        try:
            return inbox.push(
                who, text, source=source, task_id=task_id, workflow_run_id=workflow_run_id
            )
        except NoCode:
            continue
    raise NoCode(f"no one-time code or magic link found in the mail for {who.strip()!r}")


def push_mail(
    inbox: Inbox,
    raw: bytes | str,
    *,
    identifier: str | None = None,
    envelope: Sequence[str] = (),
    source: str = "email",
    task_id: str | None = None,
    workflow_run_id: str | None = None,
) -> PushedCode:
    """Parse the raw RFC 822 message ``raw`` and store its code (see
    :func:`push_parsed_mail`)."""
    return push_parsed_mail(
        inbox,
        parse_mail(raw),
        identifier=identifier,
        envelope=envelope,
        source=source,
        task_id=task_id,
        workflow_run_id=workflow_run_id,
    )


async def apush_mail(
    inbox: Inbox,
    raw: bytes | str,
    *,
    identifier: str | None = None,
    envelope: Sequence[str] = (),
    source: str = "email",
) -> PushedCode:
    """Async :func:`push_mail` (parsing and storing run in a worker thread)."""
    return await anyio.to_thread.run_sync(
        partial(push_mail, inbox, raw, identifier=identifier, envelope=envelope, source=source)
    )
