"""The one lifecycle of every inference endpoint: an endpoint is a value (``Endpoint``: its format), this
module is the call path around it, written once.

::

    t0 (overhead timer) -> authenticate (``endpoint.credentials``; 401, no row; an ``anonymous``
         endpoint takes no key: ``KeyContext(token=None)``, the authenticator is not called)
      -> endpoint.read (JSON, multipart form, raw bytes, nothing: 400/413) -> endpoint.stream_of
      -> route: ProxyCall.route (model group -> deployment, tags, 404/403/400), or endpoint.resolve
         (a target the endpoint finds itself: provider and custom pass-through, stored responses; one
         attempt, no router)
      -> endpoint.parse (format checks) -> pre-call hooks -> endpoint.prepare (body sent upstream)
      -> ProxyCall.reserve (admission on that body as the provider sends it, or on
         ``Upstream.worst_case``: 429; skipped when ``endpoint.admit`` is False)
      -> response cache lookup (``proxy.cache_call``: a hit answers here, no provider call; a
         streamed hit is replayed as chunks through the stream encoder)
      -> ProxyCall.run (``ledgerlm.routing``: per attempt endpoint.prepare then endpoint.call /
         endpoint.open_stream with its first item read (``proxy.routing_stream``: a failure before
         the client's first byte is retried / falls back); retries, fallbacks, cooldowns; the spend
         row through the attempt ledger into the call's sink) -> cache store (a stream: once ended)
      -> plain:  endpoint.encode (a dict: JSON; a ``Reply``: bytes as they are) -> stored reply
                 -> headers (cost, overhead, x-ratelimit-*) -> settle -> post-call success hooks
         stream: endpoint.stream_response(relay: streaming hooks -> encoder.feed ... -> row -> settle
                 -> encoder.finish); default an SSE response
      any error: one failure row (unless the engine wrote one) -> settle/release -> failure hooks
                 -> endpoint.error (the API's error format)
      CancelledError (client gone): the reservation is released and a failure row written, re-raised

Adding an endpoint means writing an ``Endpoint`` (see ``ledgerlm.proxy.endpoints``) and one
``Route(path, inference_route(ENDPOINT))``: nothing here changes. The pieces an endpoint may bring:

* ``anonymous=True`` for a route open to callers without a proxy key (a custom pass-through entry
  with ``auth: false``): the call runs with ``KeyContext(token=None)`` (no key's tags, budgets or
  limits; rows with no key); pair it with ``admit=False``;
* its reader ``read(call) -> body dict``: ``read_json`` (default), ``read_form`` (multipart; files are
  kept in ``call.attachments``), ``read_raw`` (bytes kept as ``call.attachments["raw"]``, the body is
  their JSON object or ``{}``), ``read_nothing`` (GET lookups);
* its engine function ``call(deployment, body, options, **upstream.kwargs)`` (``engine.chat``...,
  ``options`` a ``CallOptions``) or any function of
  that shape returning an object with ``record``, ``cost`` (and ``body`` / ``raw``): a call the engine
  does not run writes its one record with ``ledgerlm.proxy.endpoints.logged.log_call``;
  ``Upstream.kwargs`` adds per-call keyword arguments (pass-through's outgoing HTTP request);
* its encoder: ``encode`` returns a dict (JSON, post-call hooks may change it) or a ``Reply`` (bytes,
  media type, status, headers: audio, text transcripts, a relayed provider answer; sent as it is, no
  post-call success hook and no stored reply: callbacks still get the record); a stream's
  ``stream_encoder`` turns items into bytes and ``stream_response`` wraps them (SSE by default).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from ledgerlm.engine.call import CallOptions
from ledgerlm.engine.stream import ClientDisconnectedError
from ledgerlm.errors import BadRequestError, LedgerLMError
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.body_readers import BodyReader, read_json
from ledgerlm.proxy.cache_call import cache_lookup, cache_replay, cache_store, cache_store_stream
from ledgerlm.proxy.call import ProxyCall, operator_error, request_id_of
from ledgerlm.proxy.http import json_response
from ledgerlm.proxy.routing_stream import open_routed
from ledgerlm.proxy.sse_response import SSEResponse
from ledgerlm.proxy.state import ProxyState
from ledgerlm.record import CallType

__all__ = [
    "Endpoint",
    "ErrorEncoder",
    "Reply",
    "StreamEncoder",
    "Upstream",
    "identity_upstream",
    "inference_route",
    "stream_flag",
]

EngineCall = Callable[..., Awaitable[Any]]
ErrorEncoder = Callable[[BaseException, dict[str, str]], Response]


@dataclass(frozen=True, slots=True)
class Upstream:
    """What the engine is called with: the deployment, the body it receives (in the engine's OpenAI
    format, or the provider's own with ``native``), and ``native`` for the encoders."""

    deployment: Deployment
    body: dict[str, Any]
    native: bool = False
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Per-call keyword arguments added to ``Endpoint.call`` / ``open_stream`` (never the engine's)."""
    worst_case: Any = None
    """A price admission reserves with (``max_cost(input, output) -> USD``) when ``body`` does not show
    the call's cost (a transcription's file); ``None``: estimated from ``body``."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A plain answer that is not a JSON dict: ``content`` bytes as they are, ``media_type``,
    ``status`` and ``headers`` (the lifecycle's headers are added over them)."""

    content: bytes
    media_type: str | None = "application/json"
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


class StreamEncoder(Protocol):
    """Turns the engine's stream items into SSE bytes of one API format (one encoder per call)."""

    def feed(self, item: Any) -> Iterable[bytes]:
        """SSE frames for one engine item (a chunk or a native event); may be none."""
        ...

    def finish(self, stream: Any) -> Iterable[bytes]:
        """Frames after a stream that ended well (``[DONE]``, ``message_stop``); ``stream.usage`` is set."""
        ...

    def error(self, exc: BaseException) -> Iterable[bytes]:
        """Frames for an error after the first byte (the status is already 200)."""
        ...

    def reply(self) -> Any:
        """The reply as stored with ``store_prompts_in_spend_logs`` (assembled from what was fed)."""
        ...


def identity_upstream(call: ProxyCall, body: dict[str, Any]) -> Upstream:
    """``Endpoint.prepare`` for endpoints whose body goes to the engine as admitted."""
    assert call.deployment is not None
    return Upstream(call.deployment, body)


def _no_checks(call: ProxyCall, body: dict[str, Any]) -> None:
    return None


def _request_headers(request: Request) -> Mapping[str, str]:
    return request.headers


def _body_stream(call: ProxyCall, body: dict[str, Any]) -> bool:
    return stream_flag(body)


def _sse(call: ProxyCall, opened: Any, frames: AsyncGenerator[bytes, None]) -> Response:
    return SSEResponse(frames, call.headers())


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One inference API format.

    ``call_type``: the record's call type (``acompletion``, ``amessages``...). ``need``: the body field
    that must be present (400 ``missing_<need>``). ``call(deployment, body, options)`` (``CallOptions``): the
    engine function of a plain call (``engine.chat``, ``engine.embed``); ``open_stream``: the one that
    opens a stream (``None``: the endpoint does not stream and ``stream`` is ignored). ``parse(call,
    body)``: format checks and context fields after routing (raise ``BadRequestError``). ``prepare(call,
    admitted_body) -> Upstream``. ``encode(call, upstream, result) -> dict``: the plain response body.
    ``stream_encoder(call, upstream) -> StreamEncoder``. ``error(exc, headers) -> Response``: the API's
    error format. ``forward_raw``: send the upstream bytes untouched when no hook changes the body.
    ``chunk_hooks``: run the streaming post-call hooks on each engine item (OpenAI chunks). ``name``:
    the route function's name (logs, OpenAPI).

    The edges (module docstring): ``read(call) -> body`` (``body_readers``); ``credentials(request)
    -> headers`` the proxy key is read from; ``stream_of(call, body) -> bool`` (default: ``stream``
    must be a bool); ``resolve(call, body)``: an endpoint that finds its target itself sets
    ``call.deployment`` / ``call.model`` (and the context) instead of the router (one attempt, no
    retries; ``need`` unused); ``admit``: False for calls that bill nothing (never reserved against
    budgets or rate limits); ``stream_response(call, opened, frames) -> Response`` (default SSE);
    ``anonymous``: no proxy key is read (``KeyContext(token=None)``; ``credentials`` unused).
    """

    call_type: CallType
    need: str
    call: EngineCall
    encode: Callable[[ProxyCall, Upstream, Any], dict[str, Any] | Reply]
    error: ErrorEncoder
    open_stream: EngineCall | None = None
    stream_encoder: Callable[[ProxyCall, Upstream], StreamEncoder] | None = None
    parse: Callable[[ProxyCall, dict[str, Any]], None] = _no_checks
    prepare: Callable[[ProxyCall, dict[str, Any]], Upstream] = identity_upstream
    forward_raw: bool = False
    chunk_hooks: bool = True
    name: str = ""
    read: BodyReader = read_json
    credentials: Callable[[Request], Mapping[str, str]] = _request_headers
    stream_of: Callable[[ProxyCall, dict[str, Any]], bool] = _body_stream
    resolve: Callable[[ProxyCall, dict[str, Any]], Awaitable[None]] | None = None
    admit: bool = True
    stream_response: Callable[[ProxyCall, Any, AsyncGenerator[bytes, None]], Response] = _sse
    anonymous: bool = False


def inference_route(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint running ``endpoint`` through the lifecycle (module docstring)."""

    async def handle(request: Request) -> Response:
        call = await _authenticate(request, endpoint)
        if isinstance(call, Response):
            return call
        return await _run(call, endpoint)

    handle.__name__ = handle.__qualname__ = endpoint.name or endpoint.call_type
    return handle


async def _authenticate(request: Request, endpoint: Endpoint) -> ProxyCall | Response:
    """Start the overhead timer, authenticate (an error answers with no spend row; an ``anonymous``
    endpoint takes no key), open the call."""
    t0 = time.perf_counter()
    state: ProxyState = request.app.state.proxy
    request_id = request_id_of(request)
    try:
        if endpoint.anonymous:
            key = KeyContext(token=None)
        else:
            key = await state.auth.authenticate(endpoint.credentials(request))
    except LedgerLMError as exc:
        return endpoint.error(exc, {"x-request-id": request_id, "x-litellm-call-id": request_id})
    return ProxyCall(state, request, key, request_id, endpoint.call_type, t0=t0)


async def _run(call: ProxyCall, endpoint: Endpoint) -> Response:
    try:
        admitted = await _prepare(call, endpoint)
        if call.stream:
            return await _open_stream(call, endpoint, admitted)
        upstream, result = await _cached(call, endpoint, admitted) or await _routed(call, endpoint, admitted)
        call.mark("engine")
    except asyncio.CancelledError:
        await asyncio.shield(_cancelled(call))
        raise
    except Exception as exc:
        return await _fail(call, endpoint, exc)
    try:
        return await _respond(call, endpoint, upstream, result)
    except asyncio.CancelledError:  # gone while answering: the reservation is still settled
        await asyncio.shield(_cancelled(call))
        raise


async def _prepare(call: ProxyCall, endpoint: Endpoint) -> dict[str, Any]:
    """Read the body, route, check the format, admit; the admitted body (``endpoint.prepare`` makes
    the ``Upstream`` of each attempt from it)."""
    call.mark("auth")
    body = await endpoint.read(call)
    if endpoint.open_stream is not None:
        call.stream = endpoint.stream_of(call, body)
    call.mark("body")
    if endpoint.resolve is None:
        await call.route(body, need=endpoint.need)
    else:
        call.body = body
        await endpoint.resolve(call, body)
    endpoint.parse(call, body)
    call.mark("route")
    hooked = await call.run_pre_hooks()
    upstream = endpoint.prepare(call, dict(hooked))
    call.mark("hooks")
    if endpoint.admit:  # on the body as sent upstream (issue 14)
        await call.reserve(upstream.deployment, upstream.body, upstream.worst_case)
    call.mark("admission")
    return hooked


async def _attempts(
    call: ProxyCall, endpoint: Endpoint, admitted: dict[str, Any], engine_call: EngineCall
) -> tuple[Upstream, Any]:
    """``engine_call`` through the router (one attempt on the resolved target when the endpoint
    resolves its own); the ``Upstream`` of the attempt that answered."""
    last: list[Upstream] = []

    async def attempt(deployment: Deployment, body: dict[str, Any], options: CallOptions) -> Any:
        upstream = endpoint.prepare(call, body)  # call.deployment is the attempt's (ProxyCall.run)
        last[:] = [upstream]
        return await engine_call(upstream.deployment, upstream.body, options, **upstream.kwargs)

    if call.routed is None:
        assert call.deployment is not None
        result = await attempt(call.deployment, admitted, call.engine_options())
    else:
        result = await call.run(admitted, attempt)
    return last[0], result


async def _routed(call: ProxyCall, endpoint: Endpoint, admitted: dict[str, Any]) -> tuple[Upstream, Any]:
    """A plain call through the router, its answer stored in the response cache (when configured)."""
    upstream, result = await _attempts(call, endpoint, admitted, endpoint.call)
    await cache_store(call, result)
    return upstream, result


async def _cached(
    call: ProxyCall, endpoint: Endpoint, admitted: dict[str, Any]
) -> tuple[Upstream, Any] | None:
    """The response cache's answer (record written, callbacks run), or None."""
    hit = await cache_lookup(call)
    return None if hit is None else (endpoint.prepare(call, dict(admitted)), hit)


async def _cancelled(call: ProxyCall) -> None:
    """The client went away (the task was cancelled): one failure row if the engine wrote none, and
    the reservation released (or settled with the cost the engine saw)."""
    if call.sink.record is None:
        call.write_failure(ClientDisconnectedError("the client disconnected before the call ended"))
    await call.settle(call.sink.record)


async def _fail(call: ProxyCall, endpoint: Endpoint, exc: BaseException) -> Response:
    """One failure row (unless the engine wrote one), admission released, failure hooks, the error
    (``endpoint.error(exc, headers)``)."""
    if call.sink.record is None:
        call.write_failure(exc)
    await call.settle(call.sink.record)
    if call.state.hooks.failure:
        await call.state.hooks.post_failure(call.body, exc, call.hook_key())
    return endpoint.error(operator_error(exc, call.deployment, call.model), call.headers())


async def _respond(call: ProxyCall, endpoint: Endpoint, upstream: Upstream, result: Any) -> Response:
    """The plain answer: the row (with the reply when prompts are stored) before the response, the
    headers before ``settle`` (they carry admission's), then the success hooks."""
    out = endpoint.encode(call, upstream, result)
    call.sink.flush(call.content(), out if isinstance(out, dict) else None)
    headers = call.headers(result.record, result.cost.total)
    await call.settle(result.record)
    if isinstance(out, Reply):
        headers = {**out.headers, **headers}
        return Response(out.content, status_code=out.status, media_type=out.media_type, headers=headers)
    hooks = call.state.hooks
    if hooks.success:
        out = await hooks.post_success(call.body, call.hook_key(), out)
        return json_response(out, headers=headers)
    raw = getattr(result, "raw", None) if endpoint.forward_raw else None
    if raw:
        return Response(raw, media_type="application/json", headers=headers)
    return json_response(out, headers=headers)


async def _open_stream(call: ProxyCall, endpoint: Endpoint, admitted: dict[str, Any]) -> Response:
    """Open the upstream stream through the router (an error before the first byte answers in the
    error format; after it, no retry)."""
    assert endpoint.open_stream is not None and endpoint.stream_encoder is not None
    hit = await cache_lookup(call)
    if hit is not None:
        upstream = endpoint.prepare(call, dict(admitted))
        replay = cache_replay(call, endpoint.stream_encoder(call, upstream), hit)
        return SSEResponse(replay, call.headers(hit.record, hit.cost.total))
    open_stream, keep = endpoint.open_stream, call.cache_key is not None

    async def open_peeked(
        deployment: Deployment, body: dict[str, Any], options: CallOptions, **kwargs: Any
    ) -> Any:
        return await open_routed(await open_stream(deployment, body, options, **kwargs), keep=keep)

    upstream, opened = await _attempts(call, endpoint, admitted, open_peeked)
    encoder = endpoint.stream_encoder(call, upstream)
    return endpoint.stream_response(call, opened, _relay(call, endpoint, encoder, opened))


async def _relay(
    call: ProxyCall, endpoint: Endpoint, encoder: StreamEncoder, stream: Any
) -> AsyncGenerator[bytes, None]:
    """Relay the stream through the encoder; the spend row is spooled and the reservation settled
    BEFORE the last frames; an error after the first byte is sent in the stream, then the row is a
    failure carrying the usage seen so far (the engine's terminal event)."""
    hooks = call.state.hooks
    failed: BaseException | None = None
    try:
        async for frame in _frames(call, encoder, stream, endpoint.chunk_hooks):
            yield frame
    except Exception as exc:
        failed = exc
    finally:
        await stream.aclose()
        if call.sink.record is None:
            call.write_failure(failed or RuntimeError("stream closed early"))
        call.sink.flush(call.content(), encoder.reply() if call.sink.defer else None)
        await call.settle(call.sink.record)
    if failed is not None:
        if hooks.failure:
            await hooks.post_failure(call.body, failed, call.hook_key())
        for frame in encoder.error(failed):
            yield frame
        return
    await cache_store_stream(call, stream)
    for frame in encoder.finish(stream):
        yield frame


async def _frames(
    call: ProxyCall, encoder: StreamEncoder, stream: AsyncIterator[Any], chunk_hooks: bool
) -> AsyncIterator[bytes]:
    """Every item of ``stream`` through the streaming hooks (``chunk_hooks`` endpoints), then the encoder."""
    hooks = call.state.hooks
    key = call.hook_key() if hooks.streaming and chunk_hooks else None
    async for item in stream:
        if key is not None:
            item = await hooks.on_chunk(key, item)
        for frame in encoder.feed(item):
            yield frame


def stream_flag(body: dict[str, Any]) -> bool:
    """``body["stream"]`` as a bool (400 ``invalid_type`` when it is not one)."""
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequestError("'stream' must be a boolean", param="stream", code="invalid_type")
    return stream
