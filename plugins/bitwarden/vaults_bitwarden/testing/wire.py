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
from vaults_bitwarden.testing.crypto import SymmetricKey, encrypt_text, encrypt_type2
from vaults_bitwarden.testing.items import VaultItem

__all__ = [
    "CipherRequestError",
    "Json",
    "access_token",
    "bitwarden_date",
    "cipher_from_request",
    "encrypt_cipher",
    "error_response",
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
        "kdf": account.kdf_type,
        "kdfIterations": account.kdf_iterations,
        "kdfMemory": account.kdf_memory,
        "kdfParallelism": account.kdf_parallelism,
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
        "Kdf": account.kdf_type,
        "KdfIterations": account.kdf_iterations,
        "KdfMemory": account.kdf_memory,
        "KdfParallelism": account.kdf_parallelism,
        "ResetMasterPassword": False,
        "ForcePasswordReset": False,
        "MasterPasswordPolicy": {"Object": "masterPasswordPolicy"},
        "UserDecryptionOptions": {
            "HasMasterPassword": True,
            "MasterPasswordUnlock": {
                "Kdf": {
                    "KdfType": account.kdf_type,
                    "Iterations": account.kdf_iterations,
                    "Memory": account.kdf_memory,
                    "Parallelism": account.kdf_parallelism,
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
            "username": encrypt_text(key, item.username),
            "password": encrypt_text(key, item.password),
            "totp": encrypt_text(key, item.totp),
            "uris": [
                {
                    "uri": encrypt_text(key, uri),
                    "uriChecksum": encrypt_text(key, _uri_checksum(uri)),
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
        "name": encrypt_text(key, item.name),
        "notes": encrypt_text(key, item.notes),
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
                "name": encrypt_text(key, f.name),
                "value": encrypt_text(key, f.value),
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
                "name": encrypt_text(account.user_key, account.folder_name),
                "revisionDate": bitwarden_date(folder_revision_date),
                "object": "folder",
            }
        ],
        "collections": [
            {
                "id": account.collection_id,
                "organizationId": account.organization_id,
                "name": encrypt_text(account.organization_key, account.collection_name),
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


# -- ciphers written by a client (POST /api/ciphers, /api/ciphers/create, PUT …/{id}) --------

_CIPHER_TYPES = {1: "login", 2: "secureNote", 3: "card", 4: "identity", 5: "sshKey"}
_CLIENT_FIELDS = (
    "type",
    "organizationId",
    "folderId",
    "name",
    "notes",
    "favorite",
    "reprompt",
    "key",
    "login",
    "card",
    "identity",
    "secureNote",
    "sshKey",
    "fields",
    "passwordHistory",
)


class CipherRequestError(ValueError):
    """A cipher request the real server would refuse with HTTP 400 and this message."""


def error_response(message: str) -> Json:
    """The body of the server's HTTP 400 (the CLI shows the validation message)."""
    return {
        "message": "The model state is invalid.",
        "validationErrors": {"": [message]},
        "exceptionMessage": None,
        "exceptionStackTrace": None,
        "innerExceptionMessage": None,
        "object": "error",
    }


def _get(data: Json, name: str) -> Any:
    """A request member in camelCase or PascalCase (the server's JSON binding ignores case)."""
    if name in data:
        return data[name]
    return data.get(name[:1].upper() + name[1:])


def cipher_from_request(
    account: BitwardenAccount,
    request: Json,
    *,
    cipher_id: str,
    collection_ids: list[str],
    creation_date: datetime,
    revision_date: datetime,
) -> Json:
    """The stored ``cipherDetails`` document for a client's (already encrypted) cipher.

    Everything encrypted is kept exactly as the client sent it. Checks what the real
    server checks: a known type, an encrypted name, the account's own folder,
    organisation and collections, and ``encryptedFor`` naming this user."""
    if not isinstance(request, dict):
        raise CipherRequestError("The request body must be a JSON object.")
    kind = _get(request, "type")
    if kind not in _CIPHER_TYPES:
        raise CipherRequestError("The Type field is required and must be 1 to 5.")
    name = _get(request, "name")
    if not isinstance(name, str) or not name.startswith(("2.", "7.")):
        raise CipherRequestError("The Name field is required and must be encrypted.")
    encrypted_for = _get(request, "encryptedFor")
    if encrypted_for is not None and str(encrypted_for).lower() != account.user_id:
        raise CipherRequestError("Cipher was not encrypted for the current user. Try again.")
    folder = _get(request, "folderId")
    if folder is not None and str(folder).lower() != account.folder_id:
        raise CipherRequestError("Invalid folder.")
    organization = _get(request, "organizationId")
    if organization is not None:
        if str(organization).lower() != account.organization_id:
            raise CipherRequestError("Invalid organization.")
        if not collection_ids:
            raise CipherRequestError("You must select at least one collection.")
        if any(c.lower() != account.collection_id for c in collection_ids):
            raise CipherRequestError("Invalid collection.")
    elif collection_ids:
        raise CipherRequestError("Only organization ciphers belong to collections.")
    document: Json = {name: _get(request, name) for name in _CLIENT_FIELDS}
    document.update(
        id=cipher_id,
        organizationId=None if organization is None else str(organization).lower(),
        favorite=bool(document["favorite"]),
        reprompt=int(document["reprompt"] or 0),
        edit=True,
        viewPassword=True,
        permissions={"delete": True, "restore": True},
        organizationUseTotp=True,
        revisionDate=bitwarden_date(revision_date),
        creationDate=bitwarden_date(creation_date),
        deletedDate=None,
        archivedDate=None,
        collectionIds=[c.lower() for c in collection_ids],
        attachments=None,
        object="cipherDetails",
    )
    return document
