"""The seed format shared by the Connect test server and the ``op`` CLI double.

A seed is plain, JSON-serialisable Python data::

    {
      "account": "vaults-test.1password.com",
      "access": [{"kind": "connect" | "service_account" | "session",
                  "token": "...", "vaults": ["<vault id>", ...] | None}],   # None: every vault
      "vaults": [{"id": "<26 chars>", "name": "Personal", "type": "USER_CREATED",
                  "items": [ITEM, ...]}],
    }

ITEM is Connect's ``FullItem`` (camelCase keys, see the Connect OpenAPI spec) without ``vault``,
FIELD is Connect's ``Field``. Seed-only keys, never sent on the wire:

- item ``"state": "ARCHIVED"`` -- archived: hidden from lists and title/id lookups;
- item ``"otpWireType": "TOTP"`` -- OTP fields go out with ``type`` ``TOTP`` (the spec's spelling)
  instead of ``OTP`` (what real servers, the SDKs and ``op`` say);
- field ``"serverSecret"`` -- the double computes ``totp`` from it rather than from ``value``
  (models an OTP field whose secret the client cannot read but the server can).

``connect`` tokens are accepted by the Connect server (``Authorization: Bearer``),
``service_account`` tokens by the ``op`` double as ``OP_SERVICE_ACCOUNT_TOKEN``, ``session``
tokens by the ``op`` double as ``OP_SESSION_<account>`` / ``--session``.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

JsonDict = dict[str, Any]

#: Appears inside every secret of the default seed; tests assert it never leaks.
CANARY = "CANARY-1p-7f3a9c"

ACCOUNT = "vaults-test.1password.com"
CONNECT_TOKEN = f"eyJhbGciOiJFUzI1NiIsImtpZCI6ImNvbm5lY3QifQ.{CANARY}-connect.c2ln"
SERVICE_ACCOUNT_TOKEN = f"ops_eyJzaWduSW5BZGRyZXNzIjoi{CANARY}-service-account"
SESSION_TOKEN = f"session-{CANARY}-desktop"

TIMESTAMP = "2024-01-01T00:00:00Z"


def make_id(text: str) -> str:
    """A deterministic 1Password-style id (26 lowercase alphanumerics) derived from ``text``."""
    digest = hashlib.sha256(text.encode()).digest()
    return base64.b32encode(digest).decode().lower()[:26]


def base32_secret(label: str) -> str:
    """A deterministic base32 TOTP secret whose decoded bytes embed the canary."""
    return base64.b32encode(f"{CANARY}:{label}".encode()).decode().rstrip("=")


def field(
    field_id: str,
    label: str | None,
    value: str | None,
    *,
    type: str = "STRING",
    purpose: str | None = None,
    section: str | None = None,
    **extra: Any,
) -> JsonDict:
    out: JsonDict = {"id": field_id, "type": type}
    if purpose:
        out["purpose"] = purpose
    if label is not None:
        out["label"] = label
    if value is not None:
        out["value"] = value
    if section is not None:
        out["section"] = {"id": section}
    out.update(extra)
    return out


def otp_field(
    value: str | None, *, section: str | None = None, key: str = "", **extra: Any
) -> JsonDict:
    """An OTP field as 1Password stores it: id ``TOTP_<id>``, label ``one-time password``."""
    return field(
        f"TOTP_{make_id('otp:' + key + (value or ''))}",
        "one-time password",
        value,
        type="OTP",
        section=section,
        **extra,
    )


def login_item(
    title: str,
    username: str | None,
    password: str | None,
    *,
    key: str | None = None,
    username_label: str = "username",
    password_label: str = "password",  # noqa: S107 - a field label, not a password
    sections: list[JsonDict] | None = None,
    extra_fields: list[JsonDict] | None = None,
    urls: list[str] | None = None,
    **extra: Any,
) -> JsonDict:
    """A LOGIN item with the built-in username/password fields (found by ``purpose``)."""
    fields: list[JsonDict] = []
    if username is not None:
        fields.append(field("username", username_label, username, purpose="USERNAME"))
    if password is not None:
        fields.append(
            field("password", password_label, password, type="CONCEALED", purpose="PASSWORD")
        )
    fields.append(field("notesPlain", "notesPlain", None, purpose="NOTES"))
    fields.extend(extra_fields or [])
    item: JsonDict = {
        "id": make_id("item:" + (key or title)),
        "title": title,
        "version": 1,
        "category": "LOGIN",
        "favorite": False,
        "tags": [],
        "sections": sections if sections is not None else [],
        "fields": fields,
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
        "lastEditedBy": "LSGPJERUYBH7BFPHMZ2KKGL6AU",
    }
    if urls:
        item["urls"] = [{"href": u, "primary": i == 0} for i, u in enumerate(urls)]
    item.update(extra)
    return item


def vault(name: str, items: list[JsonDict], *, key: str | None = None) -> JsonDict:
    return {
        "id": make_id("vault:" + (key or name)),
        "name": name,
        "type": "USER_CREATED",
        "createdAt": TIMESTAMP,
        "updatedAt": TIMESTAMP,
        "items": items,
    }


# Secrets of the default seed, exported so tests can compute expected codes.
GITHUB_SECRET = base32_secret("github")
AWS_SECRET = base32_secret("aws")
BANK_SECRET = base32_secret("bank")
SERVER_ONLY_SECRET = base32_secret("server-only")
SPEC_SECRET = base32_secret("spec")
QUOTED_SECRET = base32_secret("quoted")
VPN_SECRET = base32_secret("vpn")

GITHUB_OTP_URI = f"otpauth://totp/GitHub:octocat%40example.com?secret={GITHUB_SECRET}&issuer=GitHub"
BANK_OTP_URI = (
    f"otpauth://totp/Bank:jane?secret={BANK_SECRET}&issuer=Bank&algorithm=SHA512&digits=8"
)


def _spaced_lower(secret: str) -> str:
    """How people paste raw secrets: lowercase, in groups of four."""
    low = secret.lower()
    return " ".join(low[i : i + 4] for i in range(0, len(low), 4))


def default_seed() -> JsonDict:
    """Vaults and items covering every shape the plugin must handle.

    Personal (in scope):
      GitHub            OTP otpauth URI in the unlabeled "add more" section; notesPlain w/o value
      AWS Console       raw base32 OTP secret at top level (lowercase, spaced); username and
                        password labels are not "username"/"password"; a decoy "username" label
      Bank              otpauth URI with SHA512 / 8 digits
      Forum             no OTP
      Duplicate Labels  "pin" in section Home, "PIN" in section Office, an unlabeled section
      Shared Login (x2) two items with the same title
      Old Login         archived
      Server Code Only  OTP field without a value: only the server-computed ``totp``
      Spec TOTP         OTP field emitted with the spec's type "TOTP"
      Mock "Quot'd" Server   title with quotes (filter escaping)
    Work (in scope): VPN with OTP
    Restricted (outside the connect / service-account scope): Root Account
    """
    personal = vault(
        "Personal",
        [
            login_item(
                "GitHub",
                "octocat@example.com",
                f"gh-{CANARY}-pw",
                sections=[{"id": "add more"}, {"id": "linked items", "label": "Related Items"}],
                extra_fields=[otp_field(GITHUB_OTP_URI, section="add more", key="github")],
                urls=["https://github.com/login"],
            ),
            login_item(
                "AWS Console",
                "root@example.com",
                f"aws-{CANARY}-pw",
                username_label="account email",
                password_label="console password",  # noqa: S106 - a label
                sections=[{"id": make_id("section:iam"), "label": "IAM"}],
                extra_fields=[
                    field("iamuser", "username", "decoy-iam-user", section=make_id("section:iam")),
                    otp_field(_spaced_lower(AWS_SECRET), key="aws"),
                ],
                urls=["https://console.aws.amazon.com"],
            ),
            login_item(
                "Bank",
                "jane",
                f"bank-{CANARY}-pw",
                sections=[{"id": make_id("section:bank-security"), "label": "Security"}],
                extra_fields=[
                    otp_field(BANK_OTP_URI, section=make_id("section:bank-security"), key="bank")
                ],
            ),
            login_item("Forum", "forum-user", f"forum-{CANARY}-pw"),
            login_item(
                "Duplicate Labels",
                "dup-user",
                f"dup-{CANARY}-pw",
                sections=[
                    {"id": make_id("section:home"), "label": "Home"},
                    {"id": make_id("section:office"), "label": "Office"},
                    {"id": make_id("section:unlabeled")},
                ],
                extra_fields=[
                    field(
                        make_id("field:pin-home"),
                        "pin",
                        f"home-pin-{CANARY}",
                        type="CONCEALED",
                        section=make_id("section:home"),
                    ),
                    field(
                        make_id("field:pin-office"),
                        "PIN",
                        f"office-pin-{CANARY}",
                        type="CONCEALED",
                        section=make_id("section:office"),
                    ),
                    field(
                        make_id("field:door"),
                        "door code",
                        "4321",
                        section=make_id("section:unlabeled"),
                    ),
                ],
            ),
            login_item("Shared Login", "shared-one", f"shared1-{CANARY}-pw", key="shared-1"),
            login_item("Shared Login", "shared-two", f"shared2-{CANARY}-pw", key="shared-2"),
            login_item("Old Login", "old-user", f"old-{CANARY}-pw", state="ARCHIVED"),
            login_item(
                "Server Code Only",
                "server-user",
                f"server-{CANARY}-pw",
                extra_fields=[otp_field(None, key="server-only", serverSecret=SERVER_ONLY_SECRET)],
            ),
            login_item(
                "Spec TOTP",
                "spec-user",
                f"spec-{CANARY}-pw",
                extra_fields=[otp_field(SPEC_SECRET, key="spec")],
                otpWireType="TOTP",
            ),
            login_item(
                'Mock "Quot\'d" Server',
                "jamesbond",
                f"quoted-{CANARY}-pw",
                extra_fields=[otp_field(QUOTED_SECRET, key="quoted")],
            ),
        ],
    )
    work = vault(
        "Work",
        [
            login_item(
                "VPN",
                "worker",
                f"vpn-{CANARY}-pw",
                extra_fields=[otp_field(VPN_SECRET, key="vpn")],
            )
        ],
    )
    restricted = vault("Restricted", [login_item("Root Account", "root", f"root-{CANARY}-pw")])
    in_scope = [personal["id"], work["id"]]
    return {
        "account": ACCOUNT,
        "access": [
            {"kind": "connect", "token": CONNECT_TOKEN, "vaults": in_scope},
            {"kind": "service_account", "token": SERVICE_ACCOUNT_TOKEN, "vaults": in_scope},
            {"kind": "session", "token": SESSION_TOKEN, "vaults": None},
        ],
        "vaults": [personal, work, restricted],
    }


def bulk_seed(count: int, *, vault_name: str = "Bench") -> JsonDict:
    """One vault of ``count`` logins ``Login 0000`` ... each with an OTP (benchmarks)."""
    items = [
        login_item(
            f"Login {n:04d}",
            f"user{n}@example.com",
            f"bulk-{n}-{CANARY}-pw",
            extra_fields=[otp_field(base32_secret(f"bulk-{n}"), key=f"bulk-{n}")],
        )
        for n in range(count)
    ]
    bench = vault(vault_name, items)
    return {
        "account": ACCOUNT,
        "access": [
            {"kind": "connect", "token": CONNECT_TOKEN, "vaults": [bench["id"]]},
            {"kind": "service_account", "token": SERVICE_ACCOUNT_TOKEN, "vaults": [bench["id"]]},
            {"kind": "session", "token": SESSION_TOKEN, "vaults": None},
        ],
        "vaults": [bench],
    }


def token_for(seed: JsonDict, kind: str) -> str:
    """The first token of ``kind`` in the seed."""
    for grant in seed["access"]:
        if grant["kind"] == kind:
            return str(grant["token"])
    raise KeyError(kind)


def find_vault(seed: JsonDict, name_or_id: str) -> JsonDict:
    for v in seed["vaults"]:
        if name_or_id in (v["id"], v["name"]):
            return dict(v)
    raise KeyError(name_or_id)


def find_items(seed: JsonDict, vault_name_or_id: str, title: str) -> list[JsonDict]:
    """Items titled ``title`` (archived included) of a vault; seed-only keys kept."""
    return [i for i in find_vault(seed, vault_name_or_id)["items"] if i["title"] == title]


def find_item(seed: JsonDict, vault_name_or_id: str, title: str) -> JsonDict:
    found = find_items(seed, vault_name_or_id, title)
    if len(found) != 1:
        raise KeyError(f"{len(found)} items titled {title!r}")
    return found[0]


def copy_seed(seed: JsonDict) -> JsonDict:
    return copy.deepcopy(seed)


def write_seed(seed: JsonDict, path: Path) -> Path:
    path.write_text(json.dumps(seed, indent=1), encoding="utf-8")
    return path


def read_seed(path: Path) -> JsonDict:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "vaults" not in data or "access" not in data:
        raise ValueError(f"{path} is not a 1Password test seed")
    return data
