"""Vaults seeded with the canaries, shared by the Python-API and CLI leak tests.

- :func:`make_keepass_db`: a real KDBX file (master password, item passwords, a protected
  field, a TOTP secret, a malformed TOTP secret);
- :func:`bw_serve_route`: a ``bw serve`` API (on :class:`MisbehavingServer`) whose failures
  echo the configured BW_SESSION/BW_PASSWORD and the password it was sent to unlock with;
- :data:`BW_SCRIPT`: a ``bw`` stand-in that echoes its secrets on stderr and stdout;
- :func:`op_seed`: the 1Password Connect server / ``op`` double seed with canary tokens;
- :data:`OP_ECHO_SCRIPT`: an ``op`` stand-in that prints its service-account token in an error.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import vaults_reliability_canaries as c
from vaults_keepass.testing import EntrySpec, create_database
from vaults_onepassword.testing.seed import field, login_item, otp_field, vault

from vaults.testing.misbehaving import Reply, Seen, json_reply

OTP_URI = f"otpauth://totp/Acme:alice?secret={c.TOTP_SECRET}&issuer=Acme"
BW_ID = "0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01"
BW_TWIN_ID = "1b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f02"


PULL_PATHS = ("ok", "401", "500", "garbage")


def pull_route(seen: Seen) -> Reply:
    """A pull endpoint per path: ``/ok`` hands out a code, the others fail echoing secrets."""
    echo = json.dumps({"detail": f"{c.PULL_API_KEY} {seen.query}"}).encode()
    if seen.path.endswith("/ok"):
        return json_reply(200, {"verification_code": "482913"})
    if seen.path.endswith("/401"):
        return Reply(401, echo)
    if seen.path.endswith("/500"):
        return Reply(500, echo)
    return Reply(200, b"<html>" + echo)


def _pull_entries(pull_base: str | None) -> list[EntrySpec]:
    """Items whose code comes from a pull endpoint (``totp_url``, a hidden field with a token in
    its user part and query), signed with the item's ``totp_api_key`` field, stored as a plain
    text field on purpose (vaults must mask it anyway)."""
    if pull_base is None:
        return []
    host = pull_base.removeprefix("http://")
    return [
        EntrySpec(
            f"Pull {name}",
            "alice",
            c.PASSWORD,
            attributes={
                "totp_url": f"http://u:{c.URL_TOKEN}@{host}/{name}?token={c.URL_TOKEN}",
                "totp_api_key": c.PULL_API_KEY,
                "totp_type": "email",
            },
            protected=frozenset({"totp_url"}),  # hidden by the user: its token stays hidden
        )
        for name in PULL_PATHS
    ]


def make_keepass_db(path: Path, pull_base: str | None = None) -> Path:
    create_database(
        path,
        c.KEEPASS_MASTER,
        [
            *_pull_entries(pull_base),
            EntrySpec(
                "Canary Login",
                "alice",
                c.PASSWORD,
                "https://acme.example.test",
                attributes={"otp": OTP_URI, "api key": c.FIELD_SECRET},
                protected=frozenset({"api key"}),
            ),
            EntrySpec("Twin", "one", c.PASSWORD),
            EntrySpec("Twin", "two", c.PASSWORD_2),
            EntrySpec("Bad TOTP", "bob", c.PASSWORD, attributes={"otp": c.BAD_TOTP}),
            EntrySpec(
                "Bad TOTP URI",
                "bob",
                c.PASSWORD,
                attributes={"otp": f"otpauth://totp/x?secret={c.TOTP_SECRET}&digits=99"},
            ),
        ],
    )
    return path


def executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# -- Bitwarden ---------------------------------------------------------------------------------


def bw_item(name: str, item_id: str = BW_ID, **login: Any) -> dict[str, Any]:
    base = {"username": "alice", "password": c.PASSWORD, "totp": c.TOTP_SECRET, "uris": []}
    return {
        "object": "item",
        "id": item_id,
        "type": 1,
        "name": name,
        "login": {**base, **login},
        "fields": [{"name": "api key", "value": c.FIELD_SECRET, "type": 1, "linkedId": None}],
    }


def _listing(*items: Any) -> Reply:
    return json_reply(200, {"success": True, "data": {"object": "list", "data": list(items)}})


def _bw_fail(message: str, status: int = 400) -> Reply:
    return json_reply(status, {"success": False, "message": message})


def bw_serve_route(seen: Seen) -> Reply:
    if seen.path == "/unlock":  # the server quotes the password it was sent
        sent = json.loads(seen.body or b"{}").get("password", "")
        return _bw_fail(f"Invalid master password. (got {sent})")
    search = parse_qs(seen.query).get("search", [""])[0]
    echo = f"{c.BW_PASSWORD} {c.BW_SESSION} {seen.headers.get('authorization', '')}"
    truncated = json.dumps({"success": True, "data": bw_item("T")}).encode()[:120]
    replies = {
        "Canary Login": _listing(bw_item("Canary Login")),
        "Twin": _listing(bw_item("Twin"), bw_item("Twin", BW_TWIN_ID, password=c.PASSWORD_2)),
        "Bad TOTP": _listing(bw_item("Bad TOTP", totp=c.BAD_TOTP)),
        "Odd Shape": _listing(
            {**bw_item("Odd Shape"), "login": {"password": {"nested": c.PASSWORD}, "uris": 7}}
        ),
        "Locked": _bw_fail("Vault is locked."),
        "Echo 400": _bw_fail(f"Session key {c.BW_SESSION} is invalid for {c.BW_PASSWORD}"),
        "Echo 500": Reply(500, json.dumps({"message": echo, "stack": echo}).encode()),
        "Echo 401": Reply(401, json.dumps({"message": echo}).encode()),
        "Truncated": Reply(200, truncated),
        "Slow": Reply(200, b"{}", delay=10),
    }
    return replies.get(search, _listing())


BW_SCRIPT = """#!/bin/sh
case "$*" in
  *unlock*) echo "Invalid master password. ($VAULTS_BW_UNLOCK_PASSWORD)" >&2; exit 1 ;;
  *Echo*) echo "Invalid session key $BW_SESSION" >&2; exit 1 ;;
  *Garbage*) printf '%s' "$BW_SESSION not json"; exit 0 ;;
  *Locked*) echo "Vault is locked." >&2; exit 1 ;;
  *Crash*) echo "TypeError: cannot read $BW_SESSION" >&2; kill -SEGV $$ ;;
esac
echo "Not found." >&2; exit 1
"""


# -- 1Password ---------------------------------------------------------------------------------


def op_seed() -> dict[str, Any]:
    personal = vault(
        "Personal",
        [
            login_item(
                "Canary Login",
                "alice",
                c.PASSWORD,
                extra_fields=[
                    otp_field(OTP_URI, key="canary"),
                    field("apikey", "api key", c.FIELD_SECRET, type="CONCEALED"),
                ],
            ),
            login_item("Twin", "one", c.PASSWORD, key="twin-1"),
            login_item("Twin", "two", c.PASSWORD_2, key="twin-2"),
            login_item("Bad TOTP", "bob", c.PASSWORD, extra_fields=[otp_field(c.BAD_TOTP)]),
        ],
    )
    restricted = vault("Restricted", [login_item("Root", "root", c.PASSWORD_2)])
    return {
        "account": "leaks.1password.com",
        "access": [
            {"kind": "connect", "token": c.OP_CONNECT_TOKEN, "vaults": [personal["id"]]},
            {
                "kind": "service_account",
                "token": c.OP_SERVICE_ACCOUNT_TOKEN,
                "vaults": [personal["id"]],
            },
        ],
        "vaults": [personal, restricted],
    }


OP_ECHO_SCRIPT = (
    '#!/bin/sh\necho "[ERROR] 2026/01/01 00:00:00 bad token $OP_SERVICE_ACCOUNT_TOKEN" >&2\n'
    "exit 1\n"
)
