"""Real-shaped inputs the fuzzers start from (written for these tests, not copied).

Every document has the shape a real source produces: ``bw serve`` envelopes and ``bw`` CLI
output, 1Password Connect and ``op item get --format json`` documents, stored TOTP secrets in
the formats vaults reads, references of each scheme, and SMS / e-mail / push messages. The
secrets are made-up test values (RFC 6238's test key and random-looking base32).
"""

from __future__ import annotations

import json
from typing import Any, Final

# -- TOTP secrets ---------------------------------------------------------------------------

TOTP_SECRETS: Final = [
    "JBSWY3DPEHPK3PXP",
    "jbsw y3dp ehpk 3pxp",
    "JBSWY3DPEHPK3PXP====",
    "JBSW-Y3DP-EHPK-3PXP",
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
    "otpauth://totp/Acme:alice@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme",
    "otpauth://totp/Acme%20Cloud:bob?secret=GEZDGNBVGY3TQOJQ&algorithm=SHA256&digits=8&period=60",
    "otpauth://totp/?secret=JBSWY3DPEHPK3PXP&algorithm=SHA512&digits=10",
    "otpauth://totp/Steam:gabe?secret=JBSWY3DPEHPK3PXP&encoder=steam&issuer=Steam",
    "otpauth://hotp/Acme:alice?secret=JBSWY3DPEHPK3PXP&counter=3",
    "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP%3D%3D&period=0",
    "otpauth://totp/x?secret=&digits=6",
    "otpauth://[totp/x?secret=JBSWY3DPEHPK3PXP",
    "steam://JBSWY3DPEHPK3PXP",
    "steam://",
    "key=JBSWY3DPEHPK3PXP&size=8&step=60&otpHashMode=Sha256",
    "key=JBSWY3DPEHPK3PXP&size=abc",
    "https://example.com/?secret=JBSWY3DPEHPK3PXP",
    "JBSWY3DP\u00e9HPK3PXP",
    "A",
    "",
]

KEEPASS_ATTRIBUTES: Final[list[dict[str, str]]] = [
    {"otp": "otpauth://totp/Acme:alice?secret=JBSWY3DPEHPK3PXP&period=30&digits=6"},
    {"otp": "key=JBSWY3DPEHPK3PXP&size=8&step=45"},
    {"TOTP Seed": "JBSWY3DPEHPK3PXP", "TOTP Settings": "30;6"},
    {"TOTP Seed": "JBSWY3DPEHPK3PXP", "TOTP Settings": "30;S"},
    {"TOTP Seed": "JBSWY3DPEHPK3PXP", "TOTP Settings": "x;7"},
    {"TimeOtp-Secret-Base32": "JBSWY3DPEHPK3PXP", "TimeOtp-Length": "8", "TimeOtp-Period": "60"},
    {"TimeOtp-Secret-Hex": "3132333435363738393031323334353637383930"},
    {"TimeOtp-Secret-Base64": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=", "TimeOtp-Algorithm": "HMAC-SHA-256"},
    {"TimeOtp-Secret": "12345678901234567890", "TimeOtp-Algorithm": "HMAC-SHA-512"},
    {"TimeOtp-Secret-Hex": "zz", "TimeOtp-Length": "twelve"},
    {"Recovery codes": "alpha beta"},
]

# -- references -----------------------------------------------------------------------------

BW_ID: Final = "5f3c7a1e-2b4d-4e8f-9a6b-1c2d3e4f5a6b"
BW_ID_2: Final = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
BW_ORG: Final = "b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e"
BW_COLLECTION: Final = "c9d8e7f6-a5b4-4c3d-9e2f-1a0b9c8d7e6f"
OP_VAULT_ID: Final = "q2w3e4r5t6y7u8i9o0p1a2s3d4"
OP_ITEM_ID: Final = "z9x8c7v6b5n4m3l2k1j0h9g8f7"
KEEPASS_UUID: Final = "3f2c1b0a9e8d4c7b6a5f4e3d2c1b0a9e"

REFERENCES: Final = [
    "bitwarden://GitHub",
    f"bitwarden://{BW_ID}",
    "bitwarden://?url=https://github.com/login",
    "bitwarden://?url=https%3A%2F%2Fportal.example.co.uk%2Fsign-in%3Fnext%3D%2F",
    "bitwarden://GitHub?organization=Acme&collection=Engineering",
    f"bitwarden://Acme%20VPN?organization={BW_ORG}",
    "bitwarden://GitHub?folder=Work",
    "bitwarden://GitHub?url=https://github.com",
    "bitwarden://?url=androidapp://com.example",
    "op://Private/GitHub",
    "op://Private/GitHub/password",
    "op://Private/GitHub/add more/one-time password?attribute=otp",
    f"op://{OP_VAULT_ID}/{OP_ITEM_ID}/username",
    "op://GitHub?attribute=totp",
    "op://'Shared Vault'/\"Acme VPN\"/Security/recovery",
    "op://Private/GitHub?attribute=qr",
    "op://Private//password",
    "keepass://GitHub",
    "keepass://Internet/Social/Mastodon",
    f"keepass://{KEEPASS_UUID}",
    "keepass://Internet/a%2Fb title",
    "keepass://Shared",
    "KEEPASS://github",
    "bitwarden://",
    "://GitHub",
    "no-scheme",
    "op://Private/GitHub\x07",
]

# -- Bitwarden ------------------------------------------------------------------------------


def bw_item(
    name: str = "GitHub",
    item_id: str = BW_ID,
    *,
    totp: str | None = "JBSWY3DPEHPK3PXP",
    uri: str = "https://github.com/login",
    organization: str | None = None,
) -> dict[str, Any]:
    """A login item as ``bw get item`` / ``bw serve`` print it."""
    return {
        "passwordHistory": None,
        "revisionDate": "2025-03-04T10:20:30.123Z",
        "creationDate": "2024-11-02T08:00:00.000Z",
        "deletedDate": None,
        "object": "item",
        "id": item_id,
        "organizationId": organization,
        "folderId": None,
        "type": 1,
        "reprompt": 0,
        "name": name,
        "notes": "made-up test entry",
        "favorite": False,
        "fields": [
            {"name": "recovery", "value": "alpha-bravo", "type": 1, "linkedId": None},
            {"name": "team", "value": "core", "type": 0, "linkedId": None},
            {"name": "login alias", "value": None, "type": 3, "linkedId": 100},
            {"name": "enrolled", "value": "true", "type": 2, "linkedId": None},
        ],
        "login": {
            "uris": [
                {"match": None, "uri": uri},
                {"match": 4, "uri": r"^https://gist\.github\.com/.*"},
                {"match": 3, "uri": "https://github.com/session"},
            ],
            "username": "octo@example.com",
            "password": "made-up-password-1",
            "totp": totp,
            "passwordRevisionDate": None,
        },
        "collectionIds": [BW_COLLECTION] if organization else [],
    }


def bw_note(name: str = "Recovery") -> dict[str, Any]:
    return {
        "object": "item",
        "id": BW_ID_2,
        "organizationId": None,
        "type": 2,
        "name": name,
        "notes": "a secure note",
        "secureNote": {"type": 0},
        "favorite": True,
        "revisionDate": "2025-01-01T00:00:00.000Z",
        "deletedDate": None,
    }


def bw_listing() -> list[dict[str, Any]]:
    return [
        bw_item(),
        bw_item("GitHub Enterprise", BW_ID_2, uri="github.example.com", totp=None),
        bw_item(
            "Acme VPN",
            "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
            uri="https://vpn.acme.example.co.uk",
            totp="otpauth://totp/Acme:vpn?secret=GEZDGNBVGY3TQOJQ&digits=8",
            organization=BW_ORG,
        ),
        bw_note(),
    ]


BW_STATUS: Final = {
    "serverUrl": "https://vault.example.com",
    "lastSync": "2025-03-04T10:20:30.123Z",
    "userEmail": "octo@example.com",
    "userId": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
    "status": "unlocked",
}
BW_ORGANIZATIONS: Final = [
    {
        "object": "organization",
        "id": BW_ORG,
        "name": "Acme",
        "status": 2,
        "type": 2,
        "enabled": True,
    }
]
BW_COLLECTIONS: Final = [
    {
        "object": "collection",
        "id": BW_COLLECTION,
        "organizationId": BW_ORG,
        "name": "Engineering",
        "externalId": None,
    }
]
BW_MESSAGES: Final = [
    "Not found.",
    f"More than one result was found. Try getting a specific object by `id` instead. "
    f"The following objects were found:\n{BW_ID}\n{BW_ID_2}",
    "Vault is locked.",
    "You are not logged in.",
    "Invalid master password.",
    "\x1b[31mSomething unexpected happened.\x1b[39m",
    "",
]


def bw_serve_envelopes() -> list[tuple[int, dict[str, Any]]]:
    """(HTTP status, body) pairs ``bw serve`` sends."""
    return [
        (200, {"success": True, "data": {"object": "list", "data": bw_listing()}}),
        (200, {"success": True, "data": bw_item()}),
        (200, {"success": True, "data": {"object": "template", "template": BW_STATUS}}),
        (200, {"success": True, "data": {"object": "list", "data": BW_ORGANIZATIONS}}),
        (200, {"success": True, "data": {"object": "list", "data": BW_COLLECTIONS}}),
        (400, {"success": False, "message": BW_MESSAGES[0]}),
        (400, {"success": False, "message": BW_MESSAGES[1], "data": [BW_ID, BW_ID_2]}),
        (400, {"success": False, "message": BW_MESSAGES[2]}),
    ]


def bw_cli_outputs() -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of ``bw`` runs."""
    return [
        (0, json.dumps(bw_listing()), ""),
        (0, json.dumps(bw_item()), ""),
        (0, json.dumps(BW_STATUS), ""),
        (0, json.dumps(BW_ORGANIZATIONS), ""),
        (1, "", BW_MESSAGES[0]),
        (1, "", BW_MESSAGES[1]),
        (1, "", BW_MESSAGES[2]),
        (1, "", BW_MESSAGES[3]),
        (0, "", ""),
        (0, "? Master password: [input is hidden]", ""),
    ]


# -- 1Password ------------------------------------------------------------------------------


def op_item(*, cli: bool = False) -> dict[str, Any]:
    """A login item: Connect ``FullItem`` (camelCase) or ``op item get --format json``."""
    fields: list[dict[str, Any]] = [
        {
            "id": "username",
            "type": "STRING",
            "purpose": "USERNAME",
            "label": "username",
            "value": "octo@example.com",
        },
        {
            "id": "password",
            "type": "CONCEALED",
            "purpose": "PASSWORD",
            "label": "password",
            "value": "made-up-password-2",
            "entropy": 71.2,
        },
        {"id": "notesPlain", "type": "STRING", "purpose": "NOTES", "label": "notesPlain"},
        {
            "id": "TOTP_k3j2h1g0f9",
            "section": {"id": "add more", "label": "Security"},
            "type": "OTP",
            "label": "one-time password",
            "value": "otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
            "totp": "492039",
        },
        {
            "id": "r7e6c5o4v3",
            "section": {"id": "add more"},
            "type": "CONCEALED",
            "label": "recovery",
            "value": "alpha-bravo",
        },
    ]
    item: dict[str, Any] = {
        "id": OP_ITEM_ID,
        "title": "GitHub",
        "version": 4,
        "vault": {"id": OP_VAULT_ID, "name": "Private"},
        "category": "LOGIN",
        "urls": [
            {"label": "website", "primary": True, "href": "https://github.com/login"},
            {"href": "https://gist.github.com"},
        ],
        "sections": [{"id": "add more", "label": "Security"}],
        "fields": fields,
    }
    if cli:
        for field in fields:
            field["reference"] = f"op://Private/GitHub/{field['label']}"
        item.update(
            {
                "last_edited_by": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                "created_at": "2024-11-02T08:00:00Z",
                "updated_at": "2025-03-04T10:20:30Z",
                "additional_information": "octo@example.com",
            }
        )
    else:
        item.update({"createdAt": "2024-11-02T08:00:00Z", "updatedAt": "2025-03-04T10:20:30Z"})
    return item


OP_VAULTS: Final = [
    {"id": OP_VAULT_ID, "name": "Private", "type": "USER_CREATED", "items": 3},
    {"id": "m1n2b3v4c5x6z7l8k9j0h1g2f3", "name": "Shared Vault", "type": "USER_CREATED"},
]
OP_SUMMARIES: Final = [
    {"id": OP_ITEM_ID, "title": "GitHub", "vault": {"id": OP_VAULT_ID}, "category": "LOGIN"},
    {
        "id": "p0o9i8u7y6t5r4e3w2q1a0s9d8",
        "title": "Acme VPN",
        "vault": {"id": OP_VAULT_ID},
        "category": "LOGIN",
        "state": "ARCHIVED",
    },
]


def connect_documents() -> list[dict[str, Any]]:
    """What a Connect server answers per route (``vaults``, ``items``, ``item``)."""
    return [
        {"vaults": OP_VAULTS, "items": OP_SUMMARIES, "item": op_item()},
        {
            "status": 404,
            "vaults": {"status": 404, "message": "vault not found"},
            "items": [],
            "item": {"status": 404, "message": "item not found"},
        },
        {"status": 401, "item": {"status": 401, "message": "Invalid token signature"}},
        {"vaults": OP_VAULTS, "items": OP_SUMMARIES + OP_SUMMARIES[:1], "item": op_item()},
    ]


OP_ERRORS: Final = [
    '[ERROR] 2025/03/04 10:20:30 "GitHub" isn\'t an item in the "Private" vault. Specify the '
    "item with its UUID, name, or domain.",
    '[ERROR] 2025/03/04 10:20:30 "Privat" isn\'t a vault in this account. Specify the vault '
    "with its ID or name.",
    '[ERROR] 2025/03/04 10:20:30 More than one item matches "GitHub". Try again and specify '
    f'the item by its ID:\n\t* for the item "GitHub" in vault Private: {OP_ITEM_ID}\n'
    '\t* for the item "GitHub" in vault Private: p0o9i8u7y6t5r4e3w2q1a0s9d8',
    "[ERROR] 2025/03/04 10:20:30 You are not currently signed in. Please run `op signin "
    "--help` for instructions",
    "[ERROR] 2025/03/04 10:20:30 connecting to desktop app: read: connection reset",
]


def op_cli_outputs() -> list[tuple[int, str, str]]:
    return [
        (0, json.dumps(op_item(cli=True), indent=2), ""),
        *[(1, "", message) for message in OP_ERRORS],
        (0, "not json", ""),
    ]


# -- messages -------------------------------------------------------------------------------

MESSAGES: Final = [
    "482913",
    "584 302",
    "G-482913",
    "Your verification code is 731946. It expires in 10 minutes.",
    "Acme: 118 204 is your code. Don't share it.\n\n@acme.example.com #118204",
    "Subject: Sign in to Acme\n\nUse code K7Q2ZP to sign in. Order #99120334 shipped.",
    "<html><head><title>Your code</title></head><body><p>Hi,</p><p>Your one-time code:</p>"
    "<h1 style='letter-spacing:4px'>406 118</h1><a href='https://acme.example.com/unsubscribe'>"
    "Unsubscribe</a></body></html>",
    "<div style='display:none'>Code 552019</div><p>Click <a href='https://login.example.com/"
    "magic?token=4f9c2e7a1b&amp;next=%2F'>here</a> to sign in.</p>",
    "https://login.example.com/verify?token=4f9c2e7a1b5d",
    "Sign in to Acme: https://acme.example.com/auth/magic-link?t=Zk9xY2V0 (valid 15 min)",
    "Call us at +1 555 010 0199 or IBAN DE44 5001 0517 5407 3249 31 about order 123456.",
    "STOP",
    "Thanks!",
    "",
]

SIGNED_BODIES: Final = [
    b'{"task_id":"tsk_1","workflow_run_id":"wr_1","totp_identifier":"a@example.com",'
    b'"timestamp":1767225600}',
    b'{"timestamp":1767225600.5}',
    b'{"timestamp":"1767225600"}',
    b"[1767225600]",
    b"not json",
]

PULL_ANSWERS: Final = [
    (200, b'{"verification_code":"482913"}'),
    (200, b'{"verification_code":482913}'),
    (200, b'{"verification_code":"Your Acme code is 731946, valid 10 minutes."}'),
    (200, b'{"verification_code":""}'),
    (200, b"{}"),
    (204, b""),
    (302, b""),
    (401, b'{"detail":"bad signature"}'),
    (503, b"upstream down"),
]

# -- hazards --------------------------------------------------------------------------------

HAZARDS: Final = [
    "[" * 1500 + "]" * 1500,
    '{"a":' * 1200 + "1" + "}" * 1200,
    "9" * 5000,
    "\ud800",
    "\x00",
    "\u202e\u0000\ufeff",
]
"""Shapes that break naive parsers: nesting past the recursion limit, integers longer than
Python's 4300-digit limit, lone surrogates, NUL and direction marks."""
