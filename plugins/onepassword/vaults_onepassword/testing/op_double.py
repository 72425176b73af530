"""A test double of the 1Password CLI v2 (``op``).

Run as ``python -m vaults_onepassword.testing.op_double`` (see ``bin/op``).

Supported: ``op item get ITEM [--vault V] [--format json] [--otp] [--include-archive]``,
``op item edit ITEM [--vault V] --template PATH [--format json]`` (the template, item JSON as
``op item get`` prints it, replaces the item's sections and fields; the seed file is written
back), ``op whoami``, ``op --version``. Items come from a seed file (see ``seed.py``) named by
``OP_VAULTS_DOUBLE_SEED``. Output follows the real CLI: ``--format json`` prints the documented
item JSON (snake_case top-level keys; fields carry ``reference``; OTP fields carry ``value`` and
``totp``); failures print ``[ERROR] YYYY/MM/DD HH:MM:SS <message>`` on stderr and exit 1.

Authentication, as ``op`` does it: ``OP_SERVICE_ACCOUNT_TOKEN`` (a ``service_account`` token of
the seed; a service account must pass ``--vault``), else a desktop/``op signin`` session given
by ``--session`` or ``OP_SESSION_<account>`` (a ``session`` token of the seed).

Test hooks (environment): ``OP_VAULTS_DOUBLE_LOG`` -- append one JSON line per invocation
(argv and which auth variables were present, never their values); ``OP_VAULTS_DOUBLE_DELAY``
-- sleep that many seconds first (to test timeouts / killing a hung ``op``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from vaults_onepassword.testing.seed import JsonDict, read_seed, write_seed
from vaults_onepassword.testing.wire_formats import is_archived, op_item

SEED_ENV = "OP_VAULTS_DOUBLE_SEED"
LOG_ENV = "OP_VAULTS_DOUBLE_LOG"
DELAY_ENV = "OP_VAULTS_DOUBLE_DELAY"
VERSION = "2.30.3"

NOT_SIGNED_IN = "You are not currently signed in. Please run `op signin --help` for instructions"
SESSION_EXPIRED = (
    "You are not currently signed in. session expired, sign in to create a new session"
)
ERR_SA_MALFORMED = (
    "failed to session.DecodeSACredentials: failed to DecodeSACredentials: "
    "invalid credentials provided"
)
ERR_SA_REVOKED = (
    "Validation: (401) Unauthorized: the service account token is invalid or has been revoked"
)
VAULT_REQUIRED = (
    "When using service accounts, you must specify a vault with the '--vault' flag "
    "or through piped input."
)


class CliError(Exception):
    """Printed as ``[ERROR] <timestamp> <message>`` on stderr, exit code 1."""


@dataclass
class Invocation:
    command: list[str] = field(default_factory=list)
    flags: dict[str, str | bool] = field(default_factory=dict)


_VALUE_FLAGS = {
    "--vault",
    "--format",
    "--session",
    "--account",
    "--fields",
    "--config",
    "--cache",
    "--template",
}
_BOOL_FLAGS = {
    "--otp",
    "--include-archive",
    "--reveal",
    "--no-color",
    "--iso-timestamps",
    "--debug",
    "--version",
    "--help",
    "-h",
}


def parse_args(argv: Sequence[str]) -> Invocation:
    inv = Invocation()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == "--":  # end of flags (cobra/pflag)
            inv.command.extend(args)
            break
        name, eq, inline = arg.partition("=")
        if name in _VALUE_FLAGS:
            if eq:
                inv.flags[name] = inline
            elif args:
                inv.flags[name] = args.pop(0)
            else:
                raise CliError(f"flag needs an argument: {name}")
        elif arg in _BOOL_FLAGS:
            inv.flags[arg] = True
        elif arg.startswith("-") and arg != "-":
            raise CliError(f"unknown flag: {name}")
        else:
            inv.command.append(arg)
    return inv


@dataclass(frozen=True)
class Access:
    vaults: frozenset[str] | None  # None: every vault
    service_account: bool


def authenticate(seed: JsonDict, inv: Invocation, env: Mapping[str, str]) -> Access:
    grants: list[JsonDict] = seed["access"]
    sa_token = env.get("OP_SERVICE_ACCOUNT_TOKEN")
    if sa_token:
        if not sa_token.startswith("ops_"):
            raise CliError(ERR_SA_MALFORMED)
        for grant in grants:
            if grant["kind"] == "service_account" and grant["token"] == sa_token:
                scope = grant.get("vaults")
                return Access(None if scope is None else frozenset(scope), service_account=True)
        raise CliError(ERR_SA_REVOKED)
    sessions = [v for k, v in env.items() if k.startswith("OP_SESSION_") and v]
    flag = inv.flags.get("--session")
    if isinstance(flag, str):
        sessions.insert(0, flag)
    if not sessions:
        raise CliError(NOT_SIGNED_IN)
    for grant in grants:
        if grant["kind"] == "session" and grant["token"] in sessions:
            scope = grant.get("vaults")
            return Access(None if scope is None else frozenset(scope), service_account=False)
    raise CliError(SESSION_EXPIRED)


def _visible_vaults(seed: JsonDict, access: Access) -> list[JsonDict]:
    return [v for v in seed["vaults"] if access.vaults is None or v["id"] in access.vaults]


def find_vault(seed: JsonDict, access: Access, name_or_id: str) -> JsonDict:
    for v in _visible_vaults(seed, access):
        if name_or_id in (v["id"], v["name"]):
            return v
    raise CliError(
        f'"{name_or_id}" isn\'t a vault in this account. Specify the vault with its ID or name.'
    )


def find_item(
    vaults: list[JsonDict], query: str, *, include_archive: bool, vault_label: str | None
) -> tuple[JsonDict, JsonDict]:
    candidates = [
        (v, i) for v in vaults for i in v["items"] if include_archive or not is_archived(i)
    ]
    by_id = [(v, i) for v, i in candidates if i["id"] == query]
    if by_id:
        return by_id[0]
    matches = [(v, i) for v, i in candidates if i["title"] == query]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        lines = [f'More than one item matches "{query}". Try again and specify the item by its ID:']
        lines += [
            f'\t* for the item "{i["title"]}" in vault {v["name"]}: {i["id"]}' for v, i in matches
        ]
        raise CliError("\n".join(lines))
    where = f' in the "{vault_label}" vault' if vault_label else ""
    raise CliError(
        f'"{query}" isn\'t an item{where}. Specify the item with its UUID, name, or domain.'
    )


def _human(item: JsonDict) -> str:
    lines = [
        f"ID:          {item['id']}",
        f"Title:       {item['title']}",
        f"Vault:       {item['vault']['name']} ({item['vault']['id']})",
        f"Category:    {item['category']}",
        "Fields:",
    ]
    for fld in item["fields"]:
        shown = "[use 'op item get --reveal' to reveal]" if fld["type"] == "CONCEALED" else ""
        lines.append(f"  {fld.get('label', fld['id'])}:    {shown or fld.get('value', '')}")
    return "\n".join(lines)


def item_get(
    seed: JsonDict, inv: Invocation, access: Access, env: Mapping[str, str], out: TextIO
) -> None:
    if len(inv.command) != 3:
        raise CliError("expected exactly one item: op item get [{ <itemName> | <itemID> }]")
    query = inv.command[2]
    vault_flag = inv.flags.get("--vault")
    if isinstance(vault_flag, str):
        vaults = [find_vault(seed, access, vault_flag)]
    elif access.service_account:
        raise CliError(VAULT_REQUIRED)
    else:
        vaults = _visible_vaults(seed, access)
    include_archive = bool(inv.flags.get("--include-archive") or env.get("OP_INCLUDE_ARCHIVE"))
    vault, item = find_item(
        vaults,
        query,
        include_archive=include_archive,
        vault_label=vault_flag if isinstance(vault_flag, str) else None,
    )
    rendered = op_item(vault, item)
    if inv.flags.get("--otp"):
        for fld in rendered["fields"]:
            if fld["type"] in ("OTP", "TOTP") and "totp" in fld:
                out.write(fld["totp"] + "\n")
                return
        raise CliError(f'"{item["title"]}" doesn\'t have a one-time password field.')
    if inv.flags.get("--format") == "json":
        out.write(json.dumps(rendered, indent=2) + "\n")
    else:
        out.write(_human(rendered) + "\n")


def _seed_field(fld: JsonDict) -> JsonDict:
    """A field of an item template (``op item get`` JSON) as the seed stores it."""
    out: JsonDict = {
        k: v for k, v in fld.items() if k not in ("reference", "totp", "section", "entropy")
    }
    section = fld.get("section")
    if isinstance(section, dict) and section.get("id"):
        out["section"] = {"id": section["id"]}
    return out


def item_edit(
    seed: JsonDict,
    seed_path: Path,
    inv: Invocation,
    access: Access,
    out: TextIO,
) -> None:
    if len(inv.command) != 3:
        raise CliError("expected exactly one item: op item edit { <itemName> | <itemID> }")
    template_path = inv.flags.get("--template")
    if not isinstance(template_path, str):
        raise CliError("op double: item edit supports --template only (no assignments)")
    try:
        template = json.loads(Path(template_path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CliError(f"invalid item template: {type(exc).__name__}") from None
    if not isinstance(template, dict) or not isinstance(template.get("fields", []), list):
        raise CliError("invalid item template: fields must be a list")
    vault_flag = inv.flags.get("--vault")
    if isinstance(vault_flag, str):
        vaults = [find_vault(seed, access, vault_flag)]
    elif access.service_account:
        raise CliError(VAULT_REQUIRED)
    else:
        vaults = _visible_vaults(seed, access)
    vault, item = find_item(
        vaults,
        inv.command[2],
        include_archive=False,
        vault_label=vault_flag if isinstance(vault_flag, str) else None,
    )
    item["fields"] = [_seed_field(f) for f in template.get("fields", []) if isinstance(f, dict)]
    item["sections"] = [
        {k: v for k, v in s.items() if k in ("id", "label")}
        for s in template.get("sections", [])
        if isinstance(s, dict)
    ]
    item["version"] = int(item.get("version", 1)) + 1
    staged = seed_path.with_name(f".{seed_path.name}.{os.getpid()}.tmp")
    write_seed(seed, staged)
    os.replace(staged, seed_path)  # concurrent readers see the old or the new seed
    if inv.flags.get("--format") == "json":
        out.write(json.dumps(op_item(vault, item), indent=2) + "\n")


def whoami(seed: JsonDict, access: Access, out: TextIO) -> None:
    info = {
        "url": f"https://{seed.get('account', 'my.1password.com')}",
        "user_type": "SERVICE_ACCOUNT" if access.service_account else "HUMAN",
    }
    out.write(json.dumps(info) + "\n")


def _log(argv: Sequence[str], env: Mapping[str, str]) -> None:
    path = env.get(LOG_ENV)
    if not path:
        return
    entry = {
        "argv": list(argv),
        "pid": os.getpid(),
        "time": time.time(),
        "auth_env": sorted(
            k for k in env if k == "OP_SERVICE_ACCOUNT_TOKEN" or k.startswith("OP_SESSION_")
        ),
    }
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")


def run(
    argv: Sequence[str], env: Mapping[str, str], out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    _log(argv, env)
    delay = float(env.get(DELAY_ENV) or 0)
    if delay > 0:
        time.sleep(delay)
    try:
        inv = parse_args(argv)
        if inv.flags.get("--version"):
            out.write(VERSION + "\n")
            return 0
        seed_path = env.get(SEED_ENV)
        if not seed_path:
            raise CliError(f"op double: {SEED_ENV} is not set")
        seed = read_seed(Path(seed_path))
        if inv.command[:2] == ["item", "get"]:
            item_get(seed, inv, authenticate(seed, inv, env), env, out)
        elif inv.command[:2] == ["item", "edit"]:
            item_edit(seed, Path(seed_path), inv, authenticate(seed, inv, env), out)
        elif inv.command == ["whoami"]:
            whoami(seed, authenticate(seed, inv, env), out)
        else:
            raise CliError(f'unknown command "{" ".join(inv.command)}" for "op"')
    except CliError as exc:
        err.write(f"[ERROR] {time.strftime('%Y/%m/%d %H:%M:%S')} {exc}\n")
        return 1
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:], os.environ))


if __name__ == "__main__":
    main()
