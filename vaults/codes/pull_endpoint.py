"""Pulling a code from the user's own endpoint (their server holds the code).

Every ``interval`` seconds vaults POSTs a signed JSON body to the endpoint::

    {"task_id": ..., "workflow_run_id": ..., "totp_identifier": ..., "timestamp": 1767225600}

with header ``x-vaults-signature`` (``t=<unix>,v1=<hex>`` over the timestamp, method, URL
and body; see :mod:`vaults.codes.signature`), until the endpoint
answers ``{"verification_code": "<non-empty>"}`` or ``timeout`` runs out. An answer longer
than 10 characters is a message, not a code: it goes through extraction (the
``vaults_extract_code`` hook), so an endpoint may simply hand back the e-mail it received.
Connection errors, 5xx and 429 answers are retried with jittered backoff (a 429's or 503's
``Retry-After`` is honoured), within the timeout; each request is bounded by
``request_timeout`` (a server trickling its answer cannot hold it).
"""

from __future__ import annotations

import json
import logging
import math
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import anyio
import httpx
from pydantic import SecretStr

from vaults.bounded_http import asend, retry_after, send
from vaults.codes.pull_target import (
    async_pull_client,
    check_destination,
    check_scheme,
    pull_client,
)
from vaults.codes.signature import SIGNATURE_HEADER, sign_request
from vaults.errors import AuthenticationFailed, CodeTimeout, InvalidInput, VaultUnavailable
from vaults.redact import url_without_secrets

if TYPE_CHECKING:
    from vaults.codes.extract import ExtractedCode
    from vaults.host import PluginHost

__all__ = [
    "DEFAULT_PULL_INTERVAL",
    "DEFAULT_PULL_TIMEOUT",
    "MAX_PLAIN_CODE_LENGTH",
    "apull",
    "apull_once",
    "pull",
    "pull_once",
]

DEFAULT_PULL_INTERVAL = 10.0
DEFAULT_PULL_TIMEOUT = 900.0
DEFAULT_REQUEST_TIMEOUT = 10.0
MAX_PLAIN_CODE_LENGTH = 10
_FIRST_BACKOFF = 0.5
_USER_AGENT = "vaults-pull/1"


_PULLING: ContextVar[bool] = ContextVar("vaults_pulling", default=False)


class _SafeUrlsInHttpxLogs(logging.Filter):
    """While a pull runs, httpx's "HTTP Request: POST <url>" log line shows the endpoint as
    :func:`~vaults.redact.url_without_secrets` (user part, query and fragment may hold tokens)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _PULLING.get() and isinstance(record.args, tuple):
            record.args = tuple(
                url_without_secrets(str(arg)) if isinstance(arg, httpx.URL) else arg
                for arg in record.args
            )
        return True


_LOG_FILTER = _SafeUrlsInHttpxLogs()


@contextmanager
def _pulling() -> Iterator[None]:
    logging.getLogger("httpx").addFilter(_LOG_FILTER)  # once: addFilter skips a present one
    token = _PULLING.set(True)
    try:
        yield
    finally:
        _PULLING.reset(token)


def _number(name: str, value: float, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number of seconds")
    if value < 0 or (positive and value == 0):
        raise InvalidInput(f"{name} must be {'positive' if positive else 'zero or more'}")
    return float(value)


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return f"connection closed or reset ({type(exc).__name__})"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}"[:200] if text else type(exc).__name__


class _Pull:
    """The protocol, shared by the blocking and async loops."""

    def __init__(
        self,
        url: str,
        api_key: str | SecretStr,
        *,
        task_id: str | None,
        workflow_run_id: str | None,
        totp_identifier: str | None,
        extra: Mapping[str, Any] | None,
        interval: float,
        timeout: float,
        request_timeout: float,
        host: PluginHost | None,
    ) -> None:
        if not isinstance(url, str):
            raise InvalidInput("the pull URL must be text")
        check_scheme(url)
        self.api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key or "")
        if not self.api_key.get_secret_value():
            raise InvalidInput("the pull endpoint's API key is empty")
        self.url = url
        try:
            self.shown = url_without_secrets(url)
        except ValueError:  # e.g. a port out of range
            raise InvalidInput("the pull URL is malformed") from None
        self.fields: dict[str, Any] = dict(extra or {})
        self.fields.update(
            {
                "task_id": task_id,
                "workflow_run_id": workflow_run_id,
                "totp_identifier": totp_identifier,
            }
        )
        self.interval = _number("interval", interval, positive=True)
        self.timeout = _number("timeout", timeout, positive=False)
        self.request_timeout = _number("request_timeout", request_timeout, positive=True)
        self._host = host
        self.failures = 0
        self.reached = False
        self.last_error: str | None = None
        self.last_note: str | None = None
        self.asked: float | None = None

    def request(self) -> tuple[bytes, dict[str, str]]:
        stamp = int(time.time())
        body = json.dumps({**self.fields, "timestamp": stamp}, separators=(",", ":")).encode()
        headers = {
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            SIGNATURE_HEADER: sign_request(body, self.api_key, url=self.url, timestamp=stamp),
        }
        return body, headers

    def answer(self, response: httpx.Response) -> tuple[ExtractedCode | None, float]:
        """The code in ``response`` (or ``None``) and the delay before the next request."""
        status = response.status_code
        if status >= 500 or status == 429:
            reason = "HTTP 429 (rate limited)" if status == 429 else f"HTTP {status}"
            delay = self.error(reason)
            self.asked = retry_after(response)  # honoured; past the deadline: give up now
            return None, delay if self.asked is None else max(delay, self.asked)
        if status in (401, 403):
            raise AuthenticationFailed(
                f"the pull endpoint {self.shown} refused the request (HTTP {status}): "
                "check the API key"
            )
        if status >= 300:
            raise VaultUnavailable(f"the pull endpoint {self.shown} answered HTTP {status}")
        self.reached = True
        self.failures = 0
        self.last_error = None
        self.last_note = None
        self.asked = None
        return self.read_code(response), self.interval

    def error(self, reason: str) -> float:
        self.failures += 1
        self.last_error = reason
        backoff: float = _FIRST_BACKOFF * 2.0 ** (self.failures - 1)
        return min(self.interval, backoff * (1 + random.random() / 2))  # noqa: S311 - jitter

    def read_code(self, response: httpx.Response) -> ExtractedCode | None:
        try:
            data = response.json()
        except (ValueError, RecursionError):  # RecursionError: nested too deep
            self.last_note = "its last answer was not JSON"
            return None
        raw = data.get("verification_code") if isinstance(data, dict) else None
        if isinstance(raw, int) and not isinstance(raw, bool):
            raw = str(raw)
        if not isinstance(raw, str) or not raw.strip():
            return None
        text = raw.strip()
        if len(text) <= MAX_PLAIN_CODE_LENGTH:
            from vaults.codes.extract import ExtractedCode

            # digits grouped like "550 127" or "550-127" are typed as 550127; others kept
            joined = re.sub(r"[\s\-]", "", text)
            value = joined if len(joined) >= 4 and joined.isascii() and joined.isdigit() else text
            return ExtractedCode(otp_type="totp", value=value, origin=None)
        if self._host is None:
            from vaults.host import make_host

            self._host = make_host()
        return self._host.extract_code(text, None)

    def accepted(self, code: ExtractedCode, accept: Callable[[ExtractedCode], bool] | None) -> bool:
        if accept is None or accept(code):
            return True
        self.last_note = "it answered a code or link for another site, skipped"
        return False

    def give_up(self) -> VaultUnavailable | CodeTimeout:
        if self.asked is not None:
            return VaultUnavailable(
                f"the pull endpoint {self.shown} is rate limiting ({self.last_error}): it asked "
                f"to wait {self.asked:.0f} s, past the {self.timeout:g} s allowed"
            )
        if not self.reached and self.last_error is not None:
            return VaultUnavailable(
                f"the pull endpoint {self.shown} could not be reached within "
                f"{self.timeout:g} s (last error: {self.last_error})"
            )
        note = f" ({self.last_note})" if self.last_note else ""
        return CodeTimeout(
            f"the pull endpoint {self.shown} gave no code within {self.timeout:g} s{note}"
        )


def pull(
    url: str,
    api_key: str | SecretStr,
    *,
    task_id: str | None = None,
    workflow_run_id: str | None = None,
    totp_identifier: str | None = None,
    extra: Mapping[str, Any] | None = None,
    interval: float = DEFAULT_PULL_INTERVAL,
    timeout: float = DEFAULT_PULL_TIMEOUT,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    host: PluginHost | None = None,
    accept: Callable[[ExtractedCode], bool] | None = None,
) -> ExtractedCode:
    """Ask the user's endpoint for the code until it has one (see the module doc).

    ``extra`` adds fields to the request body. Raises :class:`~vaults.errors.CodeTimeout`
    when the endpoint answered but had no code in time, :class:`~vaults.errors.VaultUnavailable`
    when it could never be reached (or answered 3xx/4xx), and
    :class:`~vaults.errors.AuthenticationFailed` on 401/403. ``accept``: answers it refuses
    (a magic link to another site, see :class:`~vaults.codes.binding.SiteBinding`) are
    skipped and the pulling goes on.
    """
    state = _Pull(
        url,
        api_key,
        task_id=task_id,
        workflow_run_id=workflow_run_id,
        totp_identifier=totp_identifier,
        extra=extra,
        interval=interval,
        timeout=timeout,
        request_timeout=request_timeout,
        host=host,
    )
    check_destination(state.url)
    deadline = time.monotonic() + state.timeout
    with _pulling(), pull_client() as client:
        while True:
            left = deadline - time.monotonic()
            body, headers = state.request()
            try:
                response = send(
                    client,
                    "POST",
                    state.url,
                    content=body,
                    headers=headers,
                    timeout=max(0.05, min(state.request_timeout, left)),
                )
            except httpx.HTTPError as exc:
                delay = state.error(_describe(exc))
            else:
                code, delay = state.answer(response)
                if code is not None and state.accepted(code, accept):
                    return code
            left = deadline - time.monotonic()
            if left <= 0 or (state.asked is not None and state.asked > left):
                raise state.give_up()
            time.sleep(min(delay, left))


async def apull(
    url: str,
    api_key: str | SecretStr,
    *,
    task_id: str | None = None,
    workflow_run_id: str | None = None,
    totp_identifier: str | None = None,
    extra: Mapping[str, Any] | None = None,
    interval: float = DEFAULT_PULL_INTERVAL,
    timeout: float = DEFAULT_PULL_TIMEOUT,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    host: PluginHost | None = None,
    accept: Callable[[ExtractedCode], bool] | None = None,
) -> ExtractedCode:
    """Async :func:`pull` (asyncio or trio; cancellable)."""
    state = _Pull(
        url,
        api_key,
        task_id=task_id,
        workflow_run_id=workflow_run_id,
        totp_identifier=totp_identifier,
        extra=extra,
        interval=interval,
        timeout=timeout,
        request_timeout=request_timeout,
        host=host,
    )
    await anyio.to_thread.run_sync(check_destination, state.url)
    deadline = anyio.current_time() + state.timeout
    with _pulling():
        async with async_pull_client() as client:
            while True:
                left = deadline - anyio.current_time()
                body, headers = state.request()
                try:
                    response = await asend(
                        client,
                        "POST",
                        state.url,
                        content=body,
                        headers=headers,
                        timeout=max(0.05, min(state.request_timeout, left)),
                    )
                except httpx.HTTPError as exc:
                    delay = state.error(_describe(exc))
                else:
                    code, delay = state.answer(response)
                    if code is not None and state.accepted(code, accept):
                        return code
                left = deadline - anyio.current_time()
                if left <= 0 or (state.asked is not None and state.asked > left):
                    raise state.give_up()
                await anyio.sleep(min(delay, left))


# -- one request ------------------------------------------------------------------------
def _once_state(
    url: str,
    api_key: str | SecretStr,
    task_id: str | None,
    workflow_run_id: str | None,
    totp_identifier: str | None,
    extra: Mapping[str, Any] | None,
    request_timeout: float,
    host: PluginHost | None,
) -> _Pull:
    return _Pull(
        url,
        api_key,
        task_id=task_id,
        workflow_run_id=workflow_run_id,
        totp_identifier=totp_identifier,
        extra=extra,
        interval=DEFAULT_PULL_INTERVAL,
        timeout=0.0,
        request_timeout=request_timeout,
        host=host,
    )


def _once_answer(
    state: _Pull, response: httpx.Response, accept: Callable[[ExtractedCode], bool] | None
) -> ExtractedCode | None:
    code, _delay = state.answer(response)  # raises on 3xx/4xx, notes 5xx/429 in last_error
    if code is None and state.last_error is not None:
        raise VaultUnavailable(
            f"the pull endpoint {state.shown} could not answer ({state.last_error})"
        )
    return code if code is not None and state.accepted(code, accept) else None


def _once_unreachable(state: _Pull, exc: httpx.HTTPError) -> VaultUnavailable:
    return VaultUnavailable(
        f"the pull endpoint {state.shown} could not be reached ({_describe(exc)})"
    )


def pull_once(
    url: str,
    api_key: str | SecretStr,
    *,
    task_id: str | None = None,
    workflow_run_id: str | None = None,
    totp_identifier: str | None = None,
    extra: Mapping[str, Any] | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    host: PluginHost | None = None,
    accept: Callable[[ExtractedCode], bool] | None = None,
) -> ExtractedCode | None:
    """Ask the endpoint once (one signed request, bounded by ``request_timeout``).

    Returns the code or link, or ``None`` when the endpoint has none yet. Raises
    :class:`~vaults.errors.VaultUnavailable` when it cannot be reached or answers 5xx/429
    (no retry here), :class:`~vaults.errors.AuthenticationFailed` on 401/403.
    """
    state = _once_state(
        url, api_key, task_id, workflow_run_id, totp_identifier, extra, request_timeout, host
    )
    check_destination(state.url)
    body, headers = state.request()
    with _pulling(), pull_client() as client:
        try:
            response = send(
                client,
                "POST",
                state.url,
                content=body,
                headers=headers,
                timeout=state.request_timeout,
            )
        except httpx.HTTPError as exc:
            raise _once_unreachable(state, exc) from None
    return _once_answer(state, response, accept)


async def apull_once(
    url: str,
    api_key: str | SecretStr,
    *,
    task_id: str | None = None,
    workflow_run_id: str | None = None,
    totp_identifier: str | None = None,
    extra: Mapping[str, Any] | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    host: PluginHost | None = None,
    accept: Callable[[ExtractedCode], bool] | None = None,
) -> ExtractedCode | None:
    """Async :func:`pull_once`."""
    state = _once_state(
        url, api_key, task_id, workflow_run_id, totp_identifier, extra, request_timeout, host
    )
    await anyio.to_thread.run_sync(check_destination, state.url)
    body, headers = state.request()
    with _pulling():
        async with async_pull_client() as client:
            try:
                response = await asend(
                    client,
                    "POST",
                    state.url,
                    content=body,
                    headers=headers,
                    timeout=state.request_timeout,
                )
            except httpx.HTTPError as exc:
                raise _once_unreachable(state, exc) from None
    return _once_answer(state, response, accept)
