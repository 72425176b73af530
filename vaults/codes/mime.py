"""Raw RFC 822 mail → the text a code is read from, and who the mail was for.

One reader serves every mail path (``vaults codes push --mime``, the SMTP receiver, the
``/v1/inbound/mime`` endpoint, provider webhooks that send raw MIME, the IMAP watcher):

* bodies: ``text/plain`` is read first, the HTML alternative when it holds clearly more
  text (a "view this mail in a browser" stub), the other as a fall-back; quoted-printable
  and base64; the charsets of :data:`vaults.codes.mail_rules.CHARSET_SUPERSETS` and every
  codec Python knows; RFC 2047 encoded words in headers; attachments skipped;
* forwarded mail: a ``message/rfc822`` part (Outlook's "forward as attachment") or an inline
  "Forwarded message" block (Gmail, Outlook, Apple Mail, Thunderbird): the code is read from
  the inner message first, so the forwarder's own text and signature do not compete;
* the recipient: the inner message's ``To`` for a forward, else the envelope recipient when
  the message names it, else the ``To`` header (a forwarding rule keeps it), else the
  envelope, ``X-Original-To`` or ``Delivered-To``.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.utils
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.message import Message
from typing import Final

from vaults.codes._html import html_to_text
from vaults.codes.mail_rules import (
    CHARSET_SUPERSETS,
    FORWARD_HEADER_KEYS,
    FORWARD_MARKERS,
    FORWARD_TO_KEYS,
)
from vaults.errors import InvalidInput

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MailMessage",
    "decode_text",
    "header_text",
    "mail_from_fields",
    "parse_mail",
    "recipient_for",
]

MAX_MESSAGE_BYTES: Final = 10 * 1024 * 1024
"""Larger raw messages are refused (a code mail is a few kilobytes; attachments aside)."""

_MAX_DEPTH: Final = 12
_MAX_PARTS: Final = 500
_ADDRESS: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_FOLD: Final = re.compile(r"\r?\n[ \t]+")
_MARKERS: Final = frozenset(FORWARD_MARKERS)
_HEADER_LINE: Final = re.compile(r"^[\s>*]*([^\s:：*][^:：]{0,24}?)\**\s*[:：]\**\s*(.*)$")


@dataclass(frozen=True)
class MailMessage:
    """What was read out of one raw message.

    ``bodies``: texts to look for the code in, best first (the inner message's before the
    outer one's for a forward; HTML kept as HTML for the extractor); ``subject`` is
    searched last. ``to``: the read message's ``To``/``Cc`` addresses; ``delivered_to``:
    the outer ``X-Original-To``/``Delivered-To``/``X-Forwarded-For`` addresses.
    """

    subject: str = field(repr=False)  # a subject may hold the code
    sender: str | None
    to: tuple[str, ...]
    delivered_to: tuple[str, ...]
    bodies: tuple[str, ...] = field(repr=False)
    forwarded: bool = False

    def contents(self) -> list[str]:
        """The texts to search, best first: bodies, then the subject."""
        texts = [body for body in self.bodies if body.strip()]
        if self.subject.strip():
            texts.append(self.subject)
        return texts


# -- decoding ---------------------------------------------------------------------------------
def _codec(charset: str | None) -> str | None:
    name = (charset or "").strip().strip("\"'").lower()
    if not name:
        return None
    name = CHARSET_SUPERSETS.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):  # unknown name, or one with a NUL byte
        return None


def _mislabelled_utf8(data: bytes, codec: str) -> bool:
    """Bytes labelled with a legacy charset that are in fact valid UTF-8 with several
    multi-byte sequences (Outlook Express and web forms do this): read them as UTF-8.
    Text in a legacy charset is almost never valid UTF-8 by chance."""
    if codec in ("utf-8", "utf-7") or codec.startswith(("utf-16", "utf-32", "iso2022")):
        return False
    if sum(1 for byte in data[:4096] if byte >= 0xC0) < 4:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode_text(data: bytes, charset: str | None) -> str:
    """``data`` as text: the declared charset (or its superset); undeclared, ASCII-labelled or
    unknown charsets as UTF-8 when that fits, else windows-1252. Never raises."""
    codec = _codec(charset)
    if codec is None or codec in ("cp1252", "ascii") or _mislabelled_utf8(data, codec):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("cp1252", errors="replace")
    try:
        return data.decode(codec, errors="replace")
    except Exception:  # a codec can fail on input errors="replace" does not cover
        return data.decode("utf-8", errors="replace")


def _raw_header(value: object) -> str:
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # 8-bit bytes in a header
        raw = text.encode("ascii", errors="surrogateescape")
        text = decode_text(raw, None)
    return _FOLD.sub(" ", text).replace("\r", "").replace("\n", " ")


def header_text(msg: Message, name: str) -> str:
    """All ``name`` headers, RFC 2047 words decoded, joined by ", "."""
    values = msg.get_all(name) or []
    out: list[str] = []
    for value in values:
        text = _raw_header(value)
        try:
            # 8-bit bytes make compat32 hand out a Header (charset unknown-8bit)
            chunks = email.header.decode_header(value if isinstance(value, Header) else text)
        except Exception:
            out.append(text)
            continue
        pieces: list[str] = []
        for chunk, charset in chunks:
            if isinstance(chunk, bytes):
                pieces.append(decode_text(chunk, charset))
            else:
                pieces.append(chunk)
        out.append("".join(pieces).strip())
    return ", ".join(part for part in out if part)


def _addresses(text: str) -> list[str]:
    found: list[str] = []
    try:
        pairs = email.utils.getaddresses([text])
    except Exception:
        pairs = []
    for _, address in pairs:
        address = address.strip().strip("<>")
        if _ADDRESS.fullmatch(address) and address not in found:
            found.append(address)
    for address in _ADDRESS.findall(text):  # mangled headers getaddresses gave up on
        if address not in found:
            found.append(address)
    return found


def _header_addresses(msg: Message, *names: str) -> tuple[str, ...]:
    found: list[str] = []
    for name in names:
        for address in _addresses(header_text(msg, name)):
            if address.lower() not in (f.lower() for f in found):
                found.append(address)
    return tuple(found)


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        if not isinstance(raw, str):
            return ""
        payload = raw.encode("ascii", errors="surrogateescape")
    return decode_text(payload, part.get_content_charset())


# -- walking the MIME tree ----------------------------------------------------------------------
@dataclass
class _Texts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    inner: list[Message] = field(default_factory=list)
    parts: int = 0


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).split(";", 1)[0].strip().lower()
    return disposition == "attachment"


def _collect(part: Message, texts: _Texts, depth: int) -> None:
    texts.parts += 1
    if depth > _MAX_DEPTH or texts.parts > _MAX_PARTS:
        return
    ctype = part.get_content_type()
    if ctype in ("message/rfc822", "message/global"):
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            texts.inner.append(inner[0])
        elif isinstance(inner, str) and inner.strip():  # left unparsed: parse it now
            texts.inner.append(email.message_from_string(inner))
        return
    if part.is_multipart():
        payload = part.get_payload()
        if isinstance(payload, list):
            for sub in payload:
                if isinstance(sub, Message):
                    _collect(sub, texts, depth + 1)
        return
    if _is_attachment(part):
        return
    if ctype == "text/plain":
        texts.plain.append(_part_text(part))
    elif ctype == "text/html":
        texts.html.append(_part_text(part))


def _holds_more(html_visible: str, plain: str) -> bool:
    html_words = len(html_visible.split())
    plain_words = len(plain.split())
    return plain_words == 0 or html_words > 2 * plain_words + 20


def _ordered_bodies(plain: str, html: str) -> list[str]:
    if not html.strip():
        return [plain]
    if not plain.strip():
        return [html]
    if _holds_more(html_to_text(html).visible, plain):
        return [html, plain]
    return [plain, html]


# -- inline forwards ----------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)  # its text holds the code
class _InlineForward:
    body: str
    to: tuple[str, ...]
    subject: str = field(repr=False)  # a subject may hold the code


def _is_marker(line: str) -> bool:
    core = line.strip().strip("-_=*:>⸺— \t").strip().casefold()
    return core in _MARKERS


def _find_inline_forward(text: str) -> _InlineForward | None:
    lines = text.splitlines()
    for index, line in enumerate(lines):
        outlook_rule = (
            len(line.strip()) >= 10
            and set(line.strip()) == {"_"}
            and index + 1 < len(lines)
            and _header_key(lines[index + 1]) is not None
        )
        if not (_is_marker(line) or outlook_rule):
            continue
        headers: dict[str, str] = {}
        cursor = index + 1
        while cursor < len(lines) and not lines[cursor].strip() and cursor < index + 3:
            cursor += 1
        while cursor < len(lines):
            key = _header_key(lines[cursor])
            if key is None:
                break
            name, value = key
            headers.setdefault(name, value)
            cursor += 1
        if not headers:
            continue
        to = tuple(
            address
            for name, value in headers.items()
            if name in FORWARD_TO_KEYS
            for address in _addresses(value)
        )
        subject = next((value for name, value in headers.items() if name in _SUBJECT_KEYS), "")
        return _InlineForward("\n".join(lines[cursor:]), to, subject)
    return None


_SUBJECT_KEYS: Final = frozenset(
    {"subject", "betreff", "objet", "asunto", "oggetto", "assunto", "onderwerp", "emne",
     "ämne", "temat", "předmět", "тема", "件名", "主题"}
)  # fmt: skip


def _header_key(line: str) -> tuple[str, str] | None:
    match = _HEADER_LINE.match(line)
    if match is None:
        return None
    name = match.group(1).strip().casefold()
    if name not in FORWARD_HEADER_KEYS:
        return None
    return name, match.group(2).strip()


# -- the message ---------------------------------------------------------------------------------
def _read(msg: Message, depth: int) -> MailMessage:
    texts = _Texts()
    _collect(msg, texts, 0)
    subject = header_text(msg, "Subject")
    sender = _header_addresses(msg, "From")
    to = _header_addresses(msg, "To", "Cc")
    delivered = _header_addresses(msg, "X-Original-To", "Delivered-To", "X-Forwarded-For")
    if texts.inner and depth < _MAX_DEPTH:
        inner = _read(texts.inner[0], depth + 1)
        outer = mail_from_fields(subject=subject, plain=texts.plain, html=texts.html)
        return MailMessage(
            subject=inner.subject or subject,
            sender=inner.sender,
            to=inner.to or to,
            delivered_to=delivered,
            bodies=(*inner.bodies, *outer.bodies),
            forwarded=True,
        )
    return mail_from_fields(
        subject=subject,
        plain=texts.plain,
        html=texts.html,
        to=to,
        sender=sender[0] if sender else None,
        delivered_to=delivered,
    )


def mail_from_fields(
    *,
    subject: str = "",
    plain: str | Sequence[str] = "",
    html: str | Sequence[str] = "",
    to: Sequence[str] = (),
    sender: str | None = None,
    delivered_to: Sequence[str] = (),
) -> MailMessage:
    """A :class:`MailMessage` from a message already taken apart (the fields a provider
    webhook posts): same body order and inline-forward reading as :func:`parse_mail`.
    ``to`` may hold header text ("Name <a@b>, c@d")."""
    plain_text = plain if isinstance(plain, str) else "\n\n".join(t for t in plain if t.strip())
    html_text = html if isinstance(html, str) else "\n".join(t for t in html if t.strip())
    bodies = _ordered_bodies(plain_text, html_text)
    addresses = tuple(a for value in to for a in _addresses(value))
    searchable = plain_text if plain_text.strip() else html_to_text(html_text).visible
    forward = _find_inline_forward(searchable) if searchable.strip() else None
    if forward is not None and forward.body.strip():
        return MailMessage(
            subject=forward.subject or subject,
            sender=sender,
            to=forward.to or addresses,
            delivered_to=tuple(delivered_to),
            bodies=(forward.body, forward.subject, *bodies),
            forwarded=True,
        )
    return MailMessage(
        subject=subject,
        sender=sender,
        to=addresses,
        delivered_to=tuple(delivered_to),
        bodies=tuple(bodies),
    )


def parse_mail(raw: bytes | str) -> MailMessage:
    """Read one RFC 822 message (bytes as received; a ``str`` is taken as UTF-8).

    Raises :class:`~vaults.errors.InvalidInput` for an empty message, one over
    :data:`MAX_MESSAGE_BYTES`, or bytes without a header section.
    """
    data = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else raw
    if not isinstance(data, bytes | bytearray):
        raise InvalidInput("the message must be bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise InvalidInput(f"the message is larger than {MAX_MESSAGE_BYTES} bytes")
    if not data.strip():
        raise InvalidInput("the message is empty")
    msg = email.message_from_bytes(bytes(data))
    if not msg.keys():
        raise InvalidInput("the message has no header section (not RFC 822 mail)")
    return _read(msg, 0)


def recipient_for(mail: MailMessage, envelope: Sequence[str] = ()) -> str | None:
    """Whose code the mail holds: the forwarded message's recipient; else the envelope
    recipient the message itself names; else its ``To`` (a redirect or forwarding rule keeps
    the original one); else the envelope, ``X-Original-To`` or ``Delivered-To``."""
    if mail.forwarded and mail.to:
        return mail.to[0]
    named = {address.lower() for address in (*mail.to, *mail.delivered_to)}
    for recipient in envelope:
        if recipient.lower() in named:
            return recipient
    if mail.to:
        return mail.to[0]
    if envelope:
        return envelope[0]
    if mail.delivered_to:
        return mail.delivered_to[0]
    return None
