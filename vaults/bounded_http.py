"""Bounded HTTP calls for vault transports: a deadline per request, bounded retries.

- One request (connect, send, headers, body) gets ``timeout`` seconds. The body is read in
  chunks against that deadline, so a server trickling its answer byte by byte cannot hold a
  call past it (sync: the deadline plus at most one read timeout; async: the deadline itself).
  Passing it raises :class:`httpx.ReadTimeout`.
- Idempotent requests are retried on 429, 500, 502, 503 and 504 and on a connection closed or
  reset under them: at most ``attempts`` tries in all, with exponential backoff and jitter
  in between (:class:`Backoff`).
- ``Retry-After`` (seconds or an HTTP date) is honoured on 429 and 503 when it asks for at
  most ``max_retry_after`` seconds; a longer wait ends the retries at once (the caller gets
  that response and reports it, see :func:`retry_after`).
- Timeouts are not retried (each try would cost the whole timeout again), nor any other
  status: a 404 or a ``bw serve`` "Not found." is an answer, not a fault.
- An answer is read up to ``max_bytes`` (1 MiB by default) *after* decompression, inflated
  piece by piece, so a small gzip bomb cannot fill memory: past it,
  :class:`ResponseTooLarge`. The returned response holds the decoded body (no
  ``content-encoding`` left).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import anyio
import httpx

from vaults.small_http import (
    IDEMPOTENT,
    INFLATED,
    RETRY_STATUSES,
    CappedDecoder,
    HttpError,
    content_codings,
    equal_jitter,
    retry_after_seconds,
    retry_wait,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "RETRY_STATUSES",
    "Backoff",
    "ResponseTooLarge",
    "asend",
    "retry_after",
    "send",
]

log = logging.getLogger("vaults.http")

_RETRIED_ERRORS: Final = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
"""The connection was closed or reset under the request (a stale keep-alive socket, a
restarting server): safe to retry an idempotent request."""
DEFAULT_MAX_BYTES: Final = 1024 * 1024
"""The largest answer (decompressed) :func:`send` reads by default."""


class ResponseTooLarge(httpx.DecodingError):
    """The answer (after decompression) was larger than the call allows."""


class _CappedBody:
    """Collects a response body, decoding ``content-encoding``, refusing more than ``limit``
    decoded bytes. gzip and deflate (and no coding) go through
    :class:`vaults.small_http.CappedDecoder` (bounded output per step); other encodings go
    through httpx's decoders, checked after each piece. Errors are httpx's."""

    def __init__(self, response: httpx.Response, request: httpx.Request, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.body = bytearray()
        encoding = response.headers.get("content-encoding", "")
        self._inflate: CappedDecoder | None = None
        self._other: Any = None
        codings = content_codings(encoding)
        if not codings or codings in INFLATED:
            self._inflate = CappedDecoder(encoding, limit)
        else:
            self._other = response._get_content_decoder()

    def _too_large(self) -> ResponseTooLarge:
        return ResponseTooLarge(
            f"the answer is larger than {self.limit} bytes", request=self.request
        )

    def _check(self) -> None:
        if len(self.body) > self.limit:
            raise self._too_large()

    def _inflating(self, step: Callable[[CappedDecoder], object]) -> None:
        assert self._inflate is not None
        try:
            step(self._inflate)
        except HttpError as exc:
            if exc.kind == "too-large":
                raise self._too_large() from None
            raise httpx.DecodingError(
                "the answer's compressed body is corrupt", request=self.request
            ) from None

    def feed(self, chunk: bytes) -> None:
        if self._inflate is not None:
            self._inflating(lambda decoder: decoder.feed(chunk))
        else:
            self.body += self._other.decode(chunk)
            self._check()

    def finish(self) -> bytes:
        if self._inflate is not None:
            self._inflating(lambda decoder: decoder.finish())
            return bytes(self._inflate.body)
        self.body += self._other.flush()
        self._check()
        return bytes(self.body)


def _decoded(response: httpx.Response, request: httpx.Request, body: bytes) -> httpx.Response:
    headers = httpx.Headers(
        [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length")
        ]
    )
    return httpx.Response(
        response.status_code,
        headers=headers,
        content=body,
        request=request,
        extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
    )


@dataclass(frozen=True)
class Backoff:
    """How often and how long to wait between tries.

    Before retry ``n`` (1-based) the wait is drawn uniformly from ``[c/2, c]`` with
    ``c = min(cap, base * 2 ** (n - 1))`` ("equal jitter": never zero, never in lock step).
    """

    attempts: int = 3
    base: float = 0.2
    cap: float = 2.0
    max_retry_after: float = 10.0

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        return equal_jitter(retry, self.base, self.cap, rand)

    def wait_before(self, retry: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before retry ``retry``; ``None``: do not retry."""
        asked = retry_after(response) if response is not None else None
        return retry_wait(retry, self.attempts, asked, self.max_retry_after, self.delay)


NO_RETRY: Final = Backoff(attempts=1)


def retry_after(response: httpx.Response, now: float | None = None) -> float | None:
    """The seconds a 429/503 response's ``Retry-After`` asks to wait (``None``: none given)."""
    return retry_after_seconds(response.status_code, response.headers.get("retry-after"), now)


def _timeout(seconds: float, connect: float) -> httpx.Timeout:
    return httpx.Timeout(seconds, connect=min(seconds, connect))


def _deadline_error(request: httpx.Request, seconds: float) -> httpx.ReadTimeout:
    return httpx.ReadTimeout(f"no complete answer within {seconds:g} s", request=request)


def _retry_reason(response: httpx.Response | None, exc: Exception | None) -> str:
    return f"HTTP {response.status_code}" if response is not None else type(exc).__name__


def _send_once(
    client: httpx.Client, request: httpx.Request, seconds: float, deadline: float, max_bytes: int
) -> httpx.Response:
    response = client.send(request, stream=True)
    try:
        body = _CappedBody(response, request, max_bytes)
        for chunk in response.iter_raw():
            body.feed(chunk)
            if time.monotonic() > deadline:
                raise _deadline_error(request, seconds)
        content = body.finish()
    finally:
        response.close()
    return _decoded(response, request, content)


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    timeout: float,
    backoff: Backoff = NO_RETRY,
    connect_timeout: float = 5.0,
    on_try: Callable[[], None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **kwargs: Any,
) -> httpx.Response:
    """``client.request(method, url, **kwargs)``, bounded and retried as the module says.

    Returns the last response (a 429/5xx one when the retries ran out); raises the last
    :class:`httpx.HTTPError` otherwise (:class:`ResponseTooLarge` past ``max_bytes``
    decoded). Non-idempotent methods are tried once. ``on_try`` is called before each try
    (request counters).
    """
    tries = backoff if method.upper() in IDEMPOTENT else NO_RETRY
    retry = 0
    while True:
        request = client.build_request(
            method, url, timeout=_timeout(timeout, connect_timeout), **kwargs
        )
        deadline = time.monotonic() + timeout
        response: httpx.Response | None = None
        if on_try is not None:
            on_try()
        try:
            response = _send_once(client, request, timeout, deadline, max_bytes)
        except _RETRIED_ERRORS as exc:
            retry += 1
            wait = tries.wait_before(retry, None)
            if wait is None:
                raise
            error: Exception | None = exc
        else:
            if response.status_code not in RETRY_STATUSES:
                return response
            retry += 1
            wait = tries.wait_before(retry, response)
            if wait is None:
                return response
            error = None
        log.debug(
            "%s %s: %s, try %d of %d in %.2f s",
            method,
            request.url.path,
            _retry_reason(response, error),
            retry + 1,
            tries.attempts,
            wait,
        )
        time.sleep(wait)


async def asend(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float,
    backoff: Backoff = NO_RETRY,
    connect_timeout: float = 5.0,
    on_try: Callable[[], None] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    **kwargs: Any,
) -> httpx.Response:
    """The async :func:`send`; each try is cancelled at its deadline."""
    tries = backoff if method.upper() in IDEMPOTENT else NO_RETRY
    retry = 0
    while True:
        request = client.build_request(
            method, url, timeout=_timeout(timeout, connect_timeout), **kwargs
        )
        response: httpx.Response | None = None
        if on_try is not None:
            on_try()
        try:
            with anyio.fail_after(timeout):
                streamed = await client.send(request, stream=True)
                try:
                    body = _CappedBody(streamed, request, max_bytes)
                    async for chunk in streamed.aiter_raw():
                        body.feed(chunk)
                    content = body.finish()
                finally:
                    await streamed.aclose()
                response = _decoded(streamed, request, content)
        except TimeoutError:
            raise _deadline_error(request, timeout) from None
        except _RETRIED_ERRORS as exc:
            retry += 1
            wait = tries.wait_before(retry, None)
            if wait is None:
                raise
            error: Exception | None = exc
            response = None
        else:
            if response.status_code not in RETRY_STATUSES:
                return response
            retry += 1
            wait = tries.wait_before(retry, response)
            if wait is None:
                return response
            error = None
        log.debug(
            "%s %s: %s, try %d of %d in %.2f s",
            method,
            request.url.path,
            _retry_reason(response, error),
            retry + 1,
            tries.attempts,
            wait,
        )
        await anyio.sleep(wait)
