"""JSON shapes of the Bitwarden server API, as the official CLI accepts them.

Pure functions from the account, the clear-text items and timestamps to the
(encrypted) JSON documents the server answers with.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.crypto import SymmetricKey, encrypt_type2
from vaults_bitwarden.testing.items import VaultItem

__all__ = [
    "Json",
    "access_token",
    "bitwarden_date",
    "encrypt_cipher",
    "invalid_password_error",
    "prelogin_response",
    "sync_response",
    "token_response",
]

Json = dict[str, Any]

ACCESS_TOKEN_LIFETIME_S = 3600


def bitwarden_date(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a ``Z``, as the server writes dates."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def access_token(account: BitwardenAccount, *, client_id: str, issuer: str, now: int) -> str:
    """A JWT-shaped access token. The CLI reads its claims but does not check the signature."""
    header = {"alg": "RS256", "kid": "vaults-test", "typ": "at+jwt"}
    claims: Json = {
        "nbf": now,
        "exp": now + ACCESS_TOKEN_LIFETIME_S,
        "iss": issuer,
        "client_id": client_id,
        "sub": account.user_id,
        "auth_time": now,
        "idp": "bitwarden",
        "premium": True,
        "email": account.email,
        "email_verified": True,
        "name": account.name,
        "sstamp": account.security_stamp,
        "device": "vaults-test-device",
        "scope": ["api", "offline_access"],
        "amr": ["Application"],
        "iat": now,
    }
    parts = [
        _b64url(json.dumps(header, separators=(",", ":")).encode()),
        _b64url(json.dumps(claims, separators=(",", ":")).encode()),
        _b64url(secrets.token_bytes(64)),
    ]
    return ".".join(parts)


def prelogin_response(account: BitwardenAccount) -> Json:
    return {
        "kdf": 0,
        "kdfIterations": account.kdf_iterations,
        "kdfMemory": None,
        "kdfParallelism": None,
    }


def token_response(account: BitwardenAccount, *, token: str, refresh_token: str) -> Json:
    return {
        "access_token": token,
        "expires_in": ACCESS_TOKEN_LIFETIME_S,
        "token_type": "Bearer",
        "refresh_token": refresh_token,
        "scope": "api offline_access",
        "Key": account.protected_user_key,
        "PrivateKey": account.protected_private_key,
        "AccountKeys": _account_keys(account),
        "Kdf": 0,
        "KdfIterations": account.kdf_iterations,
        "KdfMemory": None,
        "KdfParallelism": None,
        "ResetMasterPassword": False,
        "ForcePasswordReset": False,
        "MasterPasswordPolicy": {"Object": "masterPasswordPolicy"},
        "UserDecryptionOptions": {
            "HasMasterPassword": True,
            "MasterPasswordUnlock": {
                "Kdf": {
                    "KdfType": 0,
                    "Iterations": account.kdf_iterations,
                    "Memory": None,
                    "Parallelism": None,
                },
                "MasterKeyEncryptedUserKey": account.protected_user_key,
                "Salt": account.salt,
            },
            "Object": "userDecryptionOptions",
        },
    }


def invalid_password_error() -> Json:
    """The body (HTTP 400) the real identity server answers a wrong master password with."""
    return {
        "error": "invalid_grant",
        "error_description": "invalid_username_or_password",
        "ErrorModel": {
            "Message": "Username or password is incorrect. Try again.",
            "Object": "error",
        },
    }


def _account_keys(account: BitwardenAccount) -> Json:
    # The CLI requires these inner names in camelCase exactly.
    return {
        "publicKeyEncryptionKeyPair": {
            "publicKey": account.public_key_b64,
            "wrappedPrivateKey": account.protected_private_key,
            "signedPublicKey": None,
        },
        "signatureKeyPair": None,
        "securityState": None,
    }


def _encrypt_text(key: SymmetricKey, value: str | None) -> str | None:
    return None if value is None else encrypt_type2(key, value.encode("utf-8"))


def _uri_checksum(uri: str) -> str:
    return base64.b64encode(hashlib.sha256(uri.encode("utf-8")).digest()).decode("ascii")


def encrypt_cipher(
    account: BitwardenAccount,
    item: VaultItem,
    *,
    creation_date: datetime,
    revision_date: datetime,
) -> Json:
    """The ``cipherDetails`` document of one item, encrypted as a client would."""
    owner_key = account.organization_key if item.organization else account.user_key
    wrapped_item_key: str | None = None
    key = owner_key
    if item.own_cipher_key:
        key = SymmetricKey.generate()
        wrapped_item_key = encrypt_type2(owner_key, key.to_bytes())

    login: Json | None = None
    secure_note: Json | None = None
    if item.kind == "login":
        login = {
            "username": _encrypt_text(key, item.username),
            "password": _encrypt_text(key, item.password),
            "totp": _encrypt_text(key, item.totp),
            "uris": [
                {
                    "uri": _encrypt_text(key, uri),
                    "uriChecksum": _encrypt_text(key, _uri_checksum(uri)),
                    "match": None,
                }
                for uri in item.uris
            ],
            "passwordRevisionDate": None,
            "fido2Credentials": None,
            "autofillOnPageLoad": None,
        }
    else:
        secure_note = {"type": 0}

    return {
        "id": item.id,
        "organizationId": account.organization_id if item.organization else None,
        "folderId": account.folder_id if item.in_folder else None,
        "type": 1 if item.kind == "login" else 2,
        "name": _encrypt_text(key, item.name),
        "notes": _encrypt_text(key, item.notes),
        "favorite": item.favorite,
        "reprompt": 0,
        "key": wrapped_item_key,
        "edit": True,
        "viewPassword": True,
        "permissions": {"delete": True, "restore": True},
        "organizationUseTotp": True,
        "revisionDate": bitwarden_date(revision_date),
        "creationDate": bitwarden_date(creation_date),
        "deletedDate": None,
        "archivedDate": None,
        "collectionIds": [account.collection_id] if item.organization else [],
        "login": login,
        "secureNote": secure_note,
        "card": None,
        "identity": None,
        "sshKey": None,
        "fields": [
            {
                "type": int(f.type),
                "name": _encrypt_text(key, f.name),
                "value": _encrypt_text(key, f.value),
                "linkedId": None if f.linked_id is None else int(f.linked_id),
            }
            for f in item.fields
        ]
        if item.fields
        else None,
        "attachments": None,
        "passwordHistory": None,
        "object": "cipherDetails",
    }


def _profile(account: BitwardenAccount) -> Json:
    return {
        "id": account.user_id,
        "name": account.name,
        "email": account.email,
        "emailVerified": True,
        "premium": True,
        "premiumFromOrganization": False,
        "culture": "en-US",
        "twoFactorEnabled": False,
        "key": account.protected_user_key,
        "privateKey": account.protected_private_key,
        "accountKeys": _account_keys(account),
        "securityStamp": account.security_stamp,
        "forcePasswordReset": False,
        "usesKeyConnector": False,
        "avatarColor": None,
        "creationDate": bitwarden_date(account.creation_date),
        "organizations": [
            {
                "id": account.organization_id,
                "name": account.organization_name,
                "key": account.protected_organization_key,
                "status": 2,
                "type": 2,
                "enabled": True,
                "useTotp": True,
                "usersGetPremium": True,
                "usePolicies": False,
                "selfHost": True,
                "seats": 10,
                "maxCollections": None,
                "userId": account.user_id,
                "permissions": {},
                "object": "profileOrganization",
            }
        ],
        "providers": [],
        "providerOrganizations": [],
        "object": "profile",
    }


def sync_response(
    account: BitwardenAccount, ciphers: list[Json], *, folder_revision_date: datetime
) -> Json:
    """The whole ``GET /api/sync`` document."""
    return {
        "profile": _profile(account),
        "folders": [
            {
                "id": account.folder_id,
                "name": _encrypt_text(account.user_key, account.folder_name),
                "revisionDate": bitwarden_date(folder_revision_date),
                "object": "folder",
            }
        ],
        "collections": [
            {
                "id": account.collection_id,
                "organizationId": account.organization_id,
                "name": _encrypt_text(account.organization_key, account.collection_name),
                "externalId": None,
                "readOnly": False,
                "hidePasswords": False,
                "manage": True,
                "object": "collectionDetails",
            }
        ],
        "ciphers": ciphers,
        "policies": [],
        "sends": [],
        "domains": None,
        "object": "sync",
    }
