"""OpenAI-compatible routes: ``POST /v1/chat/completions`` (plain and SSE), ``POST /v1/embeddings``,
``GET /v1/models``. The shapes are OpenAI's (https://platform.openai.com/docs/api-reference/chat).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ledgerlm import engine
from ledgerlm.errors import BadRequestError, LedgerLMError
from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.call import ProxyCall, request_id_of
from ledgerlm.proxy.http import dumps, error_body, error_response, json_response, read_json_body
from ledgerlm.proxy.sse_response import SSEResponse
from ledgerlm.proxy.state import ProxyState
from ledgerlm.record import CallType

__all__ = ["chat_completions", "embeddings", "list_models"]

DONE = b"data: [DONE]\n\n"


async def _start(request: Request, call_type: CallType) -> ProxyCall | Response:
    """Authenticate (401 with no spend row) and open the call."""
    t0 = time.perf_counter()
    state: ProxyState = request.app.state.proxy
    request_id = request_id_of(request)
    try:
        key = await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return error_response(exc, {"x-request-id": request_id, "x-litellm-call-id": request_id})
    return ProxyCall(state, request, key, request_id, call_type, t0=t0)


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions`` and ``/chat/completions``."""
    call = await _start(request, "acompletion")
    if isinstance(call, Response):
        return call
    try:
        body = await read_json_body(request, call.state.max_body_bytes)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequestError("'stream' must be a boolean", param="stream", code="invalid_type")
        call.stream = stream
        call.route(body, need="messages")
        if not isinstance(body["messages"], list) or not body["messages"]:
            raise BadRequestError("'messages' must be a non-empty list", param="messages")
        upstream = await call.admit()
        assert call.deployment is not None
        if stream:
            return await _stream(call, upstream)
        result = await engine.chat(call.deployment, upstream, **call.engine_kwargs())
    except asyncio.CancelledError:
        await asyncio.shield(call.settle(call.sink.record))  # release admission; the engine logged it
        raise
    except Exception as exc:
        return await call.fail(exc)
    return await _respond(call, result)


async def _respond(call: ProxyCall, result: Any) -> Response:
    record = result.record
    call.sink.flush(call.content(), result.body)  # the row, before the response (store_prompts mode)
    headers = call.headers(record, result.cost.total)  # before settle: it carries admission's headers
    await call.settle(record)
    hooks = call.state.hooks
    if hooks.success:
        body = await hooks.post_success(call.body, call._hook_key(), result.body)
        return json_response(body, headers=headers)
    raw = getattr(result, "raw", None)
    if raw:
        return Response(raw, media_type="application/json", headers=headers)
    return json_response(result.body, headers=headers)


async def _stream(call: ProxyCall, upstream: dict[str, Any]) -> Response:
    """Open the upstream stream (errors before the first byte answer as JSON errors) and relay it."""
    assert call.deployment is not None
    stream = await engine.chat_stream(call.deployment, upstream, **call.engine_kwargs())
    return SSEResponse(_relay(call, stream), call.headers())


async def _relay(call: ProxyCall, stream: Any) -> AsyncGenerator[bytes, None]:
    """Relay chunks; an error mid-stream is sent as an SSE error event. The spend row is spooled (by the
    engine's terminal event) BEFORE ``[DONE]`` is sent."""
    hooks = call.state.hooks
    key = call._hook_key() if hooks.streaming else None
    text: list[str] | None = [] if call.sink.defer else None
    failed: BaseException | None = None
    try:
        async for chunk in stream:
            if key is not None:
                chunk = await hooks.on_chunk(key, chunk)
            if text is not None:
                _collect(text, chunk)
            yield b"data: " + dumps(chunk) + b"\n\n"
    except Exception as exc:
        failed = exc
    finally:
        await stream.aclose()
        if call.sink.record is None:
            call.write_failure(failed or RuntimeError("stream closed early"))
        call.sink.flush(call.content(), _assembled(text))
        await call.settle(call.sink.record)
    if failed is not None:
        if hooks.failure:
            await hooks.post_failure(call.body, failed, call._hook_key())
        yield b"data: " + dumps(error_body(failed)) + b"\n\n"
    yield DONE


def _collect(text: list[str], chunk: dict[str, Any]) -> None:
    for choice in chunk.get("choices") or ():
        content = (choice.get("delta") or {}).get("content")
        if content:
            text.append(content)


def _assembled(text: list[str] | None) -> dict[str, Any] | None:
    """The streamed reply as stored with ``store_prompts_in_spend_logs`` (text content only)."""
    if text is None:
        return None
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(text)}}]}


async def embeddings(request: Request) -> Response:
    """``POST /v1/embeddings`` and ``/embeddings``."""
    call = await _start(request, "aembedding")
    if isinstance(call, Response):
        return call
    try:
        body = await read_json_body(request, call.state.max_body_bytes)
        call.route(body, need="input")
        upstream = await call.admit()
        assert call.deployment is not None
        result = await engine.embed(call.deployment, upstream, **call.engine_kwargs())
    except asyncio.CancelledError:
        await asyncio.shield(call.settle(call.sink.record))
        raise
    except Exception as exc:
        return await call.fail(exc)
    return await _respond(call, result)


def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "ledgerlm"}


async def list_models(request: Request) -> Response:
    """``GET /v1/models``: only the public model names the caller's key (and team) may use."""
    state: ProxyState = request.app.state.proxy
    try:
        key: KeyContext = await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return error_response(exc)
    data = [_model_entry(n) for n in state.registry.names() if key.allows_model(n)]
    return json_response({"object": "list", "data": data})
