"""The HTTP API that receives pushed codes (``vaults serve``; needs ``vaults[server]``).

``POST /v1/credentials/totp`` takes the JSON body e-mail/SMS forwarding recipes (Zapier
webhooks, Twilio functions) already send — ``totp_identifier``, ``content``, ``source``,
optional ``task_id`` / ``workflow_run_id`` — so such a recipe works by changing only its
base URL. ``GET /v1/credentials/totp`` lists an identifier's codes still waiting to be used.
Both need header ``x-api-key``: a push key (``VAULTS_PUSH_KEY``) may only push, the full key
(``VAULTS_API_KEY``) may also read. Bodies over 64 KiB get 413. Keys, rate limits, quotas
and timeouts: :mod:`vaults.codes.security`. OpenAPI docs (``/docs``, ``/openapi.json``) only
with ``docs=True`` (``vaults serve --docs``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
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
from vaults.codes.records import (
    MAX_IDENTIFIER_LENGTH,
    MAX_TAG_LENGTH,
    PushedCode,
    identifier_key,
)
from vaults.codes.security import (
    ACCESS_SCOPE_KEY,
    API_KEY_ENV,
    API_KEY_HEADER,
    PUSH_KEY_ENV,
    Access,
    HostCheck,
    KeyGuard,
    KeyRing,
    Limits,
    RequestLimit,
    SlidingWindow,
)
from vaults.errors import ConfigurationError, InvalidInput, NoCode, VaultsError, VaultUnavailable

__all__ = [
    "API_KEY_ENV",
    "API_KEY_HEADER",
    "MAX_BODY_BYTES",
    "PUSH_KEY_ENV",
    "SWEEP_EVERY_S",
    "PushRequest",
    "TotpCodeOut",
    "create_app",
]

MAX_BODY_BYTES = 64 * 1024
SWEEP_EVERY_S = 10.0
"""How often the server deletes expired and consumed codes (with the default retention of
30 s, a code is gone from the store well within a minute of expiring or being used)."""

log = logging.getLogger("vaults.serve")

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

    def __repr_args__(self) -> Any:
        from vaults.models import masked_repr_args

        return masked_repr_args(super().__repr_args__(), frozenset({"code"}))

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
    push_keys: str | SecretStr | Sequence[str | SecretStr] | None = None,
    env: Mapping[str, str] | None = None,
    allow_short_keys: bool = False,
    docs: bool = False,
    allowed_hosts: Sequence[str] = (),
    limits: Limits | None = None,
    sweep_every: float = SWEEP_EVERY_S,
) -> FastAPI:
    """The FastAPI application.

    Keys: ``api_key`` (full access; default ``VAULTS_API_KEY``) and ``push_keys`` (``POST``
    only; default ``VAULTS_PUSH_KEY``, comma-separated); one of them is required, each at
    least 16 characters unless ``allow_short_keys``. ``inbox`` defaults to
    ``Inbox(store_url)`` (``VAULTS_STORE``, else the default file). ``docs`` serves
    ``/docs`` and ``/openapi.json`` (Swagger UI from the installed ``swagger-ui-bundle``).
    ``allowed_hosts``: ``Host`` names accepted besides the address a request arrived at.
    Expired and consumed codes are swept every ``sweep_every`` seconds.
    """
    env = os.environ if env is None else env
    keys = KeyRing.load(api_key=api_key, push_keys=push_keys, env=env, allow_short=allow_short_keys)
    limits = limits if limits is not None else Limits.from_env(env)
    box = inbox if inbox is not None else Inbox(store_url, env=env)
    failed_keys = SlidingWindow(limits.failed_keys_per_minute)
    quota = SlidingWindow(limits.pushes_per_minute)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # load the extractor plugins before the first request, not during it
        await anyio.to_thread.run_sync(lambda: box.host)
        stop = threading.Event()
        sweeper = threading.Thread(
            target=_sweep, args=(box, stop, sweep_every), name="vaults-sweep", daemon=True
        )
        sweeper.start()
        try:
            yield
        finally:
            stop.set()
            sweeper.join(30)
            if inbox is None:  # ours: release its connections
                box.close()

    app = FastAPI(
        lifespan=lifespan,
        title="vaults codes inbox",
        version=vaults.__version__,
        description=(
            "Push one-time codes and magic links (forwarded e-mails and SMS) for hosts "
            "waiting on them. Authenticate with header `x-api-key`: `VAULTS_PUSH_KEY` may "
            "push, `VAULTS_API_KEY` may also read."
        ),
        openapi_url="/openapi.json" if docs else None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.inbox = box
    app.state.limits = limits
    app.state.failed_keys = failed_keys
    app.state.push_quota = quota
    # Documents the header in the OpenAPI schema; KeyGuard has checked it already. The
    # dependency is a default value (not an annotation): ``authenticated`` is local here and
    # string annotations could not be resolved.
    header = APIKeyHeader(
        name=API_KEY_HEADER, auto_error=False, description="VAULTS_API_KEY or VAULTS_PUSH_KEY"
    )

    def authenticated(request: Request, given: str | None = Security(header)) -> Access:
        access: Access | None = request.scope.get(ACCESS_SCOPE_KEY)
        if access is None:  # not under KeyGuard (never with create_app's middlewares)
            raise HTTPException(status_code=401, detail="missing or wrong x-api-key")
        return access

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
        summary="Push a forwarded e-mail or SMS holding a code",
        responses={
            400: _error("The body cannot be read (not UTF-8 JSON)"),
            401: _UNAUTHORIZED,
            413: _error("Body over 64 KiB"),
            422: _error("Invalid body, or no code or magic link in the content"),
            429: _error("Too many wrong keys from this client, or pushes for this identifier"),
            503: _UNAVAILABLE,
        },
    )
    def push_code(
        request: PushRequest,
        access: Access = Depends(authenticated),  # noqa: B008
    ) -> TotpCodeOut:
        wait = quota.hit(identifier_key(request.totp_identifier))
        if wait is not None:
            raise HTTPException(
                status_code=429,
                detail=f"more than {limits.pushes_per_minute} pushes a minute for this identifier",
                headers={"Retry-After": f"{wait:.0f}"},
            )
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
        summary="List an identifier's codes still waiting to be used, newest first",
        description=(
            "Needs the full key (`VAULTS_API_KEY`). Codes that expired or were consumed are "
            "left out unless `include_used=true` (they are deleted soon after, see "
            "`VAULTS_CODE_RETENTION`). `totp_identifier` is required unless `all=true`."
        ),
        responses={
            401: _UNAUTHORIZED,
            403: _error("A push-only key (VAULTS_PUSH_KEY) cannot read"),
            422: _error("Invalid parameters"),
            429: _error("Too many wrong keys from this client"),
            503: _UNAVAILABLE,
        },
    )
    def list_codes(
        access: Access = Depends(authenticated),  # noqa: B008
        totp_identifier: Annotated[str | None, Query(max_length=MAX_IDENTIFIER_LENGTH)] = None,
        workflow_run_id: Annotated[str | None, Query(max_length=MAX_TAG_LENGTH)] = None,
        otp_type: Literal["totp", "magic_link"] | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        include_used: Annotated[
            bool, Query(description="Also list expired and consumed codes not yet deleted.")
        ] = False,
        every: Annotated[
            bool,
            Query(alias="all", description="List every identifier's codes (no totp_identifier)."),
        ] = False,
    ) -> list[TotpCodeOut]:
        if access != "full":  # KeyGuard refuses push keys already; never list for them
            raise HTTPException(status_code=403, detail="this key may only push")
        if totp_identifier is None and not every:
            raise InvalidInput("totp_identifier is required (or all=true for every identifier)")
        codes = box.list(
            totp_identifier,
            workflow_run_id=workflow_run_id,
            otp_type=otp_type,
            limit=limit,
            active_only=not include_used,
        )
        return [TotpCodeOut.of(code) for code in codes]

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    if docs:
        _add_docs(app)

    add_inbound_routes(app, box, env, failures=failed_keys, quota=quota)
    app.add_middleware(KeyGuard, keys=keys, failures=failed_keys, protected=_needs_key)
    app.add_middleware(
        _BodyLimit,
        limit=MAX_BODY_BYTES,
        larger={prefix: MAX_INBOUND_BYTES for prefix in MAIL_PREFIXES},
    )
    app.add_middleware(RequestLimit, limit=limits.max_requests)
    app.add_middleware(HostCheck, allowed_hosts=allowed_hosts)  # outermost: runs first
    return app


def _needs_key(path: str) -> bool:
    # provider webhooks carry the provider's own signature instead (vaults.codes.inbound)
    return path.startswith("/v1/") and not path.startswith(SIGNED_PREFIXES)


def _sweep(box: Inbox, stop: threading.Event, every: float) -> None:
    """Delete expired and consumed codes every ``every`` seconds until ``stop``."""
    while not stop.wait(every):
        try:
            box.sweep()
        except VaultsError as exc:  # the store is down: try again next round
            log.warning("sweeping expired codes failed: %s", exc.message)


def _add_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the installed ``swagger-ui-bundle`` package, no CDN."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        raise ConfigurationError(
            "--docs needs swagger-ui-bundle: pip install 'vaults[server]'"
        ) from None
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs/static", StaticFiles(directory=swagger_ui_path), name="swagger-ui")

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="vaults codes inbox",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )
