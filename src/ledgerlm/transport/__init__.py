"""HTTP transport: the ``Transport`` protocol, retries, and the sync bridge.

* ``Transport`` (``transport.protocol``): one request in (``HTTPRequest``), one response out (status,
  headers, the body whole or as chunks). ``AiohttpTransport`` (``transport.http``) is the real one;
  ``InMemoryTransport`` (``transport.memory``) answers from a function, for fast tests.
* ``send_with(transport, request, options)``: one request with retries (exponential backoff with
  jitter for 408/409/429/5xx and connection errors, honouring ``Retry-After``); non-streamed bodies are
  read whole under a TOTAL timeout, streamed responses are returned open with a timeout on every read
  (time to first byte and the longest gap between chunks). ``send(request, ...)``: the same on the
  default transport.
* ``get_session()`` / ``close_session()``: the default transport's aiohttp session of the running loop.
* ``run_sync(coro)`` / ``iterate_sync(agen)``: run async code from sync code on ONE background
  event-loop thread (``transport.bridge``).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp

from ledgerlm.errors import APIConnectionError, APIError, APITimeoutError, BadRequestError
from ledgerlm.providers.base import HTTPRequest
from ledgerlm.providers.http_errors import parse_retry_after
from ledgerlm.transport.bridge import iterate_sync, run_sync, submit
from ledgerlm.transport.http import AiohttpTransport, default_transport
from ledgerlm.transport.memory import InMemoryTransport, MemoryResponse
from ledgerlm.transport.protocol import Transport, TransportResponse

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "AiohttpTransport",
    "InMemoryTransport",
    "MemoryResponse",
    "RetryPolicy",
    "SendOptions",
    "SendResult",
    "Transport",
    "TransportResponse",
    "close_session",
    "default_transport",
    "get_session",
    "iterate_sync",
    "map_client_error",
    "run_sync",
    "send",
    "send_with",
    "submit",
]

DEFAULT_TIMEOUT_S = 600.0
"""Timeout (seconds) when neither the call nor the deployment sets one."""

RETRIES_ATTR = "ledgerlm_retries"
"""Attribute set on the error ``send`` raises: how many retries were made before giving up."""

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})

READ_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)
"""What reading a body raises when the connection breaks or stalls (see ``transport.protocol``)."""
CLIENT_ERRORS = (*READ_ERRORS, ValueError)
"""What a transport raises for a request that got no HTTP answer (``ValueError``: a bad URL)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff: ``initial_delay_s * 2**attempt`` capped at ``max_delay_s``, times a jitter in
    [0.75, 1.0]; a ``Retry-After`` up to ``max_retry_after_s`` replaces it."""

    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        if retry_after is not None and retry_after <= self.max_retry_after_s:
            return float(retry_after)
        base = min(self.max_delay_s, self.initial_delay_s * (2.0**attempt))
        return base * random.uniform(0.75, 1.0)


DEFAULT_RETRY_POLICY = RetryPolicy()

ErrorMapper = Callable[[int, bytes, Mapping[str, str]], APIError]


@dataclass(frozen=True, slots=True)
class SendOptions:
    """How to send one request: ``map_error(status, body, headers)`` builds the ``APIError`` of an HTTP
    error; ``provider`` / ``model`` name the call in errors; ``timeout`` (seconds, ``None``:
    ``DEFAULT_TIMEOUT_S``); ``num_retries``; ``stream`` (return 2xx bodies unread); ``policy`` (``None``:
    the module's ``DEFAULT_RETRY_POLICY``, read at call time)."""

    map_error: ErrorMapper
    provider: str | None = None
    model: str | None = None
    timeout: float | None = None
    num_retries: int = 2
    stream: bool = False
    policy: RetryPolicy | None = None


@dataclass(slots=True)
class SendResult:
    """A 2xx answer: ``status``, ``headers``; ``body`` bytes (non-streamed) or the open ``response``
    (streamed: read it, then ``release()``); ``retries`` made before it."""

    status: int
    headers: Mapping[str, str]
    body: bytes | None
    response: TransportResponse | None
    retries: int


async def get_session() -> aiohttp.ClientSession:
    """The running loop's session of the default transport (created on first use)."""
    return await default_transport().session()


async def close_session() -> None:
    """Close the running loop's session of the default transport now."""
    await default_transport().aclose()


def map_client_error(
    exc: BaseException, *, provider: str | None, model: str | None, url: str, timeout: float
) -> APIError:
    """Map a transport error to ``APITimeoutError``, ``APIConnectionError`` or ``BadRequestError``."""
    host = url.split("?", 1)[0]
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return APITimeoutError(
            f"{provider} did not answer within {timeout:g} s ({host})", provider=provider, model=model
        )
    if isinstance(exc, aiohttp.InvalidURL | ValueError):
        return BadRequestError(
            f"invalid api_base / URL {host!r}: {exc}", provider=provider, model=model, param="api_base"
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return APIConnectionError(
            f"the connection to {provider} broke while reading the response ({host}): {exc}",
            provider=provider,
            model=model,
        )
    return APIConnectionError(
        f"cannot connect to {provider} at {host}: {exc}", provider=provider, model=model
    )


async def _attempt(
    transport: Transport, request: HTTPRequest, *, timeout: float, stream: bool
) -> tuple[int, Mapping[str, str], bytes | None, TransportResponse | None]:
    response = await transport.request(request, timeout=timeout, stream=stream)
    if stream and response.status < 300:
        return response.status, response.headers, None, response
    try:
        body = await response.read()
    finally:
        response.release()
    return response.status, response.headers, body, None


async def send_with(transport: Transport, request: HTTPRequest, options: SendOptions) -> SendResult:
    """Send ``request`` on ``transport``; retry 408/409/429/5xx and connection errors up to
    ``options.num_retries`` times.

    Returns a ``SendResult`` for a 2xx answer; raises the ``APIError`` of the last attempt otherwise
    (``options.map_error`` for HTTP errors, ``map_client_error`` for the rest), carrying the number of
    retries made in the attribute ``RETRIES_ATTR``.
    """
    policy = options.policy or DEFAULT_RETRY_POLICY
    limit = DEFAULT_TIMEOUT_S if options.timeout is None else options.timeout
    attempt = 0
    while True:
        try:
            status, headers, body, response = await _attempt(
                transport, request, timeout=limit, stream=options.stream
            )
        except CLIENT_ERRORS as exc:
            error = map_client_error(
                exc, provider=options.provider, model=options.model, url=request.url, timeout=limit
            )
            if isinstance(error, BadRequestError) or attempt >= options.num_retries:
                setattr(error, RETRIES_ATTR, attempt)
                raise error from exc
            await asyncio.sleep(policy.delay(attempt, None))
            attempt += 1
            continue
        if status < 300:
            return SendResult(status, headers, body, response, attempt)
        error = options.map_error(status, body or b"", headers)
        if status not in RETRY_STATUSES or attempt >= options.num_retries:
            setattr(error, RETRIES_ATTR, attempt)
            raise error
        await asyncio.sleep(policy.delay(attempt, parse_retry_after(headers)))
        attempt += 1


async def send(
    request: HTTPRequest,
    *,
    map_error: ErrorMapper,
    provider: str | None = None,
    model: str | None = None,
    timeout: float | None = None,
    num_retries: int = 2,
    stream: bool = False,
) -> SendResult:
    """``send_with`` on the default transport (the proxy's pass-through and stored-response routes)."""
    options = SendOptions(map_error, provider, model, timeout, num_retries, stream)
    return await send_with(default_transport(), request, options)
