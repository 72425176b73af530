"""The Bitwarden server API, spoken directly: log in with the API key, sync, unlock.

Requests (``identity`` and ``api`` are derived from ``VAULTS_BITWARDEN_SERVER``):

- ``POST {identity}/connect/token`` — ``grant_type=client_credentials`` with
  ``BW_CLIENTID``/``BW_CLIENTSECRET`` (no interactive 2FA); the reply carries the KDF
  parameters and salt. ``refresh_token`` when the server gave one;
- ``GET {api}/accounts/revision-date`` — epoch milliseconds of the last change;
- ``GET {api}/sync?excludeDomains=true`` — the whole encrypted vault.

A process with a warm cache derives the master key (the KDF is the slow part), decrypts
its cached access token and asks only for the revision date: one small request. When the
date moved, it syncs again. A 401 refreshes the token (or logs in again) and retries once.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import threading
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlencode

from vaults.errors import (
    AuthenticationFailed,
    ConfigurationError,
    VaultsError,
    VaultUnavailable,
    WriteConflict,
)
from vaults.small_http import HttpClient, HttpError, Reply
from vaults_bitwarden.messages import OUT_OF_DATE
from vaults_bitwarden.native.cache import MAX_CACHE_BYTES, CachedSync, SyncCache
from vaults_bitwarden.native.crypto import (
    EncStringError,
    KdfError,
    decrypt_text,
    encrypt_text,
)
from vaults_bitwarden.native.early import EarlyUnlock
from vaults_bitwarden.native.kdf import kdf_params
from vaults_bitwarden.native.vault import Vault, unlock
from vaults_bitwarden.settings import (
    ENV_CA,
    ENV_CLIENT_ID,
    ENV_CLIENT_SECRET,
    ENV_PASSWORD,
    ENV_SERVER,
    BitwardenSettings,
    default_cache_dir,
)

if TYPE_CHECKING:
    from vaults.plain import SecretLike

__all__ = ["CHECK_INTERVAL", "DEVICE_TYPE", "ApiSession"]

log = logging.getLogger("vaults_bitwarden.api")

CHECK_INTERVAL: Final = 30.0
"""Seconds a process trusts its vault before asking for the revision date again."""
DEVICE_TYPE: Final = "21"
"""Bitwarden's device type for SDK clients (the server records each device)."""
CLIENT_NAME: Final = "vaults"
TOKEN_MARGIN: Final = 60.0
"""An access token this close to its expiry is renewed before use."""


def _get(data: Mapping[str, Any], name: str) -> Any:
    if name in data:
        return data[name]
    return data.get(name[:1].upper() + name[1:])


def _jwt_claims(token: str) -> Mapping[str, Any]:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _kdf_from_token(reply: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """KDF parameters and salt from a token reply (``UserDecryptionOptions`` first)."""
    options = _get(reply, "userDecryptionOptions")
    unlock_info = _get(options, "masterPasswordUnlock") if isinstance(options, Mapping) else None
    if isinstance(unlock_info, Mapping) and isinstance(_get(unlock_info, "kdf"), Mapping):
        kdf = _get(unlock_info, "kdf")
        salt = _get(unlock_info, "salt")
        return (
            {
                "type": _get(kdf, "kdfType"),
                "iterations": _get(kdf, "iterations"),
                "memory": _get(kdf, "memory"),
                "parallelism": _get(kdf, "parallelism"),
            },
            salt if isinstance(salt, str) else None,
        )
    if _get(reply, "kdf") is None:
        return None, None
    return (
        {
            "type": _get(reply, "kdf"),
            "iterations": _get(reply, "kdfIterations"),
            "memory": _get(reply, "kdfMemory"),
            "parallelism": _get(reply, "kdfParallelism"),
        },
        None,
    )


def ssl_context(ca_file: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError):
        raise ConfigurationError(
            f"{ENV_CA} (or SSL_CERT_FILE) must be a readable PEM file of CA certificates"
        ) from None


class ApiSession:
    """One account on one server: tokens, the sync cache and the unlocked :class:`Vault`.

    Thread-safe. Secrets (API key secret, master password, tokens, keys) are kept out of
    ``repr``, logs and messages."""

    def __init__(self, settings: BitwardenSettings, *, early: EarlyUnlock | None = None) -> None:
        if settings.server is None or settings.api_url is None or settings.identity_url is None:
            raise ConfigurationError(f"the native Bitwarden transport needs {ENV_SERVER}")
        missing = [
            name
            for name, value in (
                (ENV_CLIENT_ID, settings.client_id),
                (ENV_CLIENT_SECRET, settings.client_secret),
                (ENV_PASSWORD, settings.password),
            )
            if value is None
        ]
        if missing:
            raise ConfigurationError(
                f"{ENV_SERVER} is set, so Bitwarden is read natively: set {', '.join(missing)} "
                "(the account's personal API key and master password)"
            )
        assert settings.client_id is not None and settings.client_secret is not None
        assert settings.password is not None
        self.server = settings.server
        self.api_url = settings.api_url
        self.identity_url = settings.identity_url
        self.source = f"the Bitwarden server at {self.server}"
        self._client_id = settings.client_id
        self._client_secret: SecretLike = settings.client_secret
        self._password: SecretLike = settings.password
        self._timeout = settings.timeout
        self._ca_file = settings.ca_file
        self.cache = SyncCache(
            settings.cache_dir or default_cache_dir({}), self.api_url, self._client_id
        )
        self._device = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.api_url}#{self._client_id}"))
        self._lock = threading.RLock()
        self._count_lock = threading.Lock()
        self._client: HttpClient | None = None
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires_at = 0.0
        self._token_reply: Mapping[str, Any] | None = None
        self._master_key: bytes | None = None
        self._salt: str | None = None
        self._kdf: dict[str, Any] | None = None
        self._revision: int | None = None
        self._checked_at = float("-inf")
        self._failure: VaultsError | None = None
        self.vault: Vault | None = None
        self.requests = 0
        self.kdf_seconds = 0.0
        self._cache_where = (self.cache.directory, self.api_url, self._client_id)
        self._early = early if early is not None and early.where == self._cache_where else None

    def __repr__(self) -> str:
        state = "unlocked" if self.vault is not None else "locked"
        return f"ApiSession(server={self.server!r}, {state})"

    # -- HTTP ---------------------------------------------------------------------------
    @property
    def client(self) -> HttpClient:
        if self._client is None:
            self._client = HttpClient(
                context=ssl_context(self._ca_file),
                schemes=frozenset({"https"}),
                timeout=self._timeout,
                headers={
                    "Device-Type": DEVICE_TYPE,
                    "Bitwarden-Client-Name": CLIENT_NAME,
                    "Accept": "application/json",
                    "User-Agent": f"{CLIENT_NAME} (Bitwarden native transport)",
                },
                max_bytes=MAX_CACHE_BYTES,
                on_try=self._count,
            )
        return self._client

    def _count(self) -> None:
        with self._count_lock:
            self.requests += 1

    def _http(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        try:
            reply = self.client.request(method, url, headers=headers, body=body)
        except HttpError as exc:
            cause = _CAUSES.get(exc.kind, exc.cause)
            if exc.kind == "tls" and "not trusted" in cause:
                cause += f" (set {ENV_CA} to your CA's PEM file)"
            raise VaultUnavailable(f"{self.source}: {what} failed: {cause}") from None
        if reply.status >= 500 or reply.status == 429:
            raise VaultUnavailable(f"{self.source}: {what} failed with HTTP {reply.status}")
        return reply

    @staticmethod
    def _json(reply: Reply, source: str, what: str) -> Any:
        try:
            return json.loads(reply.body)
        except (ValueError, RecursionError):
            raise VaultUnavailable(f"{source}: {what}: the reply is not JSON") from None

    # -- tokens -------------------------------------------------------------------------
    def _token_request(self, form: dict[str, str], what: str) -> Reply:
        return self._http(
            "POST",
            f"{self.identity_url}/connect/token",
            what,
            body=urlencode(form).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )

    def _accept_token(self, reply: Mapping[str, Any]) -> None:
        access = reply.get("access_token")
        if not isinstance(access, str) or not access:
            raise VaultUnavailable(f"{self.source}: the token reply has no access token")
        expires = reply.get("expires_in")
        lifetime = float(expires) if isinstance(expires, (int, float)) else 3600.0
        self._access = access
        refresh = reply.get("refresh_token")
        self._refresh = refresh if isinstance(refresh, str) and refresh else None
        self._expires_at = time.time() + lifetime
        self._token_reply = reply

    def _login(self) -> None:
        """``client_credentials`` with the personal API key."""
        if self._failure is not None:
            raise self._failure
        response = self._token_request(
            {
                "grant_type": "client_credentials",
                "scope": "api",
                "client_id": self._client_id,
                "client_secret": self._client_secret.get_secret_value(),
                "deviceType": DEVICE_TYPE,
                "deviceIdentifier": self._device,
                "deviceName": CLIENT_NAME,
            },
            "logging in with the API key",
        )
        body = self._json(response, self.source, "logging in")
        if response.status != 200 or not isinstance(body, dict):
            reason = body.get("error") if isinstance(body, dict) else None
            self._failure = AuthenticationFailed(
                f"{self.source} refused the API key ({ENV_CLIENT_ID}/{ENV_CLIENT_SECRET}): "
                f"{reason if isinstance(reason, str) else 'HTTP ' + str(response.status)}"
                "; was it rotated or revoked?"
            )
            raise self._failure
        self._accept_token(body)

    def _renew(self) -> None:
        """Refresh the access token when a refresh token exists, else log in again."""
        if self._refresh is not None:
            response = self._token_request(
                {
                    "grant_type": "refresh_token",
                    "client_id": self._client_id,
                    "refresh_token": self._refresh,
                },
                "refreshing the access token",
            )
            body = self._json(response, self.source, "refreshing the token")
            if response.status == 200 and isinstance(body, dict):
                self._accept_token(body)
                return
            self._refresh = None
        self._login()

    def _authorized(
        self, method: str, path: str, what: str, body: Any = None, *, ok: int = 200
    ) -> Reply:
        if self._access is None or time.time() > self._expires_at - TOKEN_MARGIN:
            self._renew()
        headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else {}
        data = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in (1, 2):
            response = self._http(
                method,
                f"{self.api_url}{path}",
                what,
                headers={**headers, "Authorization": f"Bearer {self._access}"},
                body=data,
            )
            if response.status != 401:
                break
            if attempt == 2:
                raise AuthenticationFailed(
                    f"{self.source} refused a fresh access token for {what} (HTTP 401)"
                )
            log.debug("access token refused (401): renewing it")
            self._access = None
            self._renew()
        if response.status != ok:
            message = _server_message(response)
            if response.status == 400 and OUT_OF_DATE in message:
                raise WriteConflict(
                    f"{self.source}: {what}: the item changed since it was read; nothing was "
                    "written (sync and try again)"
                )
            raise VaultUnavailable(
                f"{self.source}: {what} failed with HTTP {response.status}{message}"
            )
        return response

    def api(self, method: str, path: str, body: Any = None, *, what: str = "") -> Any:
        """An authenticated API call (``path`` below the API URL, e.g. ``/ciphers/<id>``)
        with a JSON body; returns the JSON reply (``None`` when empty). For writers: encrypt
        fields with :meth:`Vault.item_key` of the item and
        :func:`~vaults_bitwarden.native.crypto.encrypt_text`; a 400 raises
        :class:`VaultUnavailable` quoting the server's validation message."""
        with self._lock:
            if self.vault is None:
                self.unlocked()
            label = what or f"{method} {path.split('?')[0]}"
            reply = self._authorized(method, path, label, body)
            if not reply.body:
                return None
            return self._json(reply, self.source, label)

    def _revision_date(self) -> int:
        response = self._authorized("GET", "/accounts/revision-date", "the revision check")
        value = self._json(response, self.source, "the revision check")
        if not isinstance(value, int) or isinstance(value, bool):
            raise VaultUnavailable(f"{self.source}: the revision date is not a number")
        return value

    def _sync(self) -> dict[str, Any]:
        response = self._authorized("GET", "/sync?excludeDomains=true", "the sync")
        body = self._json(response, self.source, "the sync")
        if not isinstance(body, dict):
            raise VaultUnavailable(f"{self.source}: the sync reply is not an object")
        return body

    # -- unlocking ------------------------------------------------------------------------
    def _derive(self, salt: str, kdf: Mapping[str, Any]) -> bytes:
        try:
            params = kdf_params(kdf)
        except KdfError as exc:
            raise AuthenticationFailed(f"{self.source}: refusing to unlock: {exc}") from None
        started = time.perf_counter()
        from vaults_bitwarden.native.crypto import make_master_key

        key = make_master_key(self._password.get_secret_value(), salt, params)
        self.kdf_seconds = time.perf_counter() - started
        log.debug("master key derived (%s) in %.0f ms", params.describe(), self.kdf_seconds * 1e3)
        return key

    def _salt_and_kdf(self, sync: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        reply = self._token_reply or {}
        kdf, salt = _kdf_from_token(reply)
        if salt is None:
            profile = _get(sync, "profile")
            email = _get(profile, "email") if isinstance(profile, Mapping) else None
            salt = email if isinstance(email, str) else _jwt_claims(self._access or "").get("email")
        if not isinstance(salt, str) or not salt or kdf is None:
            raise VaultUnavailable(f"{self.source}: the login reply lacks the KDF parameters")
        return salt, kdf

    def _encrypted_token(self, vault: Vault) -> str | None:
        if self._access is None:
            return None
        payload = {"access": self._access, "refresh": self._refresh, "expires": self._expires_at}
        return encrypt_text(vault.user_key, json.dumps(payload))

    def _restore_token(self, vault: Vault, token: str | None) -> None:
        if token is None:
            return
        try:
            data = json.loads(decrypt_text(vault.user_key, token) or "")
        except (EncStringError, ValueError):
            return
        if isinstance(data, dict) and isinstance(data.get("access"), str):
            self._access = data["access"]
            refresh = data.get("refresh")
            self._refresh = refresh if isinstance(refresh, str) else None
            expires = data.get("expires")
            self._expires_at = float(expires) if isinstance(expires, (int, float)) else 0.0

    def _store(
        self, vault: Vault, sync: Mapping[str, Any], revision: int, index: str | None = None
    ) -> None:
        assert self._salt is not None and self._kdf is not None
        self.cache.store(
            CachedSync(
                revision=revision,
                salt=self._salt,
                kdf=self._kdf,
                sync=sync,
                token=self._encrypted_token(vault),
                index=index or vault.export_index(),
            )
        )

    def _fresh(self, *, login: bool = False, revision: int | None = None) -> Vault:
        """Log in (if needed), check the revision (unless given), sync, unlock, write the
        cache. The revision is read before the sync: a change in between syncs again later."""
        if self._access is None or login:
            self._login()
        if revision is None:
            revision = self._revision_date()
        sync = self._sync()
        if self._master_key is None:
            salt, kdf = self._salt_and_kdf(sync)
            self._master_key = self._derive(salt, kdf)
            self._salt, self._kdf = salt, kdf
        try:
            vault = unlock(sync, self._master_key, source=self.source)
        except AuthenticationFailed:
            # the password or KDF may have changed since the cache was written
            if self._token_reply is not None:
                raise
            self._login()
            salt, kdf = self._salt_and_kdf(sync)
            self._master_key = self._derive(salt, kdf)
            self._salt, self._kdf = salt, kdf
            vault = unlock(sync, self._master_key, source=self.source)
        self._revision = revision
        self._store(vault, sync, revision)
        return vault

    def _open(self) -> Vault:
        early, self._early = self._early, None
        if early is None:  # a session made in-process: begin the same way now
            early = EarlyUnlock(*self._cache_where, self._password.get_secret_value())
        # the cache read and the KDF run in early's thread (hashlib and argon2 release the
        # GIL); the TLS handshake for the revision check is made meanwhile
        self.client.preconnect(self.api_url)
        cached, self._master_key = early.result()
        self.kdf_seconds = early.seconds
        if cached is None:
            return self._fresh()
        self._salt, self._kdf = cached.salt, dict(cached.kdf)
        if self._master_key is None:  # refused or failed there: derive here, and report it
            self._master_key = self._derive(cached.salt, cached.kdf)
        try:
            vault = unlock(cached.sync, self._master_key, source=self.source)
        except AuthenticationFailed:
            # a wrong password, or a cache from before a password or KDF change: ask the server
            self._master_key = None
            return self._fresh(login=True)
        self._restore_token(vault, cached.token)
        revision = self._revision_date()
        if revision == cached.revision:
            self._revision = revision
            if cached.index is not None and not vault.import_index(cached.index):
                log.debug("the cached listing is unusable: decrypting the names again")
            if self._token_reply is not None:  # the token changed: keep the new one
                self._store(vault, cached.sync, revision, cached.index)
            return vault
        log.debug("the vault changed since the cache was written: syncing")
        return self._fresh(revision=revision)

    def unlocked(self, *, force_check: bool = False) -> Vault:
        """The unlocked vault, checking the revision date at most every
        :data:`CHECK_INTERVAL` seconds (or now, with ``force_check``)."""
        with self._lock:
            if self._failure is not None:
                raise self._failure
            now = time.monotonic()
            if (
                self.vault is not None
                and not force_check
                and now - self._checked_at < CHECK_INTERVAL
            ):
                return self.vault
            try:
                if self.vault is None:
                    self.vault = self._open()
                else:
                    revision = self._revision_date()
                    if revision != self._revision:
                        self.vault = self._fresh(revision=revision)
            except AuthenticationFailed as exc:
                self._failure = exc
                raise
            self._checked_at = time.monotonic()
            return self.vault

    def status(self) -> str:
        """``unlocked`` once a lookup has unlocked the vault, else ``locked`` (no request)."""
        return "unlocked" if self.vault is not None else "locked"

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            self.vault = None
            self._master_key = None
            self._access = self._refresh = None
        if client is not None:
            client.close()


_CAUSES: Final[Mapping[str, str]] = {
    "connect": "cannot connect (is the server up and the address right?)",
    "closed": "the connection was closed or reset mid-reply",
}


def _server_message(reply: Reply) -> str:
    """``: <message>`` from a Bitwarden error body (validation messages first), else ''."""
    try:
        body = json.loads(reply.body)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(body, dict):
        return ""
    errors = _get(body, "validationErrors")
    if isinstance(errors, dict):
        for messages in errors.values():
            if isinstance(messages, list) and messages and isinstance(messages[0], str):
                return f": {messages[0][:200]}"
    message = _get(body, "message")
    return f": {message[:200]}" if isinstance(message, str) else ""
