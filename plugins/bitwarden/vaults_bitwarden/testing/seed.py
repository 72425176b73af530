"""The default vault content of the session test server, as clear-text data.

Tests compare what a client decrypted against these objects. Ids are fixed so a
test can name an item directly; names repeat on purpose (``SHARED_NAME_*``).
"""

# ruff: noqa: S105, S106  (clear-text test data by design)

from __future__ import annotations

from vaults_bitwarden.testing.items import CustomField, FieldType, LinkedId, VaultItem

__all__ = [
    "CANARY",
    "CANARY_PASSWORD",
    "CANARY_TOTP_SECRET",
    "CIPHER_KEY",
    "DEFAULT_SEED",
    "GITHUB",
    "JUNK_TOTP",
    "ORG_WITH_KEY",
    "OTPAUTH_SHA256",
    "PLAIN",
    "SECURE_NOTE",
    "SHARED_NAME",
    "SHARED_NAME_ORG",
    "SHARED_NAME_PERSONAL",
    "STEAM",
    "UNICODE",
]

CANARY_PASSWORD = "canary-pw-7c1e4b9a-MUST-NOT-LEAK"
"""A password that must never show up in logs, reprs, errors or tracebacks."""

CANARY_TOTP_SECRET = "CANARYTOTPSECRETVAULTSTESTABCDEF"
"""A raw base32 TOTP secret that must never show up outside a decrypted item."""

SHARED_NAME = "Shared Name"

GITHUB = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f01",
    name="GitHub",
    username="octocat@example.com",
    password="gh-hunter2-pass",
    totp="JBSWY3DPEHPK3PXP",
    uris=("https://github.com/login",),
    notes="Personal GitHub account.",
    fields=(
        CustomField(name="region", value="eu", type=FieldType.TEXT),
        CustomField(name="api_key", value="ghp-hidden-field-value", type=FieldType.HIDDEN),
        CustomField(name="is_admin", value="true", type=FieldType.BOOLEAN),
        CustomField(name="Linked password", type=FieldType.LINKED, linked_id=LinkedId.PASSWORD),
    ),
)

OTPAUTH_SHA256 = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f02",
    name="Example SHA256 8 digits",
    username="alice@example.com",
    password="sha256-login-pass",
    totp=(
        "otpauth://totp/Example:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        "&algorithm=SHA256&digits=8&period=60&issuer=Example"
    ),
    uris=("https://example.com/login",),
)

STEAM = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f03",
    name="Steam",
    username="gamer",
    password="steam-login-pass",
    totp="steam://HXDMVJECJJWSRB3HWIZR4IFUGFTMXBOZ",
    uris=("https://store.steampowered.com/login",),
)

PLAIN = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f04",
    name="Plain Login",
    username="plain-user",
    password="plain-login-pass",
    totp=None,
    uris=(
        "https://plain.example.com/",
        "https://login.plain.example.com/sso",
        "androidapp://com.example.plain",
    ),
    in_folder=True,
)

SHARED_NAME_PERSONAL = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f05",
    name=SHARED_NAME,
    username="first@example.com",
    password="shared-first-pass",
)

SHARED_NAME_ORG = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f06",
    name=SHARED_NAME,
    username="second@example.com",
    password="shared-second-pass",
    totp="WQIQ25BRKZYCJVYP",
    organization=True,
)

ORG_WITH_KEY = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f07",
    name="Org Login With Item Key",
    username="org-admin@example.com",
    password="org-item-key-pass",
    totp="otpauth://totp/Org:org-admin?secret=KRSXG5CTMVRXEZLU&issuer=Org",
    uris=("https://org.example.com/",),
    fields=(CustomField(name="tenant", value="acme", type=FieldType.TEXT),),
    organization=True,
    own_cipher_key=True,
)

CIPHER_KEY = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f08",
    name="Personal Login With Item Key",
    username="keyed@example.com",
    password="personal-item-key-pass",
    totp="GEZDGNBVGY3TQOJQ",
    uris=("https://keyed.example.com/", "https://keyed.example.org/"),
    fields=(CustomField(name="pin", value="4321", type=FieldType.HIDDEN),),
    own_cipher_key=True,
)

UNICODE = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f09",
    name="Ünïcødé – 秘密 🔑",
    username="jürgen@例え.jp",
    password="pässwörd-秘密-🔑",
    notes="Zeile 1\nZeile 2 — ✓",
    uris=("https://bücher.example/",),
)

CANARY = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f0a",
    name="Canary Login",
    username="canary@example.com",
    password=CANARY_PASSWORD,
    totp=CANARY_TOTP_SECRET,
    uris=("https://canary.example.com/",),
)

JUNK_TOTP = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f0c",
    name="Junk In TOTP",
    username="junk@example.com",
    password="junk-totp-pass",
    totp="KAKFJWOSFJ12NWL",
)
"""A secret with a character outside base32 ("1"): Bitwarden's apps drop it and show a code
(sdk-internal's totp.rs test vector: 093430 at 2023-01-01T00:00:00Z)."""

SECURE_NOTE = VaultItem(
    id="0b6a2b8e-5a1f-4d0c-9a3e-1f2c3d4e5f0b",
    name="Secure Note",
    notes="Not a login: bw get totp/password must refuse it.",
    kind="note",
)

DEFAULT_SEED: tuple[VaultItem, ...] = (
    GITHUB,
    OTPAUTH_SHA256,
    STEAM,
    PLAIN,
    SHARED_NAME_PERSONAL,
    SHARED_NAME_ORG,
    ORG_WITH_KEY,
    CIPHER_KEY,
    UNICODE,
    CANARY,
    SECURE_NOTE,
    JUNK_TOTP,
)
