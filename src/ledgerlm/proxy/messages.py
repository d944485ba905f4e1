"""``POST /v1/messages``: the Anthropic Messages API on the proxy (Claude Code, the ``anthropic`` SDK).

Auth is the proxy's (``x-api-key`` or ``Authorization: Bearer`` with a virtual or master key). The
body's ``model`` is a public model name routed like ``/v1/chat/completions``; the call runs through the
same ``ProxyCall`` steps (tags, hooks, admission, engine, spend row, callbacks), with call type
``amessages``:

* Anthropic-family deployments (``anthropic/...``, ``bedrock/invoke/...``): passed through natively
  (``NATIVE_FLAG``), the upstream body and events are returned as they are (only ``model`` is set to the
  deployment's; Bedrock gets ``anthropic_version`` and no ``model`` / ``metadata``);
* any other deployment: translated to the OpenAI format, called, and translated back
  (``ledgerlm.providers._anthropic_from_openai``), streamed or not.

Errors use Anthropic's shape ``{"type": "error", "error": {"type", "message"}}`` (an upstream Anthropic
error body is passed through), also as an ``error`` event inside a stream.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ledgerlm import engine
from ledgerlm.errors import APIError, BadRequestError, LedgerLMError
from ledgerlm.providers._anthropic_from_openai import AnthropicEventEncoder, anthropic_message, openai_request
from ledgerlm.providers.anthropic import NATIVE_FLAG
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.call import ProxyCall, operator_error, request_id_of
from ledgerlm.proxy.http import dumps, json_response, read_json_body, status_of
from ledgerlm.proxy.sse_response import SSEResponse
from ledgerlm.proxy.state import ProxyState

log = logging.getLogger("ledgerlm.proxy")

__all__ = ["anthropic_error_body", "is_native", "messages", "messages_endpoint", "routes"]


def is_native(deployment: Deployment) -> bool:
    """True for Anthropic-family deployments, which get the Anthropic body passed through unchanged:
    ``anthropic/...`` and Bedrock InvokeModel (``bedrock/invoke/...``, Claude models)."""
    if deployment.provider == "anthropic":
        return True
    return deployment.provider == "bedrock" and deployment.model.startswith("invoke/")


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def anthropic_error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """``(HTTP status, Anthropic error body)`` for ``exc``; an upstream Anthropic body is kept."""
    status = status_of(exc)
    if isinstance(exc, APIError) and isinstance(exc.body, dict) and exc.body.get("type") == "error":
        upstream = exc.body.get("error") or {}
        status = 529 if upstream.get("type") == "overloaded_error" else status
        return status, {"type": "error", "error": upstream}
    kind = _ERROR_TYPES.get(status, "api_error")
    if kind == "overloaded_error":
        status = 529
    message = exc.message if isinstance(exc, LedgerLMError) else "internal error"
    return status, {"type": "error", "error": {"type": kind, "message": message}}


def _error_response(exc: BaseException, headers: dict[str, str]) -> Response:
    if not isinstance(exc, LedgerLMError):
        log.error("unhandled error in the proxy (/v1/messages)", exc_info=exc)
    status, body = anthropic_error_body(exc)
    if isinstance(exc, APIError) and exc.retry_after is not None:
        headers = {**headers, "retry-after": str(max(0, int(exc.retry_after + 0.999)))}
    return json_response(body, status=status, headers=headers)


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event.get("type")).encode() + b"\ndata: " + dumps(event) + b"\n\n"


async def _fail(call: ProxyCall, exc: BaseException) -> Response:
    """``ProxyCall.fail`` with an Anthropic-format body: one failure row, admission released, hooks."""
    if call.sink.record is None:
        call.write_failure(exc)
    await call.settle(call.sink.record)
    if call.state.hooks.failure:
        await call.state.hooks.post_failure(call.body, exc, call._hook_key())
    return _error_response(operator_error(exc, call.deployment, call.model), call.headers())


def _upstream(call: ProxyCall, admitted: dict[str, Any]) -> tuple[Deployment, dict[str, Any], bool]:
    """(deployment to call, body to send, native?) for the routed deployment."""
    deployment = call.deployment
    assert deployment is not None
    user_id = (call.body.get("metadata") or {}).get("user_id")
    if is_native(deployment):
        engine.compiled_price(deployment)  # compiled on the original so the copy shares it
        native = dataclasses.replace(deployment, extra={**deployment.extra, NATIVE_FLAG: True})
        if user_id and deployment.provider == "anthropic":
            admitted["metadata"] = {"user_id": user_id}
        return native, admitted, True
    try:
        body = openai_request(admitted)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        raise BadRequestError(
            f"the request is not a valid Anthropic Messages body ({type(exc).__name__}: {exc}); "
            "check the types of messages, content, system and tools",
            param="messages",
        ) from None
    if user_id:
        body["user"] = str(user_id)
    return deployment, body, False


async def messages(request: Request) -> Response:
    """``POST /v1/messages``."""
    state: ProxyState = request.app.state.proxy
    request_id = request_id_of(request)
    try:
        key = await state.auth.authenticate(request.headers)
    except LedgerLMError as exc:
        return _error_response(exc, {"x-request-id": request_id})
    call = ProxyCall(state, request, key, request_id, "amessages")
    try:
        body = await read_json_body(request, state.max_body_bytes)
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequestError("'stream' must be a boolean", param="stream")
        call.stream = stream
        call.route(body, need="messages")
        user_id = (
            (body.get("metadata") or {}).get("user_id") if isinstance(body.get("metadata"), dict) else None
        )
        if user_id and not call.ctx.end_user:
            call.ctx.end_user = str(user_id)  # Anthropic's metadata.user_id names the end user
        if not isinstance(body["messages"], list) or not body["messages"]:
            raise BadRequestError("'messages' must be a non-empty list", param="messages")
        deployment, upstream, native = _upstream(call, await call.admit())
        if stream:
            opened = await engine.chat_stream(deployment, upstream, **call.engine_kwargs())
            return SSEResponse(_relay(call, opened, native), call.headers())
        result = await engine.chat(deployment, upstream, **call.engine_kwargs())
    except Exception as exc:
        return await _fail(call, exc)
    await call.settle(result.record)
    out = result.body if native else anthropic_message(result.body, result.usage, call.model)
    if state.hooks.success:
        out = await state.hooks.post_success(call.body, call._hook_key(), out)
    return json_response(out, headers=call.headers(result.record, result.cost.total))


async def _relay(call: ProxyCall, stream: Any, native: bool) -> AsyncGenerator[bytes, None]:
    """Relay events (native) or encode OpenAI chunks as Anthropic events; the spend row is written by
    the engine's terminal event before ``message_stop`` reaches the client."""
    encoder = None if native else AnthropicEventEncoder(call.model)
    failed: BaseException | None = None
    try:
        async for chunk in stream:
            for event in [chunk] if encoder is None else encoder.feed(chunk):
                if event.get("type") == "message_stop" and native:
                    continue  # sent after the stream ended, below
                yield _sse(event)
    except Exception as exc:
        failed = exc
    finally:
        await stream.aclose()
        if call.sink.record is None:
            call.write_failure(failed or RuntimeError("stream closed early"))
        await call.settle(call.sink.record)
    if failed is not None:
        if call.state.hooks.failure:
            await call.state.hooks.post_failure(call.body, failed, call._hook_key())
        yield _sse(anthropic_error_body(failed)[1])
        return
    for event in [{"type": "message_stop"}] if encoder is None else encoder.finish(stream.usage):
        yield _sse(event)


def messages_endpoint() -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint for ``POST /v1/messages``."""
    return messages


def routes() -> list[Route]:
    """``/v1/messages`` (and ``/messages``) for the proxy app."""
    return [
        Route("/v1/messages", messages_endpoint(), methods=["POST"]),
        Route("/messages", messages_endpoint(), methods=["POST"]),
    ]
