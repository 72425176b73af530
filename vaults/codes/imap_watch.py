"""Codes straight from a mailbox: watch an IMAP folder and push each new mail's code.

``vaults codes watch imap://USER@HOST[:PORT]/MAILBOX`` and :func:`watch_imap` /
:func:`awatch_imap` (needs ``vaults[mail]``: IMAPClient).

* ``imap://`` and ``imaps://`` are IMAP over TLS (port 993); ``imap+starttls://`` is plain
  IMAP upgraded with STARTTLS before login (port 143). The certificate is always verified:
  ``ca_file`` (``--ca-file``) or ``SSL_CERT_FILE`` adds a private CA.
* Login: ``password`` (``VAULTS_IMAP_PASSWORD``) or an OAuth2 access token
  (``VAULTS_IMAP_OAUTH_TOKEN``) with SASL XOAUTH2, as Gmail and Outlook require.
* Only mail arriving after the start is read: the folder's UIDNEXT and UIDVALIDITY are noted
  at the first SELECT and every later message is fetched by UID with ``BODY.PEEK[]``
  (nothing is marked read unless ``mark_seen``; nothing is ever deleted).
* IDLE (RFC 2177) is renewed every ``idle_renew`` seconds (default 24 minutes, under the 29
  the RFC allows), and the folder is re-read 0.3 s after each IDLE entry, then at doubling
  intervals up to a minute while nothing arrives: a server can miss mail committed while
  IDLE is being set up (Dovecot reports it only at its next 30-s check). A NOOP before each
  IDLE closes most of that window. A server without IDLE is polled every ``interval``
  seconds.
* A dropped connection is re-opened with exponential backoff (0.5 s doubling to 30 s); the
  watcher then fetches every UID from the last one it handled, so no message is lost or
  pushed twice. If the folder's UIDVALIDITY changed meanwhile, messages whose INTERNALDATE
  is after the drop are read instead.
* Each message goes to :func:`vaults.codes.mail_ingest.push_parsed_mail` with ``identifier``
  or, by default, the mail's recipient (the login name when the mail names none).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import imaplib
import logging
import os
import random
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anyio
from pydantic import SecretStr

from vaults.codes.mail_ingest import push_parsed_mail
from vaults.codes.mime import MAX_MESSAGE_BYTES, parse_mail, recipient_for
from vaults.codes.records import PushedCode
from vaults.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidInput,
    NoCode,
    VaultsError,
    VaultUnavailable,
)

if TYPE_CHECKING:
    from imapclient import IMAPClient

    from vaults.codes.inbox import Inbox

__all__ = [
    "DEFAULT_IDLE_RENEW",
    "DEFAULT_POLL_INTERVAL",
    "ImapTarget",
    "ImapWatcher",
    "awatch_imap",
    "parse_imap_url",
    "watch_imap",
]

PASSWORD_ENV: Final = "VAULTS_IMAP_PASSWORD"  # noqa: S105 - a variable name
OAUTH_TOKEN_ENV: Final = "VAULTS_IMAP_OAUTH_TOKEN"  # noqa: S105 - a variable name
DEFAULT_IDLE_RENEW: Final = 24 * 60.0
DEFAULT_POLL_INTERVAL: Final = 30.0
DEFAULT_TIMEOUT: Final = 30.0
_CHECK_EVERY: Final = 0.5
_RECHECK_FIRST: Final = 0.3
_RECHECK_MAX: Final = 60.0
_BACKOFF_FIRST: Final = 0.5
_BACKOFF_MAX: Final = 30.0

log = logging.getLogger("vaults.codes.imap")


class _Dropped(Exception):
    """The server closed the session (BYE, EOF): reconnect."""


@dataclass(frozen=True)
class ImapTarget:
    """Where to watch: parsed from ``imap[s|+starttls]://USER@HOST[:PORT]/MAILBOX``."""

    host: str
    port: int
    user: str
    mailbox: str
    starttls: bool

    def __str__(self) -> str:
        scheme = "imap+starttls" if self.starttls else "imaps"
        host = f"[{self.host}]" if ":" in self.host else self.host
        user = urllib.parse.quote(self.user, safe="@")
        return f"{scheme}://{user}@{host}:{self.port}/{self.mailbox}"


def parse_imap_url(url: str) -> ImapTarget:
    """Read ``imap://USER@HOST[:PORT]/MAILBOX`` (``imaps://``, ``imap+starttls://``).

    The user may be written with its ``@`` as is or as ``%40``; the mailbox defaults to
    INBOX. A password in the URL is refused (it would show in ``ps``).
    """
    if not isinstance(url, str) or "://" not in url:
        raise InvalidInput("the mailbox URL must look like imap://USER@HOST[:PORT]/MAILBOX")
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme not in ("imap", "imaps", "imap+starttls"):
        raise InvalidInput(
            f"unsupported mailbox URL scheme {scheme!r}: use imap://, imaps:// or imap+starttls://"
        )
    authority, _, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not at or not userinfo:
        raise InvalidInput("the mailbox URL needs a user: imap://USER@HOST/MAILBOX")
    if ":" in userinfo:
        raise InvalidInput(
            f"put the IMAP password in {PASSWORD_ENV}, not in the URL (it would show in ps)"
        )
    starttls = scheme == "imap+starttls"
    default_port = 143 if starttls else 993
    try:
        parsed = urllib.parse.urlsplit(f"//{hostport}")
        host = parsed.hostname
        port = parsed.port or default_port
    except ValueError:
        raise InvalidInput("the mailbox URL has a bad host or port") from None
    if not host:
        raise InvalidInput("the mailbox URL has no host")
    mailbox = urllib.parse.unquote(path.split("?", 1)[0].split("#", 1)[0]).strip("/") or "INBOX"
    return ImapTarget(
        host=host,
        port=port,
        user=urllib.parse.unquote(userinfo),
        mailbox=mailbox,
        starttls=starttls,
    )


def _secret(value: str | SecretStr | None) -> SecretStr | None:
    if value is None:
        return None
    secret = value if isinstance(value, SecretStr) else SecretStr(value)
    return secret if secret.get_secret_value() else None


class ImapWatcher:
    """Watches one IMAP folder; :meth:`run` blocks until ``stop`` is set.

    ``on_push(code)`` is called after each stored code; ``ready`` is set once the folder is
    selected and the watcher waits for mail (first time only).
    """

    def __init__(
        self,
        url: str | ImapTarget,
        inbox: Inbox,
        *,
        password: str | SecretStr | None = None,
        oauth_token: str | SecretStr | None = None,
        identifier: str | None = None,
        mark_seen: bool = False,
        interval: float = DEFAULT_POLL_INTERVAL,
        idle_renew: float = DEFAULT_IDLE_RENEW,
        ca_file: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
        on_push: Callable[[PushedCode], None] | None = None,
    ) -> None:
        self.target = url if isinstance(url, ImapTarget) else parse_imap_url(url)
        env = os.environ if env is None else env
        self._password = _secret(password) or _secret(env.get(PASSWORD_ENV))
        self._token = _secret(oauth_token) or _secret(env.get(OAUTH_TOKEN_ENV))
        if oauth_token is not None and password is None:
            self._password = None
        if self._password is None and self._token is None:
            raise ConfigurationError(
                f"no IMAP credentials: set {PASSWORD_ENV} or {OAUTH_TOKEN_ENV}"
            )
        for name, value in (("interval", interval), ("idle_renew", idle_renew)):
            if not isinstance(value, int | float) or not 0 < value < 1e6:
                raise InvalidInput(f"{name} must be a positive number of seconds")
        self.inbox = inbox
        self.identifier = identifier
        self.mark_seen = mark_seen
        self.interval = float(interval)
        self.idle_renew = float(idle_renew)
        self.timeout = timeout
        cafile = str(ca_file) if ca_file is not None else env.get("SSL_CERT_FILE") or None
        if cafile is not None and not Path(cafile).is_file():
            raise ConfigurationError(f"the CA file {cafile} does not exist")
        self._cafile = cafile
        self.on_push = on_push
        self.ready = threading.Event()
        self.uidvalidity: int | None = None
        self.next_uid: int | None = None
        self._alive_at: float | None = None
        self.idling = False
        self._idle_since = 0.0

    # -- connection -----------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self._cafile is not None:
            try:
                context.load_verify_locations(cafile=self._cafile)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(f"cannot read the CA file {self._cafile}: {exc}") from None
        return context

    def _connect(self) -> IMAPClient:
        from imapclient import IMAPClient
        from imapclient.exceptions import IMAPClientError, LoginError

        target = self.target
        where = f"{target.host}:{target.port}"
        context = self._ssl_context()
        try:
            client = IMAPClient(
                target.host,
                port=target.port,
                ssl=not target.starttls,
                ssl_context=context,
                timeout=self.timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            raise VaultUnavailable(
                f"the TLS certificate of {where} is not trusted ({exc.verify_message}); "
                "trust its CA with --ca-file or SSL_CERT_FILE"
            ) from None
        except (OSError, IMAPClientError, imaplib.IMAP4.error) as exc:
            raise VaultUnavailable(f"cannot reach the IMAP server {where}: {exc}") from None
        try:
            if target.starttls:
                try:
                    client.starttls(context)
                except ssl.SSLCertVerificationError as exc:
                    raise VaultUnavailable(
                        f"the TLS certificate of {where} is not trusted ({exc.verify_message}); "
                        "trust its CA with --ca-file or SSL_CERT_FILE"
                    ) from None
            try:
                if self._token is not None:
                    client.oauth2_login(target.user, self._token.get_secret_value())
                else:
                    assert self._password is not None
                    client.login(target.user, self._password.get_secret_value())
            except LoginError:
                raise AuthenticationFailed(
                    f"the IMAP server {where} refused the login of {target.user!r}"
                ) from None
        except BaseException:
            _close(client)
            raise
        return client

    # -- the watch loop ---------------------------------------------------------------------------
    def run(self, stop: threading.Event | None = None) -> None:
        """Watch until ``stop`` is set. The first connection's failures raise
        (:class:`~vaults.errors.VaultUnavailable`, :class:`~vaults.errors.AuthenticationFailed`,
        :class:`~vaults.errors.ConfigurationError`); later drops are retried with backoff
        (a refused login or a vanished folder still raises)."""
        stop = stop if stop is not None else threading.Event()
        backoff = _BACKOFF_FIRST
        self._warm_up()
        while not stop.is_set():
            try:
                client = self._connect()
            except VaultUnavailable as exc:
                if self.uidvalidity is None:
                    raise
                log.warning("IMAP reconnect failed: %s; next try in %.1f s", exc, backoff)
                stop.wait(backoff * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
                backoff = min(backoff * 2, _BACKOFF_MAX)
                continue
            try:
                self._select(client)
                backoff = _BACKOFF_FIRST
                self._watch(client, stop)
            except (_Dropped, OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error) as exc:
                protocol_error = isinstance(exc, imaplib.IMAP4.error) and not isinstance(
                    exc, imaplib.IMAP4.abort
                )
                if protocol_error and self.uidvalidity is None:
                    raise VaultUnavailable(f"IMAP error: {exc}") from None
                self.idling = False
                log.warning("IMAP connection lost (%s); reconnecting", _reason(exc))
                stop.wait(backoff * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except VaultUnavailable as exc:  # the code store failed: retry from next_uid
                log.warning("%s; retrying in %.1f s", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX)
            except (AuthenticationFailed, ConfigurationError):
                raise
            except Exception as exc:  # a server answer the client library chokes on
                if self.uidvalidity is None:
                    raise VaultUnavailable(f"IMAP session failed: {_reason(exc)}") from None
                log.error("IMAP session failed (%s); reconnecting", _reason(exc))
                stop.wait(backoff * random.uniform(0.8, 1.2))  # noqa: S311 - jitter
                backoff = min(backoff * 2, _BACKOFF_MAX)
            finally:
                self.idling = False
                _close(client)

    def _warm_up(self) -> None:
        """Load the extractor plugins, compile their rules and open the store now, so that
        the first mail costs no more than the others (and a bad store fails at start)."""
        self.inbox.host.extract_code("Your code is 000000", "email")
        self.inbox.list(limit=1)

    def _select(self, client: IMAPClient) -> None:
        from imapclient.exceptions import IMAPClientError

        target = self.target
        try:
            info = client.select_folder(target.mailbox, readonly=not self.mark_seen)
        except IMAPClientError as exc:
            if isinstance(exc, imaplib.IMAP4.abort):
                raise
            raise ConfigurationError(
                f"cannot open the folder {target.mailbox!r} on {target.host}: {exc}"
            ) from None
        validity = int(info[b"UIDVALIDITY"])
        uidnext = info.get(b"UIDNEXT")
        if uidnext is None:
            status = client.folder_status(target.mailbox, [b"UIDNEXT"])
            uidnext = status[b"UIDNEXT"]
        uidnext = int(uidnext)
        if self.uidvalidity is None:
            self.uidvalidity, self.next_uid = validity, uidnext
            log.info("watching %s from UID %d", target, uidnext)
        elif validity != self.uidvalidity:
            log.warning(
                "the folder %s was recreated (UIDVALIDITY %d → %d); reading mail by arrival date",
                target.mailbox,
                self.uidvalidity,
                validity,
            )
            self._catch_up_by_date(client)
            self.uidvalidity, self.next_uid = validity, uidnext
        self._catch_up(client)
        self._alive_at = time.time()

    def _watch(self, client: IMAPClient, stop: threading.Event) -> None:
        if client.has_capability("IDLE"):
            self._idle(client, stop)
        else:
            self._poll(client, stop)

    def _idle(self, client: IMAPClient, stop: threading.Event) -> None:
        self._enter_idle(client)
        self.ready.set()
        recheck = _RECHECK_FIRST
        while not stop.is_set():
            # Besides the RFC 2177 renewal, IDLE is left and the folder re-read 0.3 s after
            # every entry, then at doubling intervals while nothing arrives: a server can miss
            # mail committed while IDLE was being set up (Dovecot does) and report it only at
            # its own next periodic check, 30 s later.
            due = self._idle_since + min(recheck, self.idle_renew)
            asked = time.monotonic()
            if asked >= due:
                found = self._reidle(client)
                recheck = _RECHECK_FIRST if found else min(recheck * 2, _RECHECK_MAX)
                continue
            wait = max(0.01, min(_CHECK_EVERY, due - asked))
            responses = client.idle_check(timeout=wait)
            self._alive_at = time.time()
            if not responses:
                if time.monotonic() - asked < wait / 4:
                    # readable but no line: EOF, or a TLS record without data. DONE tells.
                    self._reidle(client)
                continue
            if any(_is_bye(r) for r in responses):
                raise _Dropped("the server said BYE")
            if any(_is_new_mail(r) for r in responses):
                self._reidle(client)
                recheck = _RECHECK_FIRST
        self._leave_idle(client)

    def _enter_idle(self, client: IMAPClient) -> int:
        """IDLE, after a NOOP that syncs the folder (and fetching what it reports); the
        number of messages fetched."""
        found = 0
        while True:
            _, responses = client.noop()
            if any(_is_bye(r) for r in responses):
                raise _Dropped("the server said BYE")
            if not any(_is_new_mail(r) for r in responses):
                break
            found += self._catch_up(client)
        client.idle()
        self.idling = True
        self._idle_since = time.monotonic()
        return found

    def _reidle(self, client: IMAPClient) -> int:
        """Leave IDLE, fetch what arrived (also what the server reported only in its answer
        to DONE), and IDLE again; the number of messages fetched."""
        responses = self._leave_idle(client)
        if any(_is_bye(r) for r in responses):
            raise _Dropped("the server said BYE")
        found = self._catch_up(client)
        return found + self._enter_idle(client)

    def _leave_idle(self, client: IMAPClient) -> list[Any]:
        self.idling = False
        _, responses = client.idle_done()
        return list(responses)

    def _poll(self, client: IMAPClient, stop: threading.Event) -> None:
        log.info("the server has no IDLE: checking every %g s", self.interval)
        self.ready.set()
        while not stop.wait(self.interval):
            client.noop()
            self._catch_up(client)
            self._alive_at = time.time()

    # -- fetching ---------------------------------------------------------------------------------
    def _catch_up(self, client: IMAPClient) -> int:
        """Fetch every message from ``next_uid`` on; the number fetched.

        A server may evaluate SEARCH before syncing and report a message that landed
        meanwhile only as an ``EXISTS`` at the end of that very command (Dovecot does); such
        a notice is looked for (imaplib keeps it aside) and answered with another SEARCH."""
        imap = client._imap  # the imaplib connection: its untagged EXISTS notices
        total = 0
        while True:
            assert self.next_uid is not None
            imap.response("EXISTS")  # forget notices from before this SEARCH
            first = self.next_uid
            uids = sorted(uid for uid in client.search(["UID", f"{first}:*"]) if uid >= first)
            for uid in uids:
                self._take(client, uid)
                self.next_uid = uid + 1
            total += len(uids)
            _, notices = imap.response("EXISTS")
            if not uids and not any(notices):
                return total

    def _catch_up_by_date(self, client: IMAPClient) -> None:
        if self._alive_at is None:
            return
        since = dt.datetime.fromtimestamp(self._alive_at - 1, dt.UTC)
        uids = client.search(["SINCE", since.date()])
        if not uids:
            return
        dates = client.fetch(uids, ["INTERNALDATE"])
        for uid in sorted(uids):
            when = dates.get(uid, {}).get(b"INTERNALDATE")
            if isinstance(when, dt.datetime):
                stamp = when.timestamp() if when.tzinfo else when.astimezone().timestamp()
                if stamp >= since.timestamp():
                    self._take(client, uid)

    def _take(self, client: IMAPClient, uid: int) -> None:
        fetched = client.fetch([uid], [f"BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>"]).get(uid, {})
        raw = next(
            (v for k, v in fetched.items() if isinstance(k, bytes) and k.startswith(b"BODY[")),
            None,
        )
        if not isinstance(raw, bytes):
            log.info("message UID %d vanished before it could be read", uid)
            return
        self._push(raw, uid)
        if self.mark_seen:
            from imapclient import SEEN

            client.add_flags([uid], [SEEN])

    def _push(self, raw: bytes, uid: int) -> None:
        try:
            mail = parse_mail(raw)
        except InvalidInput as exc:
            log.info("message UID %d skipped: %s", uid, exc)
            return
        except Exception as exc:  # a message the parser cannot take must not stop the watch
            log.error("message UID %d cannot be read (%s); skipped", uid, type(exc).__name__)
            return
        who = self.identifier or recipient_for(mail) or self.target.user
        try:
            code = push_parsed_mail(self.inbox, mail, identifier=who)
        except NoCode:
            log.info("message UID %d holds no code or magic link", uid)
            return
        except VaultUnavailable:
            raise
        except VaultsError as exc:
            log.info("message UID %d skipped: %s", uid, exc.message)
            return
        except Exception as exc:
            log.error("message UID %d cannot be read (%s); skipped", uid, type(exc).__name__)
            return
        log.info("stored a %s for %s from message UID %d", _kind(code), code.identifier, uid)
        if self.on_push is not None:
            self.on_push(code)


def _kind(code: PushedCode) -> str:
    return "magic link" if code.otp_type == "magic_link" else "code"


def _is_bye(response: Any) -> bool:
    return isinstance(response, tuple) and bool(response) and response[0] == b"BYE"


def _is_new_mail(response: Any) -> bool:
    return (
        isinstance(response, tuple)
        and len(response) >= 2
        and isinstance(response[0], int)
        and response[1] in (b"EXISTS", b"RECENT")
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _close(client: IMAPClient) -> None:
    with contextlib.suppress(Exception):  # closing a broken session must not raise
        client.shutdown()


def watch_imap(
    url: str,
    *,
    inbox: Inbox | None = None,
    store_url: str | None = None,
    password: str | SecretStr | None = None,
    oauth_token: str | SecretStr | None = None,
    identifier: str | None = None,
    mark_seen: bool = False,
    interval: float = DEFAULT_POLL_INTERVAL,
    ca_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    stop: threading.Event | None = None,
    on_push: Callable[[PushedCode], None] | None = None,
) -> None:
    """Watch the IMAP folder ``url`` and push each new mail's code into ``inbox`` (default:
    ``Inbox(store_url)``) until ``stop`` is set (or forever). See the module docs."""
    from vaults.codes.inbox import Inbox

    own = inbox is None
    box = inbox if inbox is not None else Inbox(store_url, env=env)
    try:
        watcher = ImapWatcher(
            url,
            box,
            password=password,
            oauth_token=oauth_token,
            identifier=identifier,
            mark_seen=mark_seen,
            interval=interval,
            ca_file=ca_file,
            env=env,
            on_push=on_push,
        )
        watcher.run(stop)
    finally:
        if own:
            box.close()


async def awatch_imap(
    url: str,
    *,
    inbox: Inbox | None = None,
    store_url: str | None = None,
    password: str | SecretStr | None = None,
    oauth_token: str | SecretStr | None = None,
    identifier: str | None = None,
    mark_seen: bool = False,
    interval: float = DEFAULT_POLL_INTERVAL,
    ca_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    on_push: Callable[[PushedCode], None] | None = None,
) -> None:
    """Async :func:`watch_imap` (asyncio or trio through anyio): runs until cancelled; the
    connection is closed within half a second of the cancellation."""
    stop = threading.Event()
    try:
        await anyio.to_thread.run_sync(
            partial(
                watch_imap,
                url,
                inbox=inbox,
                store_url=store_url,
                password=password,
                oauth_token=oauth_token,
                identifier=identifier,
                mark_seen=mark_seen,
                interval=interval,
                ca_file=ca_file,
                env=env,
                stop=stop,
                on_push=on_push,
            ),
            abandon_on_cancel=True,
        )
    finally:
        stop.set()
