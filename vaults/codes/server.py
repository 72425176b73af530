"""The HTTP API that receives pushed codes (``vaults serve``; needs ``vaults[server]``).

``POST /v1/credentials/totp`` takes the JSON body e-mail/SMS forwarding recipes (Zapier
webhooks, Twilio functions) already send — ``totp_identifier``, ``content``, ``source``,
optional ``task_id`` / ``workflow_run_id`` — so such a recipe works by changing only its
base URL. ``GET /v1/credentials/totp`` lists the history. Both need header ``x-api-key``
(``VAULTS_API_KEY``, compared in constant time). Bodies over 64 KiB get 413. OpenAPI docs
are at ``/docs`` and ``/openapi.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Security
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, SecretStr

import vaults
from vaults.codes.inbound import (
    MAIL_PREFIXES,
    MAX_INBOUND_BYTES,
    SIGNED_PREFIXES,
    add_inbound_routes,
)
from vaults.codes.inbox import DEFAULT_LIMIT, MAX_LIMIT, Inbox
from vaults.codes.records import MAX_IDENTIFIER_LENGTH, MAX_TAG_LENGTH, PushedCode
from vaults.errors import ConfigurationError, InvalidInput, NoCode, VaultsError, VaultUnavailable

__all__ = [
    "API_KEY_ENV",
    "API_KEY_HEADER",
    "MAX_BODY_BYTES",
    "PushRequest",
    "TotpCodeOut",
    "create_app",
]

API_KEY_ENV = "VAULTS_API_KEY"
API_KEY_HEADER = "x-api-key"
MAX_BODY_BYTES = 64 * 1024

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PushRequest(BaseModel):
    """A forwarded message. Unknown fields (``workflow_id``, ``type``…) are ignored."""

    model_config = ConfigDict(extra="ignore")

    totp_identifier: str = Field(
        min_length=1,
        max_length=MAX_IDENTIFIER_LENGTH,
        description="Who the code is for: the e-mail address, phone number or any user id.",
        examples=["user@example.com"],
    )
    content: str = Field(
        min_length=1,
        description="The e-mail or SMS text holding the code or magic link.",
        examples=["Your verification code is 482913"],
    )
    source: str | None = Field(
        default=None, max_length=MAX_TAG_LENGTH, description="email or phone (sms)."
    )
    task_id: str | None = Field(default=None, max_length=MAX_TAG_LENGTH)
    workflow_run_id: str | None = Field(default=None, max_length=MAX_TAG_LENGTH)


class TotpCodeOut(BaseModel):
    """A stored code."""

    totp_code_id: str
    totp_identifier: str
    code: str = Field(description="The code, or the magic link's URL.")
    otp_type: Literal["totp", "magic_link"]
    origin: str | None = None
    source: str | None = None
    task_id: str | None = None
    workflow_run_id: str | None = None
    created_at: datetime
    expired_at: datetime

    @classmethod
    def of(cls, code: PushedCode) -> TotpCodeOut:
        return cls(
            totp_code_id=code.id,
            totp_identifier=code.identifier,
            code=code.value,
            otp_type=code.otp_type,
            origin=code.origin,
            source=code.source,
            task_id=code.task_id,
            workflow_run_id=code.workflow_run_id,
            created_at=datetime.fromtimestamp(code.created_at, UTC),
            expired_at=datetime.fromtimestamp(code.expires_at, UTC),
        )


class ErrorOut(BaseModel):
    """Why a request was refused."""

    detail: str | list[dict[str, Any]] = Field(
        description="The problem; for a malformed request, one entry per invalid part."
    )


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorOut, "description": description}


_UNAUTHORIZED = _error("Missing or wrong x-api-key")
_UNAVAILABLE = _error("The code store cannot be reached")


class _BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: int, larger: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = limit
        self.larger = dict(larger or {})  # path prefix → its own limit (inbound mail)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        limit = next(
            (n for prefix, n in self.larger.items() if path.startswith(prefix)), self.default
        )
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await self._refuse(limit, scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(limit, scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {limit} bytes"}, status_code=413
        )
        await response(scope, receive, send)


class _AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: text holding an unpaired surrogate (which
    a JSON escape can carry but UTF-8 cannot) must not turn an answer into a 500."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


class _RequireKey:
    """Answer 401 to a request under ``prefix`` without the right key before anything else
    looks at it: FastAPI reads and validates the body before running dependencies, so a
    malformed body would otherwise earn an unauthenticated caller a 400 or 422."""

    def __init__(
        self,
        app: ASGIApp,
        allowed: Callable[[str | None], bool],
        prefix: str,
        exempt: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.allowed = allowed
        self.prefix = prefix
        self.exempt = exempt  # provider webhooks: checked by their own signatures

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if (
            scope["type"] == "http"
            and path.startswith(self.prefix)
            and not path.startswith(self.exempt)
        ):
            given = next(
                (v.decode("latin-1") for n, v in scope.get("headers", []) if n == b"x-api-key"),
                None,
            )
            if not self.allowed(given):
                await _unauthorized()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _unauthorized() -> JSONResponse:
    return JSONResponse(
        {"detail": "missing or wrong x-api-key"},
        status_code=401,
        headers={"WWW-Authenticate": "ApiKey"},
    )


def _api_key(explicit: str | SecretStr | None, env: Mapping[str, str]) -> SecretStr:
    if isinstance(explicit, SecretStr):
        key = explicit
    else:
        key = SecretStr(explicit if explicit is not None else env.get(API_KEY_ENV, ""))
    if not key.get_secret_value().strip():
        raise ConfigurationError(
            f"{API_KEY_ENV} is not set: the HTTP API refuses to run without an API key"
        )
    return key


def _status_for(exc: VaultsError) -> int:
    if isinstance(exc, NoCode | InvalidInput):
        return 422
    if isinstance(exc, VaultUnavailable):
        return 503
    return 400


def create_app(
    *,
    inbox: Inbox | None = None,
    store_url: str | None = None,
    api_key: str | SecretStr | None = None,
    env: Mapping[str, str] | None = None,
) -> FastAPI:
    """The FastAPI application. ``api_key`` defaults to ``VAULTS_API_KEY`` (required);
    ``inbox`` defaults to ``Inbox(store_url)`` (``VAULTS_STORE``, else the default file)."""
    env = os.environ if env is None else env
    key = _api_key(api_key, env)
    # Compare digests: constant time, and the key's length does not leak either.
    expected = hashlib.sha256(key.get_secret_value().encode("utf-8")).digest()
    box = inbox if inbox is not None else Inbox(store_url, env=env)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # load the extractor plugins before the first request, not during it
        await anyio.to_thread.run_sync(lambda: box.host)
        try:
            yield
        finally:
            if inbox is None:  # ours: release its connections
                box.close()

    app = FastAPI(
        lifespan=lifespan,
        title="vaults codes inbox",
        version=vaults.__version__,
        description=(
            "Push one-time codes and magic links (forwarded e-mails and SMS) for hosts "
            "waiting on them. Authenticate with header `x-api-key`."
        ),
    )
    app.state.inbox = box
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="VAULTS_API_KEY")

    # The dependency is a default value (not an annotation): ``header`` is local here and
    # string annotations could not be resolved.
    def allowed(given: str | None) -> bool:
        supplied = hashlib.sha256((given or "").encode("utf-8", "replace")).digest()
        return hmac.compare_digest(supplied, expected)

    def authenticate(given: str | None = Security(header)) -> None:
        if not allowed(given):
            raise HTTPException(
                status_code=401,
                detail="missing or wrong x-api-key",
                headers={"WWW-Authenticate": "ApiKey"},
            )

    @app.exception_handler(VaultsError)
    async def _vaults_error(request: Request, exc: VaultsError) -> JSONResponse:
        return _AsciiJSONResponse({"detail": exc.message}, status_code=_status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # what is wrong and where, never the input itself: for a missing field pydantic's
        # "input" is the whole body (the pushed message, its code or magic link). A body that
        # is not UTF-8 arrives as bytes.
        shown = [{k: e[k] for k in ("type", "loc", "msg", "ctx") if k in e} for e in exc.errors()]
        errors = jsonable_encoder(
            shown, custom_encoder={bytes: lambda b: b.decode("utf-8", "replace")}
        )
        return _AsciiJSONResponse({"detail": errors}, status_code=422)

    @app.post(
        "/v1/credentials/totp",
        response_model=TotpCodeOut,
        dependencies=[Depends(authenticate)],
        summary="Push a forwarded e-mail or SMS holding a code",
        responses={
            400: _error("The body cannot be read (not UTF-8 JSON)"),
            401: _UNAUTHORIZED,
            413: _error("Body over 64 KiB"),
            422: _error("Invalid body, or no code or magic link in the content"),
            503: _UNAVAILABLE,
        },
    )
    def push_code(request: PushRequest) -> TotpCodeOut:
        code = box.push(
            request.totp_identifier,
            request.content,
            source=request.source,
            task_id=request.task_id,
            workflow_run_id=request.workflow_run_id,
        )
        return TotpCodeOut.of(code)

    @app.get(
        "/v1/credentials/totp",
        response_model=list[TotpCodeOut],
        dependencies=[Depends(authenticate)],
        summary="List pushed codes, newest first (expired ones included)",
        responses={
            401: _UNAUTHORIZED,
            422: _error("Invalid parameters"),
            503: _UNAVAILABLE,
        },
    )
    def list_codes(
        totp_identifier: Annotated[str | None, Query(max_length=MAX_IDENTIFIER_LENGTH)] = None,
        workflow_run_id: Annotated[str | None, Query(max_length=MAX_TAG_LENGTH)] = None,
        otp_type: Literal["totp", "magic_link"] | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> list[TotpCodeOut]:
        codes = box.list(
            totp_identifier, workflow_run_id=workflow_run_id, otp_type=otp_type, limit=limit
        )
        return [TotpCodeOut.of(code) for code in codes]

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    add_inbound_routes(app, box, env)
    app.add_middleware(_RequireKey, allowed=allowed, prefix="/v1/", exempt=SIGNED_PREFIXES)
    app.add_middleware(
        _BodyLimit,
        limit=MAX_BODY_BYTES,
        larger={prefix: MAX_INBOUND_BYTES for prefix in MAIL_PREFIXES},
    )
    return app
