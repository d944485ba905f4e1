"""HTTP transport: one shared aiohttp session per event loop, retries, and the sync bridge.

* ``get_session()``: the running loop's ``aiohttp.ClientSession``, created on first use (never at
  import). It is closed when its loop shuts down its async generators (``asyncio.run``, pytest-asyncio,
  uvicorn all do), or explicitly with ``await close_session()``.
* ``send(request, ...)``: one request with retries (exponential backoff with jitter for 408/409/429/5xx
  and connection errors, honouring ``Retry-After``); non-streamed bodies are read whole under a TOTAL
  timeout, streamed responses are returned open with a timeout on every read (time to first byte and
  the longest gap between chunks).
* ``run_sync(coro)`` / ``iterate_sync(agen)``: run async code from sync code on ONE background
  event-loop thread (daemon, started lazily), so sync calls share that loop's session.
"""

from __future__ import annotations

import asyncio
import atexit
import random
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp

from ledgerlm.errors import APIConnectionError, APIError, APITimeoutError, BadRequestError
from ledgerlm.providers.base import HTTPRequest
from ledgerlm.providers.http_errors import parse_retry_after

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "RetryPolicy",
    "SendResult",
    "close_session",
    "get_session",
    "iterate_sync",
    "map_client_error",
    "run_sync",
    "send",
]

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 600.0
"""Timeout (seconds) when neither the call nor the deployment sets one."""

RETRIES_ATTR = "ledgerlm_retries"
"""Attribute set on the error ``send`` raises: how many retries were made before giving up."""

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


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


@dataclass(slots=True)
class SendResult:
    """A 2xx answer: ``status``, ``headers``; ``body`` bytes (non-streamed) or the open ``response``
    (streamed: read it, then ``release()``); ``retries`` made before it."""

    status: int
    headers: Mapping[str, str]
    body: bytes | None
    response: aiohttp.ClientResponse | None
    retries: int


# -- sessions ---------------------------------------------------------------------------------------

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)
_keepers: dict[int, AsyncIterator[None]] = {}


async def _keeper(loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession) -> AsyncIterator[None]:
    """Async generator registered with the loop; ``shutdown_asyncgens`` closes it -> session closed."""
    try:
        yield
    finally:
        _keepers.pop(id(loop), None)
        if _sessions.get(loop) is session:
            del _sessions[loop]
        await session.close()


async def get_session() -> aiohttp.ClientSession:
    """The running loop's shared session (created on first use; no limit on connections per host)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is not None and not session.closed:
        return session
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
    _sessions[loop] = session
    keeper = _keeper(loop, session)
    await keeper.__anext__()
    _keepers[id(loop)] = keeper
    return session


async def close_session() -> None:
    """Close the running loop's session now (e.g. in an app's shutdown)."""
    loop = asyncio.get_running_loop()
    session = _sessions.pop(loop, None)
    keeper = _keepers.pop(id(loop), None)
    if session is not None:
        await session.close()
    if keeper is not None:
        await keeper.aclose()  # type: ignore[attr-defined]


# -- errors -----------------------------------------------------------------------------------------


def map_client_error(
    exc: BaseException, *, provider: str | None, model: str | None, url: str, timeout: float
) -> APIError:
    """Map an aiohttp error to ``APITimeoutError``, ``APIConnectionError`` or ``BadRequestError``."""
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


# -- sending ----------------------------------------------------------------------------------------

ErrorMapper = Callable[[int, bytes, Mapping[str, str]], APIError]


async def _attempt(
    session: aiohttp.ClientSession, request: HTTPRequest, *, timeout: float, stream: bool
) -> tuple[int, Mapping[str, str], bytes | None, aiohttp.ClientResponse | None]:
    client_timeout = (
        aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
        if stream
        else aiohttp.ClientTimeout(total=timeout)
    )
    response = await session.request(
        request.method, request.url, data=request.body, headers=request.headers, timeout=client_timeout
    )
    if stream and response.status < 300:
        return response.status, response.headers, None, response
    try:
        body = await response.read()
    finally:
        response.release()
    return response.status, response.headers, body, None


async def send(
    request: HTTPRequest,
    *,
    map_error: ErrorMapper,
    provider: str | None = None,
    model: str | None = None,
    timeout: float | None = None,
    num_retries: int = 2,
    stream: bool = False,
    policy: RetryPolicy | None = None,
) -> SendResult:
    """Send ``request``; retry 408/409/429/5xx and connection errors up to ``num_retries`` times.

    Returns a ``SendResult`` for a 2xx answer; raises the ``APIError`` of the last attempt otherwise
    (``map_error(status, body, headers)`` for HTTP errors, ``map_client_error`` for the rest).
    ``policy`` defaults to the module's ``DEFAULT_RETRY_POLICY`` (read at call time).
    """
    policy = policy or DEFAULT_RETRY_POLICY
    session = await get_session()
    limit = DEFAULT_TIMEOUT_S if timeout is None else timeout
    attempt = 0
    while True:
        try:
            status, headers, body, response = await _attempt(session, request, timeout=limit, stream=stream)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            error = map_client_error(exc, provider=provider, model=model, url=request.url, timeout=limit)
            if isinstance(error, BadRequestError) or attempt >= num_retries:
                setattr(error, RETRIES_ATTR, attempt)
                raise error from exc
            await asyncio.sleep(policy.delay(attempt, None))
            attempt += 1
            continue
        if status < 300:
            return SendResult(status, headers, body, response, attempt)
        error = map_error(status, body or b"", headers)
        if status not in RETRY_STATUSES or attempt >= num_retries:
            setattr(error, RETRIES_ATTR, attempt)
            raise error
        await asyncio.sleep(policy.delay(attempt, parse_retry_after(headers)))
        attempt += 1


# -- sync bridge ------------------------------------------------------------------------------------

_bridge_lock = threading.Lock()
_bridge: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
_bridge_stopped = False


def _bridge_loop() -> asyncio.AbstractEventLoop:
    global _bridge
    if _bridge is not None:
        return _bridge[0]
    if _bridge_stopped:
        raise RuntimeError("ledgerlm's sync bridge is stopped (interpreter exit)")
    with _bridge_lock:
        if _bridge is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="ledgerlm-sync-bridge", daemon=True)
            thread.start()
            _bridge = (loop, thread)
            atexit.register(_stop_bridge)
        return _bridge[0]


def _stop_bridge() -> None:
    global _bridge, _bridge_stopped
    _bridge_stopped = True
    if _bridge is None:
        return
    loop, thread = _bridge
    _bridge = None
    try:
        asyncio.run_coroutine_threadsafe(close_session(), loop).result(timeout=5)
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(timeout=5)
    except Exception:  # best effort at interpreter exit
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    if not thread.is_alive():
        loop.close()


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the bridge loop and wait for its result (re-raising its exception)."""
    loop = _bridge_loop()
    if _bridge is not None and threading.current_thread() is _bridge[1]:
        coro.close()
        raise RuntimeError("ledgerlm sync calls cannot be made from the sync-bridge thread itself")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()  # e.g. KeyboardInterrupt in the caller: stop the call too (no-op when done)
        raise


def submit(awaitable: Callable[[], Awaitable[T]]) -> T:
    """Run ``awaitable()`` on the bridge loop (helper for bound async methods)."""

    async def _run() -> T:
        return await awaitable()

    return run_sync(_run())


def iterate_sync(
    agen: AsyncIterator[T], *, aclose: Callable[[], Awaitable[None]] | None = None
) -> Iterator[T]:
    """Iterate an async iterator living on the bridge loop from sync code, one item per hop.

    Closing the returned generator early runs ``aclose`` (or the iterator's own ``aclose``) there.
    """
    finished = False
    try:
        while True:
            try:
                item = submit(agen.__anext__)
            except StopAsyncIteration:
                finished = True
                return
            yield item
    finally:
        if not finished:
            closer = aclose or getattr(agen, "aclose", None)
            if closer is not None and not _bridge_stopped:
                submit(closer)
