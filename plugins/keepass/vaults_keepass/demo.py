"""``python -m vaults_keepass.demo PATH``: write the bundled offline demo database.

The demo vault holds ``Demo/Acme Cloud`` (a login with a TOTP secret) and ``Demo/Intranet``
(a login without one). Its master password is ``demo`` — a demo, not a secret. The entries'
UUIDs are fixed, so their ids are the same on every run.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vaults_keepass.testing import EntrySpec, create_database

DEMO_PASSWORD = "demo"  # noqa: S105 - the demo database's published password
DEMO_ENTRIES = (
    EntrySpec(
        title="Acme Cloud",
        username="alice@acme.example",
        password="correct horse battery staple",  # noqa: S106 - demo data
        url="https://login.acme.example/",
        group=("Demo",),
        uuid="72a114e6eb3f11f18e1202fc00000001",
        attributes={
            "otp": "otpauth://totp/Acme%20Cloud:alice@acme.example"
            "?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Cloud&period=30&digits=6",
            "totp_identifier": "alice@acme.example",
        },
    ),
    EntrySpec(
        title="Intranet",
        username="alice",
        password="tr0ub4dor&3",  # noqa: S106 - demo data
        url="https://intranet.acme.example/",
        group=("Demo",),
        uuid="72a114e6eb3f11f18e1202fc00000002",
    ),
)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m vaults_keepass.demo PATH", file=sys.stderr)
        return 2
    target = Path(args[0])
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    create_database(target, DEMO_PASSWORD, DEMO_ENTRIES)
    print(f"wrote demo KeePass database {target} (master password: {DEMO_PASSWORD})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
