"""``vaults`` — resolve logins with their 2FA code from the command line."""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from vaults.cli.errors import EXIT_INTERRUPTED, fail, fail_usage
from vaults.cli.help import SummaryGroup, summary
from vaults.cli.params import EPOCH, SECONDS, SINCE

if TYPE_CHECKING:
    from vaults.models import Credential
    from vaults.plain import PlainCredential

__all__ = ["cli", "main"]

_LAZY_COMMANDS = {
    "codes": ("vaults.cli.codes", "codes", "Push, wait for, list and pull emailed/SMS codes."),
    "serve": ("vaults.cli.codes", "serve", "Run the HTTP API that receives pushed codes."),
    "set-totp": ("vaults.cli.set_totp", "set_totp", "Store a TOTP secret (key or QR) in an item."),
}


class _LazyGroup(SummaryGroup):
    """Subcommands that live in heavier modules are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in _LAZY_COMMANDS:
            return found
        module_name, attr, _help = _LAZY_COMMANDS[cmd_name]
        import importlib

        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            missing = exc.name or module_name
            raise click.ClickException(
                f"'vaults {cmd_name}' needs an optional part that is not installed ({missing}); "
                "install it with: pip install 'vaults[server]'"
            ) from None
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in _LAZY_COMMANDS and name not in self.commands:
                rows.append((name, _LAZY_COMMANDS[name][2]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, summary(command)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vaults", prog_name="vaults")
def cli() -> None:
    """Log in to websites that demand 2FA: username, password and a ready-to-type code.

    \b
    Exit codes: 0 ok; 1 not found, ambiguous, no code or a TOTP secret already set;
    2 usage, bad input or a vault that cannot store secrets; 3 vault locked or
    authentication failed; 4 vault unavailable or changed meanwhile; 70 internal error.
    Set VAULTS_DEBUG=1 to see tracebacks.
    """


def _json_text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def _print_json(data: Any) -> None:
    click.echo(_json_text(data))


@cli.command()
@click.argument("secret")
@click.option(
    "--at", "at", type=EPOCH, default=None, metavar="EPOCH", help="Epoch seconds (default: now)."
)
@click.option("--json", "as_json", is_flag=True, help="Also print the window and parameters.")
def totp(secret: str, at: float | None, as_json: bool) -> None:
    """Print the code for SECRET (base32, otpauth:// or steam://; '-' reads stdin).

    The exact code for that time: no "next code when few seconds are left" rule.
    Reading the secret from stdin keeps it out of the process list.
    otpauth://hotp/ prints the code for the URI's counter (nothing increments it);
    a Google Authenticator export (otpauth-migration://) prints every account's code.
    """
    from vaults.migration import is_migration_uri
    from vaults.totp_core import code_for_counter, parse_params

    try:
        raw = sys.stdin.readline() if secret == "-" else secret  # noqa: S105
        now = time.time() if at is None else at
        if is_migration_uri(raw):
            _totp_migration(raw, now, as_json)
            return
        params = parse_params(raw)
        _warn_if_short(params.secret)
        counter = params.counter if params.kind == "hotp" else int(now // params.period)
        code = code_for_counter(params, counter)
    except Exception as exc:
        fail(exc)
    if params.kind == "hotp":
        click.echo(
            f"note: HOTP code for counter {counter}; nothing increments the counter", err=True
        )
        if as_json:
            _print_json({"code": code, "type": "hotp", "counter": counter, "digits": params.digits})
        else:
            click.echo(code)
        return
    if as_json:
        _print_json(
            {
                "code": code,
                "valid_from": counter * params.period,
                "valid_until": (counter + 1) * params.period,
                "period": params.period,
                "digits": params.digits,
            }
        )
    else:
        click.echo(code)


def _warn_if_short(secret: str) -> None:
    """RFC 4226 asks for at least 128 bits and recommends 160; under 80 is weak."""
    bits = len(secret.rstrip("=")) * 5
    if bits < 80:
        click.echo(
            f"warning: this secret has only {bits} bits (at least 80 expected, 160 usual): "
            "check that it was copied whole",
            err=True,
        )


def _totp_migration(raw: str, now: float, as_json: bool) -> None:
    """One line (or JSON object) per account of a Google Authenticator export."""
    from vaults.migration import parse_migration
    from vaults.totp_core import code_for_counter, parse_params

    rows: list[dict[str, Any]] = []
    for account in parse_migration(raw):
        row: dict[str, Any] = {"name": account.name, "issuer": account.issuer}
        row["type"] = account.kind
        if account.uri is None:
            row["error"] = account.problem
        else:
            params = parse_params(account.uri)
            hotp = params.kind == "hotp"
            counter = params.counter if hotp else int(now // params.period)
            row["code"] = code_for_counter(params, counter)
            row["digits"] = params.digits
            if hotp:
                row["counter"] = counter
            else:
                row["valid_from"] = counter * params.period
                row["valid_until"] = (counter + 1) * params.period
        rows.append({**row, "label": account.label})
    if as_json:
        _print_json([{k: v for k, v in row.items() if k != "label"} for row in rows])
        return
    for row in rows:
        if "code" in row:
            extra = f"  (HOTP, counter {row['counter']})" if "counter" in row else ""
            click.echo(f"{row['code']}  {row['label']}{extra}")
        else:
            click.echo(f"-  {row['label']}  (not supported: {row['error']})")


def _human(cred: Credential | PlainCredential, reveal: bool, now: float) -> str:
    lines = [f"{cred.name}  ({cred.vault}, id {cred.id})"]
    lines.append(f"  username  {cred.username or '-'}")
    if cred.password is None:
        lines.append("  password  -")
    elif reveal:
        lines.append(f"  password  {cred.password.get_secret_value()}")
    else:
        lines.append("  password  ******** (--reveal to show)")
    for uri in cred.uris:
        lines.append(f"  uri       {uri}")
    if cred.totp is not None:
        left = max(0, int(cred.totp.valid_until - now))
        if cred.totp.valid_from > now:  # the few-seconds-left rule chose the next window's code
            start = time.strftime("%H:%M:%S", time.localtime(cred.totp.valid_from))
            when = f"next code, valid from {start} for {cred.totp.period} s"
        else:
            when = f"{left} s left"
        lines.append(f"  code      {cred.totp.code}  ({when}, source: {cred.totp_source})")
    elif cred.magic_link:
        lines.append(f"  link      {cred.magic_link}  (source: {cred.totp_source})")
    elif cred.totp_error:
        lines.append("  code      - (the item's TOTP secret gives no code: see the warning)")
    else:
        lines.append("  code      - (no TOTP secret on this item, and no code delivered)")
    for field in cred.fields:
        shown = field.public_dict(reveal=reveal)["value"]
        if shown is None:  # e.g. 1Password's empty notesPlain: a line saying nothing
            continue
        lines.append(f"  field     {field.name}: {shown}")
    return "\n".join(lines)


_SIMPLE_FIELDS = ("username", "password", "uri", "code", "totp", "magic_link", "id", "name")


def _field_value(cred: Credential | PlainCredential, name: str) -> str:
    from vaults.errors import ItemNotFound, NoCode

    key = name.lower()
    if key == "username":
        return cred.username or ""
    if key == "password":
        return cred.password.get_secret_value() if cred.password else ""
    if key in ("code", "totp"):
        if cred.totp is None:
            why = f": {cred.totp_error}" if cred.totp_error else ""
            raise NoCode(f"{cred.name!r} has no one-time code{why}")
        return cred.totp.code
    if key == "magic_link":
        if not cred.magic_link:
            raise NoCode(f"{cred.name!r} has no magic link")
        return cred.magic_link
    if key in ("id", "name"):
        return str(getattr(cred, key))
    if key in ("uri", "url"):
        if not cred.uris:
            raise ItemNotFound(f"{cred.name!r} has no URI")
        return cred.uris[0]
    if key == "uris":
        return "\n".join(cred.uris)
    custom = cred.field(name)
    if custom is None:
        valid = [*_SIMPLE_FIELDS, *(f.name for f in cred.fields)]
        raise ItemNotFound(f"{cred.name!r} has no field {name!r}; valid names: {', '.join(valid)}")
    return custom.value.get_secret_value() if custom.value is not None else ""


@cli.command()
@click.argument("ref", nargs=-1, required=True, metavar="REF")
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON shape.")
@click.option("--reveal", is_flag=True, help="Show the password instead of ********.")
@click.option(
    "--min-remaining",
    type=click.FloatRange(min=0),
    default=None,
    help="Use the next code when fewer seconds are left (default 20).",
)
@click.option(
    "--field",
    "field_name",
    default=None,
    help=f"Print only this value ({', '.join(_SIMPLE_FIELDS)} or a custom field's name); "
    'with --json: {"FIELD": value}.',
)
@click.option(
    "--totp-identifier",
    metavar="ID",
    default=None,
    help="Wait for a code pushed for this e-mail/phone (default: the item's totp_identifier).",
)
@click.option(
    "--totp-url",
    metavar="URL",
    default=None,
    help="Pull the code from this endpoint (default: the item's totp_url field).",
)
@click.option(
    "--totp-type",
    type=click.Choice(["authenticator", "email", "text"]),
    default=None,
    help="Where the code comes from (default: the item's totp_type field).",
)
@click.option(
    "--timeout",
    type=SECONDS,
    default=None,
    metavar="S",
    help="Wait at most S seconds for a pulled or pushed code (default 900; 0: look once).",
)
@click.option(
    "--no-wait",
    is_flag=True,
    help="Look once; without a code yet, print the login without one (exit 0).",
)
@click.option(
    "--since",
    type=SINCE,
    default=None,
    metavar="TIME",
    help="Accept inbox codes created after TIME: epoch seconds, ISO 8601 or -5m "
    "(default: when the command started).",
)
@click.option(
    "--allow-reprompt",
    is_flag=True,
    help="Also return items that ask for the master password again (Bitwarden re-prompt).",
)
@click.option(
    "--pull-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="S",
    help="Seconds between requests to a pull endpoint (default 10).",
)
@click.option(
    "--allow-foreign-links",
    is_flag=True,
    help="Accept magic links and origin-bound codes for another site than the item's URIs.",
)
def resolve(
    ref: tuple[str, ...],
    as_json: bool,
    reveal: bool,
    min_remaining: float | None,
    field_name: str | None,
    totp_identifier: str | None,
    totp_url: str | None,
    totp_type: str | None,
    timeout: float | None,
    no_wait: bool,
    since: float | None,
    pull_interval: float | None,
    allow_reprompt: bool,
    allow_foreign_links: bool,
) -> None:
    """Resolve REF (e.g. keepass://Title, bitwarden://Name, op://Vault/Item).

    \b
    The code comes from the item's TOTP secret, else its pull endpoint (--totp-url,
    signed with $VAULTS_PULL_API_KEY or the item's totp_api_key field), else the codes
    inbox (--totp-identifier; $VAULTS_STORE), waiting up to --timeout (exit 1 after).
    On a terminal, stderr shows what is awaited and a countdown.
    """
    countdown = None
    if len(ref) > 1:
        joined = " ".join(ref)
        fail_usage(
            f"the reference was split by the shell into {len(ref)} arguments; quote it: "
            f"vaults resolve {shlex.quote(joined)}"
        )
    try:
        from vaults.resolver import Vaults

        if sys.stderr.isatty():
            from vaults.cli.waiting import Countdown

            countdown = Countdown(sys.stderr)
        with Vaults(
            pull_interval=pull_interval,
            allow_reprompt=allow_reprompt,
            allow_foreign_links=allow_foreign_links,
        ) as vaults:
            try:
                cred = vaults.resolve_plain(  # no pydantic when the vault alone answers
                    ref[0],
                    totp_identifier=totp_identifier,
                    totp_url=totp_url,
                    totp_type=totp_type,
                    wait=not no_wait,
                    timeout=timeout,
                    since=since,
                    on_wait=countdown,
                    min_remaining=min_remaining,
                )
            finally:
                if countdown is not None:
                    countdown.stop()
            if (
                cred.totp is None
                and cred.totp_error
                and (field_name or "").lower()
                not in (
                    "code",
                    "totp",
                )
            ):
                click.echo(f"warning: {cred.name!r}: no one-time code: {cred.totp_error}", err=True)
            if field_name and as_json:
                output = _json_text({field_name: _field_value(cred, field_name)})
            elif field_name:
                output = _field_value(cred, field_name)
            elif as_json:
                output = _json_text(cred.public_dict(reveal=reveal))
            else:
                output = _human(cred, reveal, time.time())
    except Exception as exc:
        fail(exc)
    click.echo(output)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed vault plugins, their versions, schemes and load errors."""
    try:
        from vaults.host import make_host

        host = make_host()
        host.backends()
        infos = [p for p in host.plugins if p.name != "vaults.builtin"]
    except Exception as exc:
        fail(exc)
    if as_json:
        _print_json([info.as_dict() for info in infos])
        return
    if not infos:
        import os

        if "VAULTS_LOAD_PLUGINS" in os.environ:
            wanted = os.environ["VAULTS_LOAD_PLUGINS"].strip() or "(empty: none)"
            click.echo(
                f"no vault plugins loaded: VAULTS_LOAD_PLUGINS={wanted} matches none installed"
            )
        else:
            click.echo(
                "no vault plugins installed (pip install vaults-keepass, vaults-bitwarden …)"
            )
        return
    for info in infos:
        version = f" {info.version}" if info.version else ""
        dist = info.distribution or info.module
        schemes = ", ".join(f"{s}://" for s in info.schemes) or "-"
        status = f"  ERROR: {info.error}" if info.error else ""
        click.echo(f"{info.name:<14} {dist}{version:<10}  schemes: {schemes}{status}")


@cli.command()
@click.argument("image", type=click.Path(dir_okay=False, path_type=str))
def qr(image: str) -> None:
    """Decode a 2FA setup QR code (PNG/JPEG) to its otpauth:// URI.

    A Google Authenticator export (otpauth-migration://) is unpacked: one otpauth:// URI
    per account (an account that cannot be used is named on stderr with the reason).
    Needs the optional extra: pip install 'vaults[qr]'.
    """
    try:
        from vaults.migration import is_migration_uri, parse_migration
        from vaults.qr import decode_qr

        lines: list[str] = []
        notes: list[str] = []
        for text in decode_qr(image):
            if not is_migration_uri(text):
                lines.append(text)
                continue
            for account in parse_migration(text):
                if account.uri is not None:
                    lines.append(account.uri)
                else:
                    notes.append(f"warning: {account.label}: not supported: {account.problem}")
    except Exception as exc:
        fail(exc)
    for line in lines:
        click.echo(line)
    for note in notes:
        click.echo(note, err=True)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the tab-completion script for SHELL (bash, zsh or fish).

    \b
    bash:  echo 'eval "$(vaults completion bash)"' >> ~/.bashrc
    zsh:   echo 'eval "$(vaults completion zsh)"' >> ~/.zshrc
    fish:  vaults completion fish > ~/.config/fish/completions/vaults.fish
    """
    from click.shell_completion import get_completion_class

    completer = get_completion_class(shell)
    assert completer is not None  # the three choices are click's own
    click.echo(completer(cli, {}, "vaults", "_VAULTS_COMPLETE").source())


class _Prefixed(logging.Formatter):
    """Log records as the CLI's own messages: ``warning: …`` / ``error: …`` on stderr."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _show_warnings() -> None:
    """Plugins warn through :mod:`logging` (an expired KeePass entry, a skipped magic link);
    without this, Python prints the bare message. Debug logging stays the host's choice."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
        handler.setFormatter(_Prefixed())
        root.addHandler(handler)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    _show_warnings()
    # httpx imports its own command-line tool (click, rich, pygments: tens of ms) whenever
    # those happen to be installed, and falls back quietly when they are not; this process
    # never uses it, so it is marked absent.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    # pydantic scans every installed distribution's entry points for its own plugins the first
    # time a model is defined (most of the cost of importing vaults.models); the CLI has no
    # use for pydantic plugins.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="vaults",
            standalone_mode=False,
        )
    except SystemExit:
        raise
    except (KeyboardInterrupt, click.exceptions.Abort):
        # Ctrl-C: the shell's convention (128 + SIGINT), without click's "Aborted!"
        sys.exit(EXIT_INTERRUPTED)
    except click.BadParameter as exc:  # a bad value: one line saying what is wrong, as errors are
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:  # anything a command did not report itself
        fail(exc)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
