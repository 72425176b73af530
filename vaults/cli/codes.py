"""``vaults codes push|list|wait|extract|pull`` and ``vaults serve``.

The store is ``--store URL`` or ``VAULTS_STORE`` (``sqlite:///relative.db``,
``sqlite:////absolute/path.db``, ``postgresql://…``); default: SQLite in the user data
directory. Errors print one line and exit with the documented code (timeout 1, bad input 2,
store unreachable 4).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar, cast

import click

from vaults.cli.errors import fail
from vaults.cli.help import SummaryGroup

if TYPE_CHECKING:
    from vaults.codes.inbox import Inbox
    from vaults.codes.records import OtpType, PushedCode

__all__ = ["codes", "serve"]

F = TypeVar("F", bound=Callable[..., Any])

_SOURCES = ("email", "phone", "sms")  # sms: the HTTP API's word for phone
_OTP_TYPES = ("totp", "magic_link")


def _store_option(func: F) -> F:
    return click.option(
        "--store",
        "store_url",
        metavar="URL",
        default=None,
        help="Code store (default: $VAULTS_STORE, else SQLite in the user data directory).",
    )(func)


def _timeout_option(func: F) -> F:
    return click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=900.0,
        show_default=True,
        help="Give up after this many seconds (exit 1).",
    )(func)


def _open_inbox(store_url: str | None) -> Inbox:
    from vaults.codes.inbox import Inbox
    from vaults.codes.store_url import check_store_directory

    check_store_directory(store_url)
    return Inbox(store_url)


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _ago(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def _status_text(code: PushedCode, now: float) -> str:
    status = code.status(now)
    if status == "active":
        return f"active, {_ago(code.seconds_left(now))} left"
    return status


@click.group(cls=SummaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
def codes() -> None:
    """Codes that no TOTP secret produces: pushed e-mails/SMS, magic links, pull endpoints.

    \b
    A forwarding recipe pushes messages (or `vaults serve` receives them over HTTP); a host
    waits for "the code for user@example.com":
      echo "Your code is 482913" | vaults codes push --identifier user@example.com
      vaults codes wait --identifier user@example.com
    """


@codes.command()
@click.option(
    "--identifier",
    "-i",
    default=None,
    help="Who the code is for (e-mail, phone…); with --mime, default: the mail's recipient.",
)
@click.option("--source", type=click.Choice(_SOURCES), default=None, help="Message kind.")
@click.option("--content", default=None, help="The message text (default: read stdin).")
@click.option(
    "--mime",
    is_flag=True,
    help="stdin is one raw e-mail (RFC 822, e.g. a .eml file or a sendmail pipe).",
)
@click.option("--task-id", default=None, help="Tag the code with a task id.")
@click.option("--workflow-run-id", default=None, help="Tag the code with a workflow run id.")
@click.option("--json", "as_json", is_flag=True, help="Print the stored code as JSON.")
@_store_option
def push(
    identifier: str | None,
    source: str | None,
    content: str | None,
    mime: bool,
    task_id: str | None,
    workflow_run_id: str | None,
    as_json: bool,
    store_url: str | None,
) -> None:
    """Read the code or magic link out of a message and store it for waiters.

    \b
    With --mime the message is a whole e-mail: its text or HTML part, charset and
    transfer encoding are decoded, a forwarded message is read for its code, and the
    recipient is the identifier unless --identifier is given:
      vaults codes push --mime < message.eml
    """
    try:
        from vaults.errors import InvalidInput

        if mime and content is not None:
            raise InvalidInput("--mime reads the e-mail from stdin: drop --content")
        if not mime and identifier is None:
            raise InvalidInput("--identifier is required (or --mime to read it from the e-mail)")
        if sys.stdin.isatty() and content is None:
            click.echo("reading the message from stdin (end with Ctrl-D)…", err=True)
        with _open_inbox(store_url) as inbox:
            if mime:
                from vaults.codes.mail_ingest import push_mail

                code = push_mail(
                    inbox,
                    sys.stdin.buffer.read(),
                    identifier=identifier,
                    source=source or "email",
                    task_id=task_id,
                    workflow_run_id=workflow_run_id,
                )
            else:
                assert identifier is not None
                code = inbox.push(
                    identifier,
                    content if content is not None else sys.stdin.read(),
                    source=source,
                    task_id=task_id,
                    workflow_run_id=workflow_run_id,
                )
    except Exception as exc:
        fail(exc)
    if as_json:
        _print_json(code.public_dict())
    else:
        kind = "magic link" if code.otp_type == "magic_link" else "code"
        click.echo(
            f"stored {kind} for {code.identifier} ({code.id}, expires in "
            f"{_ago(code.seconds_left())})"
        )


@codes.command("list")
@click.option("--identifier", "-i", default=None, help="Only codes for this identifier.")
@click.option("--workflow-run-id", default=None, help="Only codes tagged with this run id.")
@click.option("--otp-type", type=click.Choice(_OTP_TYPES), default=None, help="Only this kind.")
@click.option(
    "--limit",
    type=click.IntRange(1, 200),
    default=50,
    show_default=True,
    help="At most this many (1-200).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_store_option
def list_codes(
    identifier: str | None,
    workflow_run_id: str | None,
    otp_type: str | None,
    limit: int,
    as_json: bool,
    store_url: str | None,
) -> None:
    """Pushed codes, newest first, expired and consumed ones included."""
    try:
        with _open_inbox(store_url) as inbox:
            found = inbox.list(
                identifier,
                workflow_run_id=workflow_run_id,
                otp_type=cast("OtpType | None", otp_type),
                limit=limit,
            )
    except Exception as exc:
        fail(exc)
    if as_json:
        _print_json([code.public_dict() for code in found])
        return
    if not found:
        click.echo("no codes", err=True)
        return
    now = time.time()
    for code in found:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(code.created_at))
        tags = " ".join(
            f"{name}={value}"
            for name, value in (
                ("source", code.source),
                ("task", code.task_id),
                ("run", code.workflow_run_id),
            )
            if value
        )
        click.echo(
            f"{when}  {code.identifier}  {code.otp_type:<10}  {code.value}  "
            f"[{_status_text(code, now)}]{'  ' + tags if tags else ''}"
        )


class _Countdown:
    """A one-line countdown on a terminal, erased when done."""

    def __init__(self, stream: IO[str], identifier: str, timeout: float) -> None:
        self._stream = stream
        self._label = identifier
        self._deadline = time.monotonic() + timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vaults-countdown", daemon=True)

    def __enter__(self) -> _Countdown:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._stream.write("\r\033[K")
        self._stream.flush()

    def _run(self) -> None:
        while not self._stop.is_set():
            left = max(0, int(self._deadline - time.monotonic() + 0.999))
            minutes, seconds = divmod(left, 60)
            self._stream.write(
                f"\r\033[Kwaiting for a code for {self._label} … {minutes}:{seconds:02d} left"
            )
            self._stream.flush()
            self._stop.wait(1.0)


@codes.command()
@click.option("--identifier", "-i", required=True, help="Whose code to wait for.")
@click.option(
    "--since",
    type=float,
    default=None,
    metavar="EPOCH",
    help="Only codes pushed after this time (epoch seconds; default: any unexpired code).",
)
@_timeout_option
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Fallback re-check period; pushes wake the waiter at once.",
)
@click.option("--consume", is_flag=True, help="Take the code: no other waiter gets it.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole record as JSON.")
@_store_option
def wait(
    identifier: str,
    since: float | None,
    timeout: float,
    interval: float,
    consume: bool,
    as_json: bool,
    store_url: str | None,
) -> None:
    """Wait for the newest unexpired code for an identifier; print it (or its link)."""
    show_countdown = sys.stdout.isatty() and sys.stderr.isatty()
    try:
        with (
            _open_inbox(store_url) as inbox,
            _Countdown(sys.stderr, identifier.strip(), timeout)
            if show_countdown
            else contextlib.nullcontext(),
        ):
            code = inbox.wait(
                identifier, since=since, timeout=timeout, interval=interval, consume=consume
            )
    except Exception as exc:
        fail(exc)
    if as_json:
        _print_json(code.public_dict())
    else:
        click.echo(code.value)


@codes.command()
@click.option("--source", type=click.Choice(_SOURCES), default=None, help="Message kind.")
def extract(source: str | None) -> None:
    """Read a message on stdin; print {"otp_type", "code"} as JSON, or exit 1 if none.

    "value" repeats "code" (an alias kept from earlier versions)."""
    try:
        from vaults.errors import NoCode
        from vaults.host import make_host

        found = make_host().extract_code(sys.stdin.read(), source)
        if found is None:
            raise NoCode("no one-time code or magic link found in the message")
    except Exception as exc:
        fail(exc)
    data: dict[str, Any] = {"otp_type": found.otp_type, "code": found.value, "value": found.value}
    if found.origin is not None:
        data["origin"] = found.origin
    click.echo(json.dumps(data, ensure_ascii=False))


@codes.command()
@click.option("--url", required=True, help="Your endpoint (POSTed a signed JSON body).")
@click.option(
    "--api-key",
    envvar="VAULTS_PULL_API_KEY",
    required=True,
    help="Key of the x-vaults-signature HMAC (or $VAULTS_PULL_API_KEY, kept out of `ps`).",
)
@click.option("--task-id", default=None, help="Sent as task_id.")
@click.option("--workflow-run-id", default=None, help="Sent as workflow_run_id.")
@click.option("--identifier", "-i", default=None, help="Sent as totp_identifier.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds between requests.",
)
@_timeout_option
@click.option("--json", "as_json", is_flag=True, help='Print {"otp_type", "value"} as JSON.')
def pull(
    url: str,
    api_key: str,
    task_id: str | None,
    workflow_run_id: str | None,
    identifier: str | None,
    interval: float,
    timeout: float,
    as_json: bool,
) -> None:
    """Ask your endpoint for the code until it has one; print it.

    A key taken from $VAULTS_PULL_API_KEY is sent only to endpoints under
    $VAULTS_PULL_ALLOWED when that is set (as resolve does); --api-key is sent as given.
    """
    try:
        from pydantic import SecretStr

        from vaults.codes.pull_endpoint import pull as pull_code
        from vaults.delivery import PULL_ALLOWED_ENV, PULL_API_KEY_ENV, global_key_allowed

        source = click.get_current_context().get_parameter_source("api_key")
        from_env = source is click.core.ParameterSource.ENVIRONMENT
        if from_env and not global_key_allowed(url, os.environ):
            from vaults.errors import ConfigurationError

            raise ConfigurationError(
                f"{url.split('?', 1)[0]} is not in {PULL_ALLOWED_ENV}, so {PULL_API_KEY_ENV} is "
                f"not sent to it: add the endpoint to {PULL_ALLOWED_ENV}, or give its key "
                "with --api-key"
            )

        found = pull_code(
            url,
            SecretStr(api_key),
            task_id=task_id,
            workflow_run_id=workflow_run_id,
            totp_identifier=identifier,
            interval=interval,
            timeout=timeout,
        )
    except Exception as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps({"otp_type": found.otp_type, "value": found.value}))
    else:
        click.echo(found.value)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn; a taken port is VaultUnavailable (exit 4)
    naming it, other bind failures say what the system said."""
    import errno

    from vaults.errors import ConfigurationError, VaultUnavailable

    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        raise ConfigurationError(f"--host {host!r} is not an address of this machine") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise VaultUnavailable(
                f"port {port} is in use on {host}: stop what listens there or pick another "
                "with --port"
            ) from None
        raise ConfigurationError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="TCP port to listen on (in use: exit 4).",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="How much the server logs (requests at info).",
)
@_store_option
@click.option(
    "--allowed-hosts",
    metavar="NAMES",
    default="",
    envvar="VAULTS_ALLOWED_HOSTS",
    help="Host header names accepted besides the bound address, comma-separated (the name "
    "forwarders use, e.g. codes.example.com; '*' for any). Env: VAULTS_ALLOWED_HOSTS.",
)
@click.option("--docs", is_flag=True, help="Serve the OpenAPI docs at /docs and /openapi.json.")
@click.option(
    "--insecure-short-key",
    is_flag=True,
    help="Accept keys shorter than 16 characters (never on a reachable address).",
)
@click.option(
    "--smtp-port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Also receive code mail over SMTP on this port (needs vaults[mail]).",
)
@click.option(
    "--smtp-domain",
    "smtp_domains",
    multiple=True,
    metavar="DOMAIN",
    help="Accept mail for this domain (repeat; required with --smtp-port; never relays).",
)
@click.option("--smtp-cert", type=click.Path(dir_okay=False), default=None, help="STARTTLS cert.")
@click.option("--smtp-key", type=click.Path(dir_okay=False), default=None, help="STARTTLS key.")
@click.option("--require-dkim", is_flag=True, help="Refuse mail without a passing DKIM signature.")
def serve(
    host: str,
    port: int,
    log_level: str,
    store_url: str | None,
    allowed_hosts: str,
    docs: bool,
    insecure_short_key: bool,
    smtp_port: int | None,
    smtp_domains: tuple[str, ...],
    smtp_cert: str | None,
    smtp_key: str | None,
    require_dkim: bool,
) -> None:
    """Run the HTTP API receiving pushed codes (needs: pip install 'vaults[server]').

    \b
    POST /v1/credentials/totp  {"totp_identifier", "content", "source", "task_id"?,
                                "workflow_run_id"?}
    GET  /v1/credentials/totp?totp_identifier=&workflow_run_id=&otp_type=&limit=
    Header x-api-key: $VAULTS_PUSH_KEY (comma-separated; may only push) or
    $VAULTS_API_KEY (may also read).
    POST /v1/inbound/mime (x-api-key) takes one raw e-mail; provider webhooks
    /v1/inbound/{twilio,mailgun,sendgrid,postmark} are checked with TWILIO_AUTH_TOKEN,
    MAILGUN_WEBHOOK_SIGNING_KEY, VAULTS_SENDGRID_AUTH, VAULTS_POSTMARK_AUTH (user:password).
    --smtp-port also receives code mail over SMTP for the --smtp-domain domains.
    """
    try:
        try:
            import uvicorn

            from vaults.codes.security import Limits, uvicorn_config
            from vaults.codes.server import create_app
        except ImportError:
            from vaults.errors import ConfigurationError

            raise ConfigurationError(
                "'vaults serve' needs the server extra: pip install 'vaults[server]'"
            ) from None
        import os

        from vaults.codes.store_url import check_store_directory

        check_store_directory(store_url)
        listener = _listen(host, port)  # before any work: a taken port is exit 4, said plainly
        hosts = [h.strip() for h in allowed_hosts.split(",") if h.strip()]
        limits = Limits.from_env(os.environ)
        app = create_app(
            store_url=store_url,
            allow_short_keys=insecure_short_key,
            docs=docs,
            allowed_hosts=hosts,
            limits=limits,
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            click.echo(
                f"warning: serving on {host}: other machines can reach the API; put TLS in "
                "front of it",
                err=True,
            )
            if not hosts:
                click.echo(
                    "warning: no --allowed-hosts: only requests naming the server's IP address "
                    "in Host are answered",
                    err=True,
                )
        config = uvicorn_config(app, host=host, port=port, limits=limits, log_level=log_level)
        smtp = None
        if smtp_port is not None:
            from vaults.codes.smtp_receiver import SmtpReceiver

            smtp = SmtpReceiver(
                app.state.inbox,
                smtp_domains,
                host=host,
                port=smtp_port,
                tls_cert=smtp_cert,
                tls_key=smtp_key,
                require_dkim=require_dkim,
                quota=app.state.push_quota,
            ).start()
            click.echo(
                f"receiving SMTP on {host}:{smtp_port} for {', '.join(smtp_domains)}", err=True
            )
        elif smtp_domains or smtp_cert or smtp_key or require_dkim:
            from vaults.errors import ConfigurationError

            raise ConfigurationError(
                "--smtp-domain, --smtp-cert, --smtp-key and --require-dkim need --smtp-port"
            )
        try:
            shown = f"[{host}]" if ":" in host else host
            click.echo(
                f"vaults serve: listening on http://{shown}:{listener.getsockname()[1]} "
                "(Ctrl-C stops)",
                err=True,
            )
            uvicorn.Server(config).run(sockets=[listener])
        finally:
            if smtp is not None:
                smtp.stop()
    except Exception as exc:
        fail(exc)


@codes.command()
@click.argument("url", metavar="imap://USER@HOST[:PORT]/MAILBOX")
@click.option(
    "--identifier",
    "-i",
    default=None,
    help="Store every code for this identifier (default: each mail's recipient).",
)
@click.option("--mark-seen", is_flag=True, help="Mark the mails read (default: untouched).")
@click.option(
    "--interval",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds between checks when the server has no IDLE.",
)
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False),
    default=None,
    help="PEM file of a private CA to trust (also: $SSL_CERT_FILE).",
)
@_store_option
def watch(
    url: str,
    identifier: str | None,
    mark_seen: bool,
    interval: float,
    ca_file: str | None,
    store_url: str | None,
) -> None:
    """Watch an IMAP folder (IDLE) and store the code of every mail that arrives.

    \b
    imap:// and imaps:// use TLS (port 993); imap+starttls:// upgrades port 143.
    Login with $VAULTS_IMAP_PASSWORD, or an OAuth2 access token in
    $VAULTS_IMAP_OAUTH_TOKEN (XOAUTH2, as Gmail and Outlook require).
    Only mail arriving after the start is read; runs until interrupted (Ctrl-C).
      VAULTS_IMAP_PASSWORD=… vaults codes watch imap://user%40example.com@mail.example.com/INBOX
    """
    import logging

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    for name in ("vaults.codes.imap", "vaults.codes.mail"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False  # the CLI's "warning: …" handler would print it again
    try:
        try:
            import imapclient  # noqa: F401
        except ImportError:
            from vaults.errors import ConfigurationError

            raise ConfigurationError(
                "'vaults codes watch' needs the mail extra: pip install 'vaults[mail]'"
            ) from None
        from vaults.codes.imap_watch import watch_imap

        stop = threading.Event()
        try:
            watch_imap(
                url,
                store_url=store_url,
                identifier=identifier,
                mark_seen=mark_seen,
                interval=interval,
                ca_file=ca_file,
                stop=stop,
            )
        except KeyboardInterrupt:
            stop.set()
    except Exception as exc:
        fail(exc)
