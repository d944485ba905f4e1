"""``POST /v1/responses`` (and ``/responses``): OpenAI's Responses API on the proxy (Agents SDK, Codex).

Format: OpenAI's API reference ("Responses", "Streaming events"). Routed like chat (model group ->
deployment, tags from ``metadata.tags`` and headers, hooks, admission, one spend row of call type
``aresponses``):

* OpenAI and Azure deployments: the body is passed through to ``{base}/responses``
  (``RESPONSES_FLAG``), the answer and its events are returned unchanged; usage as OpenAI reports it
  (cached input, reasoning), built-in tool calls (``web_search_call``, ``file_search_call`` output
  items) billed per call (``ledgerlm.pricing.tool_fees``); the response id is remembered so
  ``GET``/``DELETE /v1/responses/{id}`` and ``/input_items`` reach the same deployment
  (``ledgerlm.proxy.endpoints.stored_responses``);
* any other deployment: translated to chat completions and back (``_responses_from_chat``), streamed
  as Responses events.

``metadata`` and ``tags`` are consumed by the proxy (never forwarded). Errors use the OpenAI error shape.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import BadRequestError
from ledgerlm.pricing.tool_fees import ToolFeePrice
from ledgerlm.providers._responses_from_chat import ResponsesEventEncoder, chat_request, response_object
from ledgerlm.providers.base import Deployment
from ledgerlm.providers.openai_responses import RESPONSES_FLAG
from ledgerlm.proxy.call import ProxyCall
from ledgerlm.proxy.endpoints import stored_responses
from ledgerlm.proxy.http import dumps, error_body, json_response, read_json_body
from ledgerlm.proxy.llm_routes import _start
from ledgerlm.proxy.sse_response import SSEResponse

__all__ = ["NATIVE_PROVIDERS", "native_deployment", "responses", "routes"]

NATIVE_PROVIDERS = frozenset({"openai", "azure"})
"""Providers whose own Responses API is called (LiteLLM passes these through too)."""


def native_deployment(deployment: Deployment) -> Deployment | None:
    """A copy of ``deployment`` that speaks the Responses API, priced with tool fees; ``None`` for a
    chat-only provider."""
    if deployment.provider not in NATIVE_PROVIDERS:
        return None
    price = ToolFeePrice(engine.compiled_price(deployment))
    return dataclasses.replace(deployment, extra={**deployment.extra, RESPONSES_FLAG: True}, price=price)


def _stream_flag(body: dict[str, Any]) -> bool:
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequestError("'stream' must be a boolean", param="stream", code="invalid_type")
    return stream


def _check_input(body: dict[str, Any]) -> None:
    given = body.get("input")
    if not isinstance(given, (str, list)) or not given:
        raise BadRequestError("'input' must be a non-empty string or list", param="input")


def _translated(admitted: dict[str, Any]) -> dict[str, Any]:
    try:
        return chat_request(admitted)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise BadRequestError(
            f"this Responses request cannot be sent to a chat-completions model: {exc}", param="input"
        ) from None


async def responses(request: Request) -> Response:
    """``POST /v1/responses``."""
    call = await _start(request, "aresponses")
    if isinstance(call, Response):
        return call
    try:
        body = await read_json_body(request, call.state.max_body_bytes)
        call.stream = _stream_flag(body)
        call.route(body, need="input")
        _check_input(body)
        admitted = await call.admit()
        assert call.deployment is not None
        native = native_deployment(call.deployment)
        if native is not None:
            return await _native(call, native, admitted)
        return await _bridged(call, call.deployment, _translated(admitted))
    except asyncio.CancelledError:
        await asyncio.shield(call.settle(call.sink.record))
        raise
    except Exception as exc:
        return await call.fail(exc)


async def _native(call: ProxyCall, deployment: Deployment, upstream: dict[str, Any]) -> Response:
    stored = stored_responses.store_of(call.request)
    if call.stream:
        stream = await engine.chat_stream(deployment, upstream, **call.engine_kwargs())
        return SSEResponse(_relay(call, stream, None, stored), call.headers())
    result = await engine.chat(deployment, upstream, **call.engine_kwargs())
    stored.remember(result.body.get("id"), deployment, call.key.token)
    return await _answer(call, result, result.raw)


async def _bridged(call: ProxyCall, deployment: Deployment, upstream: dict[str, Any]) -> Response:
    if call.stream:
        stream = await engine.chat_stream(deployment, upstream, **call.engine_kwargs())
        encoder = ResponsesEventEncoder(call.model, call.body)
        return SSEResponse(_relay(call, stream, encoder, None), call.headers())
    result = await engine.chat(deployment, upstream, **call.engine_kwargs())
    result.body = response_object(result.body, result.usage, call.model, call.body)
    return await _answer(call, result, None)


async def _answer(call: ProxyCall, result: Any, raw: bytes | None) -> Response:
    call.sink.flush(call.content(), result.body)
    headers = call.headers(result.record, result.cost.total)
    await call.settle(result.record)
    hooks = call.state.hooks
    if hooks.success:
        body = await hooks.post_success(call.body, call._hook_key(), result.body)
        return json_response(body, headers=headers)
    if raw:
        return Response(raw, media_type="application/json", headers=headers)
    return json_response(result.body, headers=headers)


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event.get("type")).encode() + b"\ndata: " + dumps(event) + b"\n\n"


async def _relay(
    call: ProxyCall,
    stream: Any,
    encoder: ResponsesEventEncoder | None,
    stored: stored_responses.StoredResponses | None,
) -> AsyncGenerator[bytes, None]:
    """Relay (native) or encode (bridged) the events. The spend row is spooled by the engine's
    terminal event before the terminal ``response.*`` event reaches the client (bridged); a native
    stream's last event is held back until the stream ended."""
    failed: BaseException | None = None
    held: dict[str, Any] | None = None
    try:
        async for chunk in stream:
            if encoder is not None:
                for event in encoder.feed(chunk):
                    yield _sse(event)
                continue
            if held is not None:
                yield _sse(held)
            held = chunk
    except Exception as exc:
        failed = exc
    finally:
        await stream.aclose()
        if call.sink.record is None:
            call.write_failure(failed or RuntimeError("stream closed early"))
        call.sink.flush(call.content(), None)
        await call.settle(call.sink.record)
    if held is not None:
        if stored is not None:
            _remember(stored, held, call)
        yield _sse(held)
    if failed is not None:
        if call.state.hooks.failure:
            await call.state.hooks.post_failure(call.body, failed, call._hook_key())
        yield _sse({"type": "error", **error_body(failed)["error"]})
        return
    if encoder is not None:
        for event in encoder.finish(stream.usage):
            yield _sse(event)


def _remember(stored: stored_responses.StoredResponses, event: dict[str, Any], call: ProxyCall) -> None:
    response = event.get("response")
    if isinstance(response, dict) and call.deployment is not None:
        native = native_deployment(call.deployment)
        if native is not None:
            stored.remember(response.get("id"), native, call.key.token)


def routes() -> list[Route]:
    """``POST /v1/responses`` and ``/responses`` plus the stored-response routes."""
    return [
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/responses", responses, methods=["POST"]),
        *stored_responses.routes(),
    ]
