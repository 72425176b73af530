"""Provider webhooks and the raw MIME endpoint of ``vaults serve`` (all under ``/v1/inbound/``).

Each provider's request is authenticated by that provider's own scheme, because providers
cannot always add an ``x-api-key`` header. A request that fails it gets 403 (401 with a
``Basic`` challenge when basic-auth credentials are missing) and nothing is stored; a
provider whose secret is not configured answers 404.

* ``POST /v1/inbound/twilio`` — Twilio SMS webhook (form ``To``, ``From``, ``Body``),
  checked with ``X-Twilio-Signature`` and ``TWILIO_AUTH_TOKEN``; answered with empty TwiML.
* ``POST /v1/inbound/mailgun`` (and ``…/mailgun/mime``) — a Mailgun route's ``forward()``:
  form fields (``recipient``, ``body-plain``…) or ``body-mime``; checked with the
  ``timestamp``/``token``/``signature`` HMAC-SHA256 and ``MAILGUN_WEBHOOK_SIGNING_KEY``
  (stale timestamps and reused tokens are refused).
* ``POST /v1/inbound/sendgrid`` — SendGrid Inbound Parse (multipart; parsed fields or the
  raw ``email``); basic auth in the URL, ``VAULTS_SENDGRID_AUTH=user:password``.
* ``POST /v1/inbound/postmark`` — Postmark inbound JSON (``TextBody``, ``HtmlBody``,
  ``RawEmail``…); basic auth in the URL, ``VAULTS_POSTMARK_AUTH=user:password``.
* ``POST /v1/inbound/mime`` — one raw RFC 822 message (``message/rfc822``) from SES→Lambda,
  procmail or ``sendmail`` pipes; ``x-api-key`` like the rest of the API.

Twilio signs the URL it called: behind a proxy that rewrites scheme, host or port, set
``VAULTS_PUBLIC_URL`` (e.g. ``https://codes.example.com``) so the same URL is checked.
Provider answers never contain a code (providers log them): mail webhooks answer
``{"stored": [{"totp_code_id", "totp_identifier", "otp_type"}]}``, an empty list when the
mail held no code (200 all the same, so the provider does not retry it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
import time
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from typing import Any, Final

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import SecretStr
from starlette.datastructures import FormData, UploadFile

from vaults.codes.inbox import Inbox
from vaults.codes.mail_ingest import push_parsed_mail
from vaults.codes.mime import (
    MAX_MESSAGE_BYTES,
    MailMessage,
    decode_text,
    mail_from_fields,
    parse_mail,
    recipient_for,
)
from vaults.codes.records import PushedCode, identifier_key
from vaults.codes.security import SlidingWindow, client_address
from vaults.errors import InvalidInput, NoCode

__all__ = [
    "EMPTY_TWIML",
    "MAILGUN_KEY_ENV",
    "MAIL_PREFIXES",
    "MAX_INBOUND_BYTES",
    "POSTMARK_AUTH_ENV",
    "PUBLIC_URL_ENV",
    "SENDGRID_AUTH_ENV",
    "SIGNED_PREFIXES",
    "TWILIO_TOKEN_ENV",
    "add_inbound_routes",
    "mailgun_signature",
    "twilio_signature",
]

TWILIO_TOKEN_ENV: Final = "TWILIO_AUTH_TOKEN"  # noqa: S105 - a variable name
MAILGUN_KEY_ENV: Final = "MAILGUN_WEBHOOK_SIGNING_KEY"
SENDGRID_AUTH_ENV: Final = "VAULTS_SENDGRID_AUTH"
POSTMARK_AUTH_ENV: Final = "VAULTS_POSTMARK_AUTH"
PUBLIC_URL_ENV: Final = "VAULTS_PUBLIC_URL"
PREFIX: Final = "/v1/inbound/"
SIGNED_PREFIXES: Final = (
    "/v1/inbound/twilio",
    "/v1/inbound/mailgun",
    "/v1/inbound/sendgrid",
    "/v1/inbound/postmark",
)
"""Routes authenticated by the provider's own scheme instead of ``x-api-key``."""
MAIL_PREFIXES: Final = (*SIGNED_PREFIXES[1:], "/v1/inbound/mime")
"""Routes that take whole mails (bodies up to :data:`MAX_INBOUND_BYTES`)."""
MAX_INBOUND_BYTES: Final = MAX_MESSAGE_BYTES + 4 * 1024 * 1024
"""Body limit of the mail routes: one message plus the multipart/JSON/base64 overhead."""
MAILGUN_MAX_AGE: Final = 15 * 60.0
EMPTY_TWIML: Final = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

log = logging.getLogger("vaults.codes.inbound")


# -- signatures (from the providers' documentation) ----------------------------------------------
def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Base64 HMAC-SHA1 of the full URL followed by each POST parameter's name and value,
    sorted by name (and value), as Twilio signs webhooks (``X-Twilio-Signature``)."""
    pairs = sorted(set(params))
    data = url + "".join(name + value for name, value in pairs)
    digest = hmac.new(auth_token.encode(), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """The URL with and without its default port (Twilio may sign either form)."""
    parts = urllib.parse.urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    variants = [url]
    if default is not None:
        if parts.port is None:
            variants.append(urllib.parse.urlunsplit(parts._replace(netloc=f"{host}:{default}")))
        elif parts.port == default:
            variants.append(urllib.parse.urlunsplit(parts._replace(netloc=host)))
    return variants


def mailgun_signature(signing_key: str, timestamp: str, token: str) -> str:
    """Hex HMAC-SHA256 of ``timestamp + token`` with the webhook signing key (Mailgun)."""
    message = (timestamp + token).encode("utf-8")
    return hmac.new(signing_key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        hashlib.sha256(given.encode("utf-8", "replace")).digest(),
        hashlib.sha256(expected.encode("utf-8", "replace")).digest(),
    )


class _SeenTokens:
    """Mailgun tokens already accepted (replays are refused), forgotten after max age."""

    def __init__(self, max_age: float, limit: int = 100_000) -> None:
        self.max_age = max_age
        self.limit = limit
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, token: str, now: float) -> bool:
        with self._lock:
            if len(self._seen) >= self.limit:
                cutoff = now - self.max_age
                self._seen = {t: at for t, at in self._seen.items() if at > cutoff}
                if len(self._seen) >= self.limit:
                    self._seen.pop(next(iter(self._seen)))
            if token in self._seen:
                return False
            self._seen[token] = now
            return True


# -- answers ------------------------------------------------------------------------------------
def _refused(detail: str = "signature does not match") -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=403)


def _off(name: str) -> JSONResponse:
    return JSONResponse({"detail": f"the {name} webhook is not enabled"}, status_code=404)


def _challenge() -> JSONResponse:
    return JSONResponse(
        {"detail": "basic authentication required"},
        status_code=401,
        headers={"WWW-Authenticate": 'Basic realm="vaults"'},
    )


def _stored(codes: Sequence[PushedCode]) -> JSONResponse:
    return JSONResponse(
        {
            "stored": [
                {"totp_code_id": c.id, "totp_identifier": c.identifier, "otp_type": c.otp_type}
                for c in codes
            ]
        }
    )


def _secret(env: Mapping[str, str], name: str) -> SecretStr | None:
    value = env.get(name, "").strip()
    return SecretStr(value) if value else None


def _basic_auth(request: Request, expected: SecretStr) -> JSONResponse | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return _challenge()
    try:
        given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return _refused("wrong credentials")
    if not _same(given, expected.get_secret_value()):
        return _refused("wrong credentials")
    return None


def _text(value: str | UploadFile | None) -> str:
    return value if isinstance(value, str) else ""


async def _raw(value: str | UploadFile | None) -> bytes | None:
    if isinstance(value, UploadFile):
        return await value.read(MAX_MESSAGE_BYTES + 1)
    if isinstance(value, str) and value.strip():
        return value.encode("utf-8", errors="surrogateescape")
    return None


class _OverQuota(Exception):
    def __init__(self, wait: float) -> None:
        super().__init__(wait)
        self.wait = wait


def _check_quota(quota: SlidingWindow | None, identifier: str | None) -> None:
    if quota is None or identifier is None:
        return
    try:
        key = identifier_key(identifier)
    except InvalidInput:
        return  # push_parsed_mail reports it
    wait = quota.hit(key)
    if wait is not None:
        raise _OverQuota(wait)


def _too_many(wait: float, what: str) -> JSONResponse:
    return JSONResponse({"detail": what}, status_code=429, headers={"Retry-After": f"{wait:.0f}"})


def _push_mail(
    box: Inbox,
    mail: MailMessage,
    envelope: Sequence[str],
    quota: SlidingWindow | None,
    identifier: str | None = None,
) -> list[PushedCode]:
    _check_quota(quota, identifier or recipient_for(mail, envelope))
    try:
        return [push_parsed_mail(box, mail, identifier=identifier, envelope=envelope)]
    except NoCode as exc:
        log.info("inbound mail skipped: %s", exc.message)
        return []
    except InvalidInput as exc:
        log.info("inbound mail skipped: %s", exc.message)
        return []


# -- the routes ---------------------------------------------------------------------------------
def add_inbound_routes(
    app: FastAPI,
    box: Inbox,
    env: Mapping[str, str],
    *,
    failures: SlidingWindow | None = None,
    quota: SlidingWindow | None = None,
) -> None:
    """Register the ``/v1/inbound/*`` routes on ``app``, configured from ``env``. The caller
    exempts :data:`SIGNED_PREFIXES` from the ``x-api-key`` check and allows bodies up to
    :data:`MAX_INBOUND_BYTES` under :data:`MAIL_PREFIXES`.

    ``failures``: the server's count of failed keys per client address; a refused signature
    counts as one, and a client past its limit gets 429 before its signature is looked at.
    ``quota``: pushes per identifier; over it, 429 with ``Retry-After`` (providers retry).
    """
    twilio_token = _secret(env, TWILIO_TOKEN_ENV)
    mailgun_key = _secret(env, MAILGUN_KEY_ENV)
    sendgrid_auth = _secret(env, SENDGRID_AUTH_ENV)
    postmark_auth = _secret(env, POSTMARK_AUTH_ENV)
    public_url = env.get(PUBLIC_URL_ENV, "").strip().rstrip("/") or None
    mailgun_tokens = _SeenTokens(MAILGUN_MAX_AGE)

    def signed_url(request: Request) -> str:
        if public_url is None:
            return str(request.url)
        query = request.url.query
        return f"{public_url}{request.url.path}" + (f"?{query}" if query else "")

    async def form(request: Request) -> FormData:
        try:
            return await request.form(
                max_files=100, max_fields=1000, max_part_size=MAX_INBOUND_BYTES
            )
        except Exception as exc:  # malformed multipart / urlencoded bodies
            raise InvalidInput(f"the form body cannot be read: {type(exc).__name__}") from None

    async def run(func: Any, *args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(partial(func, *args, **kwargs))

    def blocked(request: Request) -> JSONResponse | None:
        if failures is None:
            return None
        wait = failures.retry_after(client_address(request.scope))
        return None if wait is None else _too_many(wait, "too many refused requests")

    def refuse(request: Request, response: JSONResponse) -> JSONResponse:
        if failures is not None and response.status_code == 403:
            failures.add(client_address(request.scope))
        return response

    async def push_mail_answer(mail: MailMessage, envelope: Sequence[str]) -> JSONResponse:
        try:
            return _stored(await run(_push_mail, box, mail, envelope, quota))
        except _OverQuota as over:
            return _too_many(over.wait, "too many pushes a minute for this identifier")

    hidden: dict[str, Any] = {"include_in_schema": True, "tags": ["inbound"]}

    @app.post("/v1/inbound/twilio", summary="Twilio SMS webhook (X-Twilio-Signature)", **hidden)
    async def twilio(request: Request) -> Response:
        if twilio_token is None:
            return _off("Twilio")
        if (answer := blocked(request)) is not None:
            return answer
        data = await form(request)
        params = [(k, v) for k, v in data.multi_items() if isinstance(v, str)]
        given = request.headers.get("x-twilio-signature", "")
        token = twilio_token.get_secret_value()
        if not given or not any(
            _same(given, twilio_signature(token, url, params))
            for url in _url_variants(signed_url(request))
        ):
            log.warning("Twilio webhook refused: bad signature")
            return refuse(request, _refused())
        to = _text(data.get("To")).strip()
        body = _text(data.get("Body"))
        if to and body.strip():
            try:
                _check_quota(quota, to)
                code = await run(box.push, to, body, source="phone")
                log.info("stored a %s for %s from Twilio", code.otp_type, code.identifier)
            except (NoCode, InvalidInput) as exc:
                log.info("Twilio SMS skipped: %s", exc.message)
            except _OverQuota as over:
                return _too_many(over.wait, "too many pushes a minute for this identifier")
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def mailgun_handler(request: Request) -> Response:
        if mailgun_key is None:
            return _off("Mailgun")
        if (answer := blocked(request)) is not None:
            return answer
        data = await form(request)
        timestamp = _text(data.get("timestamp"))
        token = _text(data.get("token"))
        signature = _text(data.get("signature"))
        expected = mailgun_signature(mailgun_key.get_secret_value(), timestamp, token)
        if not (timestamp and token and signature) or not _same(signature, expected):
            log.warning("Mailgun webhook refused: bad signature")
            return refuse(request, _refused())
        now = time.time()
        try:
            age = abs(now - float(timestamp))
        except ValueError:
            return refuse(request, _refused("bad timestamp"))
        if age > MAILGUN_MAX_AGE:
            return refuse(request, _refused("stale timestamp"))
        if not mailgun_tokens.add(token, now):
            return refuse(request, _refused("token already used"))
        recipient = _text(data.get("recipient"))
        envelope = [r.strip() for r in recipient.split(",") if r.strip()]
        raw = await _raw(data.get("body-mime"))
        if raw is not None:
            mail = await run(parse_mail, raw)
        else:
            headers = _mailgun_headers(_text(data.get("message-headers")))
            mail = mail_from_fields(
                subject=_text(data.get("subject")),
                plain=_text(data.get("body-plain")),
                html=_text(data.get("body-html")),
                to=[v for v in (headers.get("to"), headers.get("cc")) if v] or envelope,
                sender=_text(data.get("sender")) or None,
            )
        return await push_mail_answer(mail, envelope)

    app.post("/v1/inbound/mailgun", summary="Mailgun route (signed form)", **hidden)(
        mailgun_handler
    )
    app.post("/v1/inbound/mailgun/mime", summary="Mailgun route, raw MIME", **hidden)(
        mailgun_handler
    )

    @app.post("/v1/inbound/sendgrid", summary="SendGrid Inbound Parse (basic auth)", **hidden)
    async def sendgrid(request: Request) -> Response:
        if sendgrid_auth is None:
            return _off("SendGrid")
        if (answer := blocked(request)) is not None:
            return answer
        refused = _basic_auth(request, sendgrid_auth)
        if refused is not None:
            return refuse(request, refused)
        data = await form(request)
        envelope = _sendgrid_envelope(_text(data.get("envelope")))
        raw = await _raw(data.get("email"))
        if raw is not None:
            mail = await run(parse_mail, raw)
        else:
            charsets = _json_object(_text(data.get("charsets")))

            def field(name: str) -> str:
                return _recode(_text(data.get(name)), charsets.get(name))

            mail = mail_from_fields(
                subject=field("subject"),
                plain=field("text"),
                html=field("html"),
                to=[field("to"), field("cc")],
                sender=field("from") or None,
            )
        return await push_mail_answer(mail, envelope)

    @app.post("/v1/inbound/postmark", summary="Postmark inbound JSON (basic auth)", **hidden)
    async def postmark(request: Request) -> Response:
        if postmark_auth is None:
            return _off("Postmark")
        if (answer := blocked(request)) is not None:
            return answer
        refused = _basic_auth(request, postmark_auth)
        if refused is not None:
            return refuse(request, refused)
        try:
            payload = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the body is not JSON") from None
        if not isinstance(payload, dict):
            raise InvalidInput("the body is not a JSON object")
        original = str(payload.get("OriginalRecipient") or "").strip()
        envelope = [original] if original else []
        raw_email = payload.get("RawEmail")
        if isinstance(raw_email, str) and raw_email.strip():
            mail = await run(parse_mail, raw_email.encode("utf-8", errors="surrogateescape"))
        else:
            to = [
                str(entry.get("Email", ""))
                for key in ("ToFull", "CcFull")
                for entry in (payload.get(key) or [])
                if isinstance(entry, dict)
            ] or [str(payload.get("To") or ""), str(payload.get("Cc") or "")]
            mail = mail_from_fields(
                subject=str(payload.get("Subject") or ""),
                plain=str(payload.get("TextBody") or ""),
                html=str(payload.get("HtmlBody") or ""),
                to=to,
                sender=str(payload.get("From") or "") or None,
            )
        return await push_mail_answer(mail, envelope)

    @app.post(
        "/v1/inbound/mime",
        summary="Push one raw RFC 822 message (x-api-key)",
        tags=["inbound"],
        responses={
            401: {"description": "Missing or wrong x-api-key"},
            413: {"description": "Body over the limit"},
            415: {"description": "Not message/rfc822"},
            422: {"description": "Not mail, no recipient, or no code in the message"},
        },
    )
    async def mime(
        request: Request,
        identifier: str | None = None,
        recipient: str | None = None,
        task_id: str | None = None,
        workflow_run_id: str | None = None,
    ) -> Response:
        from vaults.codes.server import TotpCodeOut

        ctype = request.headers.get("content-type", "message/rfc822").split(";")[0].strip()
        if ctype.lower() not in ("message/rfc822", "text/plain", "application/octet-stream"):
            return JSONResponse({"detail": "send the message as message/rfc822"}, status_code=415)
        raw = await request.body()
        mail = await run(parse_mail, raw)
        envelope = [recipient] if recipient else []
        try:
            _check_quota(quota, identifier or recipient_for(mail, envelope))
        except _OverQuota as over:
            return _too_many(over.wait, "too many pushes a minute for this identifier")
        code = await run(
            push_parsed_mail,
            box,
            mail,
            identifier=identifier,
            envelope=envelope,
            task_id=task_id,
            workflow_run_id=workflow_run_id,
        )
        return JSONResponse(TotpCodeOut.of(code).model_dump(mode="json"))


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _sendgrid_envelope(text: str) -> list[str]:
    to = _json_object(text).get("to")
    if isinstance(to, str):
        return [to]
    if isinstance(to, list):
        return [str(item) for item in to if isinstance(item, str)]
    return []


def _mailgun_headers(text: str) -> dict[str, str]:
    try:
        pairs = json.loads(text) if text.strip() else []
    except ValueError:
        return {}
    headers: dict[str, str] = {}
    if isinstance(pairs, list):
        for pair in pairs:
            if isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair):
                headers.setdefault(pair[0].lower(), pair[1])
    return headers


def _recode(value: str, charset: object) -> str:
    """A SendGrid field sent in a legacy charset: Starlette fell back to latin-1 for bytes
    that are not UTF-8, which gives the bytes back for :func:`decode_text`."""
    if not isinstance(charset, str) or charset.strip().lower() in ("utf-8", "utf8", ""):
        return value
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        return value  # it was valid UTF-8 after all
    return decode_text(raw, charset)
