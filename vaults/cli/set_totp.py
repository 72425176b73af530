"""``vaults set-totp``: store a TOTP secret (key, otpauth:// URI or setup QR) in a vault item."""

from __future__ import annotations

import json
import sys
import time

import click

from vaults.cli.errors import fail

__all__ = ["set_totp"]


@click.command("set-totp")
@click.argument("ref")
@click.argument("secret", required=False, metavar="[SECRET | -]")
@click.option(
    "--qr",
    "qr_image",
    metavar="IMAGE",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help="Read the secret from a setup QR code image (PNG/JPEG; needs vaults[qr]).",
)
@click.option("--replace", is_flag=True, help="Overwrite a different secret the item holds.")
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON shape.")
def set_totp(
    ref: str, secret: str | None, qr_image: str | None, replace: bool, as_json: bool
) -> None:
    """Store a TOTP secret in the item REF, then print the item and its first code.

    \b
    SECRET is a base32 key, an otpauth:// URI or steam://KEY; '-' reads it from stdin:
        vaults qr setup.png | vaults set-totp keepass://Work/Acme -
    Prefer '-' (or --qr): a secret given as an argument is visible to every user
    of this machine in the process list (ps) and may land in your shell history.

    \b
    The code is read back from the vault and must be the secret's code, else the
    previous secret is written back (exit 4). The same secret again changes
    nothing (exit 0); a different one is refused without --replace (exit 1,
    "already has a TOTP secret"). A plugin that cannot write: exit 2.
    The secret itself is never printed.
    """
    try:
        from vaults.errors import InvalidInput
        from vaults.resolver import Vaults

        if secret is not None and qr_image is not None:
            raise InvalidInput("give a SECRET or --qr IMAGE, not both")
        if secret is None and qr_image is None:
            raise InvalidInput("give the secret: SECRET, '-' to read it from stdin, or --qr IMAGE")
        given = None
        if secret == "-":  # noqa: S105
            from vaults.enrol import read_secret_text

            given = read_secret_text(sys.stdin)
        elif secret is not None:
            from pydantic import SecretStr

            given = SecretStr(secret)
        with Vaults() as vaults:
            stored = vaults.store_totp(ref, given, qr=qr_image, replace=replace)
        cred = stored.credential
        if as_json:
            output = json.dumps(
                {**cred.public_dict(), "stored": stored.changed}, indent=2, ensure_ascii=False
            )
        else:
            from vaults.cli.main import _human

            status = (
                "stored the TOTP secret; the vault now shows:"
                if stored.changed
                else "unchanged: the item already holds this TOTP secret"
            )
            output = f"{status}\n{_human(cred, False, time.time())}"
    except Exception as exc:
        fail(exc)
    click.echo(output)
