"""A Bitwarden-compatible HTTPS server on 127.0.0.1 for the official CLI.

It speaks the endpoints ``bw login``, ``bw unlock`` and ``bw sync`` use:
``/api/config``, ``/identity/accounts/prelogin[/password]``,
``/identity/connect/token`` (password, client_credentials and refresh_token grants),
``/api/sync`` and ``/api/accounts/revision-date``; and those ``bw create item``,
``bw edit item``, ``bw delete item`` and ``bw restore item`` (or ``bw serve``'s
``/object/item``) write with: ``POST /api/ciphers``, ``POST /api/ciphers/create``
(organisation items, with ``collectionIds``), ``PUT /api/ciphers/{id}``,
``PUT /api/ciphers/{id}/delete``, ``PUT /api/ciphers/{id}/restore``,
``DELETE /api/ciphers/{id}``, and ``GET /api/ciphers/{id}``. It runs in a background thread.

``cipher_key_encryption=True`` turns on the ``cipher-key-encryption`` feature flag in
``/api/config``: the official CLI then gives every item it writes its own cipher key
(it also needs the server version, 2026.6.0 here, to be at least 2024.2.0).

The account (keys, security stamp), the vault contents and issued tokens belong to
the :class:`BitwardenTestServer` object, not to the listening socket, so ``stop()``
then ``start()`` keeps them: the CLI's cached keys and tokens stay valid.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from vaults_bitwarden.testing.account import BitwardenAccount
from vaults_bitwarden.testing.certs import LOOPBACK, TlsMaterial, generate_tls_material
from vaults_bitwarden.testing.items import VaultItem
from vaults_bitwarden.testing.vault import VaultContents
from vaults_bitwarden.testing.wire import (
    CipherRequestError,
    Json,
    access_token,
    error_response,
    invalid_password_error,
    prelogin_response,
    token_response,
)

__all__ = ["BitwardenTestServer", "RecordedRequest"]

_MAX_BODY = 1 << 20
_MAX_RECORDED = 2000
_SERVER_VERSION = "2026.6.0"


@dataclass(frozen=True)
class RecordedRequest:
    """What the server saw of one request (never bodies or credentials)."""

    method: str
    path: str
    status: int
    grant_type: str | None = None


class _TokenStore:
    """Issued tokens, each with the feature flags of the login it belongs to."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._access: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, dict[str, Any]] = {}

    def issue(
        self,
        account: BitwardenAccount,
        *,
        client_id: str,
        issuer: str,
        features: Mapping[str, Any],
    ) -> tuple[str, str]:
        token = access_token(account, client_id=client_id, issuer=issuer, now=int(time.time()))
        refresh = secrets.token_urlsafe(48)
        with self._lock:
            self._access[token] = dict(features)
            self._refresh[refresh] = dict(features)
        return token, refresh

    def valid_access(self, token: str) -> bool:
        with self._lock:
            return token in self._access

    def valid_refresh(self, token: str) -> bool:
        with self._lock:
            return token in self._refresh

    def features(self, access: str | None = None, refresh: str | None = None) -> dict[str, Any]:
        """The flags the login holding this token was given ({} for an unknown token)."""
        with self._lock:
            found = self._access.get(access or "") or self._refresh.get(refresh or "")
            return dict(found or {})

    def revoke_all(self) -> None:
        with self._lock:
            self._access.clear()
            self._refresh.clear()


class BitwardenTestServer:
    """The test server. Use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        *,
        tls: TlsMaterial,
        account: BitwardenAccount | None = None,
        items: Iterable[VaultItem | Mapping[str, Any]] = (),
        cipher_key_encryption: bool = False,
    ) -> None:
        self.tls = tls
        self.feature_states: dict[str, Any] = {"cipher-key-encryption": cipher_key_encryption}
        """``featureStates`` of ``/api/config`` for new logins (the CLI re-reads it at login,
        or hourly; a logged-in CLI keeps the flags its login was given, see :meth:`_config`)."""
        self.account = account if account is not None else BitwardenAccount.create()
        self.vault = VaultContents(self.account, items)
        self.tokens = _TokenStore()
        self.api_key_revoked = False
        self._drops: dict[str, int] = {}
        self._requests: list[RecordedRequest] = []
        self._requests_lock = threading.Lock()
        self._port = 0
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def create(
        cls,
        directory: Path,
        *,
        account: BitwardenAccount | None = None,
        items: Iterable[VaultItem | Mapping[str, Any]] = (),
        cipher_key_encryption: bool = False,
    ) -> BitwardenTestServer:
        """A server with fresh TLS material written under ``directory``."""
        return cls(
            tls=generate_tls_material(directory),
            account=account,
            items=items,
            cipher_key_encryption=cipher_key_encryption,
        )

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the server has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def start(self) -> BitwardenTestServer:
        """Listen (on a free port the first time, on the same port after a restart)."""
        if self._httpd is not None:
            return self
        httpd = _HttpServer((LOOPBACK, self._port), self, self.tls.server_context())
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"bitwarden-test-server-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and drop open connections. State is kept for a later start()."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> BitwardenTestServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- credentials -------------------------------------------------------------------

    @property
    def email(self) -> str:
        return self.account.email

    @property
    def master_password(self) -> str:
        return self.account.master_password

    @property
    def client_id(self) -> str:
        """API key client id (``user.<uuid>``), for ``bw login --apikey`` as ``BW_CLIENTID``."""
        return self.account.client_id

    @property
    def client_secret(self) -> str:
        """API key secret, for ``bw login --apikey`` as ``BW_CLIENTSECRET``."""
        return self.account.client_secret

    @property
    def ca_cert(self) -> Path:
        """PEM of the CA that signed the server certificate (``NODE_EXTRA_CA_CERTS``)."""
        return self.tls.ca_cert

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client-side TLS context that trusts only this server's CA (e.g. for httpx)."""
        return ssl.create_default_context(cafile=str(self.tls.ca_cert))

    # -- vault contents ----------------------------------------------------------------

    @property
    def items(self) -> tuple[VaultItem, ...]:
        return self.vault.items

    def add_item(self, item: VaultItem | Mapping[str, Any]) -> VaultItem:
        return self.vault.add_item(item)

    def update_item(self, item: VaultItem | Mapping[str, Any]) -> VaultItem:
        return self.vault.update_item(item)

    def remove_item(self, item_id: str) -> VaultItem | None:
        return self.vault.remove_item(item_id)

    def cipher(self, cipher_id: str) -> Json:
        """The stored encrypted document of an item (as a client wrote it, for client writes)."""
        return self.vault.cipher(cipher_id)

    @contextlib.contextmanager
    def temporary_item(self, item: VaultItem | Mapping[str, Any]) -> Iterator[VaultItem]:
        """Add an item for the duration of a ``with`` block, then remove it again."""
        added = self.add_item(item)
        try:
            yield added
        finally:
            self.remove_item(added.id)

    def revoke_tokens(self) -> None:
        """Forget every issued access and refresh token (clients must log in again)."""
        self.tokens.revoke_all()

    def revoke_api_key(self, revoked: bool = True) -> None:
        """Refuse the API key from now on (``invalid_client``) and forget issued tokens,
        as rotating the key in the web vault does."""
        self.api_key_revoked = revoked
        if revoked:
            self.tokens.revoke_all()

    def drop_next(self, path: str, times: int = 1) -> None:
        """The next ``times`` replies to ``path`` (e.g. ``/api/sync``) are cut off half-way:
        full headers, half the body, then the connection closes."""
        with self._requests_lock:
            self._drops[path] = self._drops.get(path, 0) + times

    def take_drop(self, path: str) -> bool:
        with self._requests_lock:
            left = self._drops.get(path, 0)
            if left:
                self._drops[path] = left - 1
            return left > 0

    # -- request log -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._requests_lock:
            self._requests.clear()

    def record_request(self, request: RecordedRequest) -> None:
        with self._requests_lock:
            self._requests.append(request)
            del self._requests[:-_MAX_RECORDED]

    # -- endpoint logic (called from handler threads) ----------------------------------

    def _issue(self, client_id: str, features: Mapping[str, Any] | None = None) -> Json:
        """New tokens; they keep the feature flags of the login (``features``: those of the
        refreshed token) so that a CLI's later ``/api/config`` reads match what it got at
        login, whatever the flags are now."""
        token, refresh = self.tokens.issue(
            self.account,
            client_id=client_id,
            issuer=f"{self.url}/identity",
            features=self.feature_states if features is None else features,
        )
        return token_response(self.account, token=token, refresh_token=refresh)

    def _token_grant(self, form: dict[str, str]) -> tuple[int, Json]:
        grant = form.get("grant_type", "")
        account = self.account
        if grant == "password":
            email_ok = form.get("username", "").strip().lower() == account.salt
            hash_ok = hmac.compare_digest(
                form.get("password", "").encode(), account.master_password_hash.encode()
            )
            if not (email_ok and hash_ok):
                return 400, invalid_password_error()
            return 200, self._issue(form.get("client_id", "cli"))
        if grant == "client_credentials":
            if self.api_key_revoked:
                return 400, {"error": "invalid_client"}
            id_ok = form.get("client_id", "") == account.client_id
            secret_ok = hmac.compare_digest(
                form.get("client_secret", "").encode(), account.client_secret.encode()
            )
            if not (id_ok and secret_ok):
                return 400, {"error": "invalid_client"}
            return 200, self._issue(account.client_id)
        if grant == "refresh_token":
            refresh = form.get("refresh_token", "")
            if not self.tokens.valid_refresh(refresh):
                return 400, {"error": "invalid_grant"}
            return 200, self._issue(
                form.get("client_id", "cli"), self.tokens.features(refresh=refresh)
            )
        return 400, {"error": "unsupported_grant_type"}

    def _config(self, headers: Mapping[str, str]) -> Json:
        """The server config; an authenticated request (the CLI sends its token when it has
        one) gets the feature flags its login was given, others the current ones."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        features = self.feature_states
        if scheme.lower() == "bearer" and self.tokens.valid_access(token.strip()):
            features = self.tokens.features(access=token.strip())
        return {
            "version": _SERVER_VERSION,
            "gitHash": "vaults-test",
            "server": None,
            "environment": {
                "cloudRegion": None,
                "vault": self.url,
                "api": f"{self.url}/api",
                "identity": f"{self.url}/identity",
                "notifications": None,
                "sso": None,
            },
            "featureStates": dict(features),
            "object": "config",
        }

    def respond(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Any, str | None]:
        """Return (status, JSON-able body or None, grant type for the log)."""
        if method == "GET" and path == "/api/config":
            return 200, self._config(headers), None
        if method == "POST" and path in {
            "/identity/accounts/prelogin/password",
            "/identity/accounts/prelogin",
            "/api/accounts/prelogin",
        }:
            return 200, prelogin_response(self.account), None
        if method == "POST" and path == "/identity/connect/token":
            form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
            status, payload = self._token_grant(form)
            return status, payload, form.get("grant_type")
        if path.startswith("/api/"):
            auth = headers.get("authorization", "")
            scheme, _, token = auth.partition(" ")
            if scheme.lower() != "bearer" or not self.tokens.valid_access(token.strip()):
                return 401, None, None
            if method == "GET" and path == "/api/sync":
                return 200, self.vault.sync_document(), None
            if method == "GET" and path == "/api/accounts/revision-date":
                return 200, self.vault.revision_epoch_ms(), None
            if path == "/api/ciphers" or path.startswith("/api/ciphers/"):
                status, payload = self._ciphers(method, path.split("/")[3:], body)
                return status, payload, None
        return 404, _NOT_FOUND, None

    def _ciphers(self, method: str, parts: list[str], body: bytes) -> tuple[int, Any]:
        """``/api/ciphers[/create | /{id}[/delete | /restore | /details]]``."""
        try:
            request = json.loads(body) if body else {}
        except (ValueError, RecursionError):
            return 400, error_response("The request body is not JSON.")
        if not isinstance(request, dict):
            return 400, error_response("The request body must be a JSON object.")
        vault = self.vault
        try:
            if method == "POST" and parts in ([], ["create"]):
                if parts == ["create"]:  # CipherCreateRequest: {cipher, collectionIds}
                    if not isinstance(request.get("cipher"), dict):
                        return 400, error_response("The Cipher field is required.")
                    collections = request.get("collectionIds") or []
                    if not isinstance(collections, list):
                        return 400, error_response("CollectionIds must be a list.")
                    return 200, vault.create_cipher(
                        request["cipher"], [str(c) for c in collections]
                    )
                return 200, vault.create_cipher(request)
            if not parts or not _is_uuid(parts[0]) or len(parts) > 2:
                return 404, _NOT_FOUND
            cipher_id, action = parts[0], (parts[1] if len(parts) == 2 else "")
            if method == "GET" and action in ("", "details"):
                return 200, vault.cipher(cipher_id)
            if method == "PUT" and action == "":
                return 200, vault.replace_cipher(cipher_id, request)
            if method == "PUT" and action == "delete":
                vault.delete_cipher(cipher_id)
                return 200, None
            if method == "PUT" and action == "restore":
                return 200, vault.restore_cipher(cipher_id)
            if method == "DELETE" and action == "":
                vault.delete_cipher(cipher_id, permanent=True)
                return 200, None
        except KeyError:
            return 404, _NOT_FOUND
        except CipherRequestError as exc:
            return 400, error_response(str(exc))
        return 404, _NOT_FOUND


_NOT_FOUND: Json = {"message": "Resource not found.", "object": "error"}


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], app: BitwardenTestServer, context: ssl.SSLContext
    ) -> None:
        self.app = app
        self.context = context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # Runs in the per-connection thread: do the TLS handshake here, not in the accept loop.
        raw: socket.socket = request
        raw.settimeout(30)
        try:
            tls_socket = self.context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            return
        with self._connections_lock:
            self._connections.add(tls_socket)
        try:
            _Handler(tls_socket, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with self._connections_lock:
                self._connections.discard(tls_socket)
            with contextlib.suppress(OSError):
                tls_socket.close()

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """The headers and the body go out as two writes: with Nagle's algorithm on, the body
    waits for the client's delayed ACK of the headers (40 ms on Linux), a delay real
    Bitwarden servers do not add and that benchmarks of the client would measure."""
    server_version = "vaults-bitwarden-test-server"
    sys_version = ""
    server: _HttpServer
    error_content_type = "application/json"
    error_message_format: ClassVar[str] = '{"message": "%(message)s"}'  # type: ignore[misc]

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: the request log on the server object records what matters, minus secrets.
        return

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                total += size
                if total > _MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            body = self._read_body()
        except ValueError:
            self._send(413, {"message": "Request body too large."})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, grant = self.server.app.respond(self.command, path, headers, body)
        self.server.app.record_request(RecordedRequest(self.command, path, status, grant))
        self._send(status, payload, cut=self.server.app.take_drop(path))

    def _send(self, status: int, payload: Any, *, cut: bool = False) -> None:
        data = b"" if payload is None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if cut:  # a server dying mid-reply: half the promised body, then the socket closes
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)

    do_GET = _dispatch
    do_POST = _dispatch
    do_PUT = _dispatch
    do_DELETE = _dispatch
