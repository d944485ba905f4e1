"""``POST /v1/messages``: the Anthropic Messages API on the proxy (Claude Code, the ``anthropic`` SDK).

Auth is the proxy's (``x-api-key`` or ``Authorization: Bearer`` with a virtual or master key). The
body's ``model`` is a public model name routed like ``/v1/chat/completions``; the call runs through the
same lifecycle (``ledgerlm.proxy.lifecycle``: tags, hooks, admission, engine, spend row, callbacks), with
call type ``amessages``:

* Anthropic-family deployments (``anthropic/...``, ``bedrock/invoke/...``): passed through natively
  (``NATIVE_FLAG``), the upstream body and events are returned as they are (only ``model`` is set to the
  deployment's; Bedrock gets ``anthropic_version`` and no ``model`` / ``metadata``);
* any other deployment: translated to the OpenAI format, called, and translated back
  (``ledgerlm.providers.anthropic.from_openai``), streamed or not.

Errors use Anthropic's shape ``{"type": "error", "error": {"type", "message"}}`` (an upstream Anthropic
error body is passed through), also as an ``error`` event inside a stream.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import Any

from starlette.responses import Response

from ledgerlm import engine
from ledgerlm.errors import APIError, BadRequestError, BudgetExceededError, LedgerLMError
from ledgerlm.providers.anthropic import NATIVE_FLAG
from ledgerlm.providers.anthropic.from_openai import AnthropicEventEncoder, anthropic_message, openai_request
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.call import MAX_END_USER_CHARS, ProxyCall
from ledgerlm.proxy.endpoints.field_types import ANTHROPIC_FIELDS, check_fields
from ledgerlm.proxy.http import dumps, json_response, status_of
from ledgerlm.proxy.lifecycle import Endpoint, Upstream

log = logging.getLogger("ledgerlm.proxy")

__all__ = ["MESSAGES", "MessagesStreamEncoder", "anthropic_error_body", "is_native"]


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
    if isinstance(exc, BudgetExceededError):  # LiteLLM's 422 (or 429): the type says it is a budget
        kind = exc.error_type
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


def _parse(call: ProxyCall, body: dict[str, Any]) -> None:
    """Anthropic's ``metadata.user_id`` names the end user (unless ``user`` or the header did): a string
    of at most 255 characters (``spend_logs.end_user``) without NUL (PostgreSQL cannot store it), else
    400; ``messages`` must be a non-empty list."""
    metadata = body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if user_id is not None:
        _check_user_id(user_id)
    if user_id and not call.ctx.end_user:
        call.ctx.end_user = user_id
    if not isinstance(body["messages"], list) or not body["messages"]:
        raise BadRequestError("'messages' must be a non-empty list", param="messages")
    check_fields(body, ANTHROPIC_FIELDS)


def _check_user_id(user_id: Any) -> None:
    """400 ``invalid_request_error`` naming ``metadata.user_id`` unless it is a storable end-user id."""
    problem = None
    if not isinstance(user_id, str):
        problem = "must be a string"
    elif "\x00" in user_id:
        problem = "may not contain a NUL character (\\u0000)"
    elif len(user_id) > MAX_END_USER_CHARS:
        problem = f"is too long: {len(user_id)} characters, at most {MAX_END_USER_CHARS}"
    if problem:
        raise BadRequestError(f"metadata.user_id {problem}", param="metadata.user_id")


def _prepare(call: ProxyCall, admitted: dict[str, Any]) -> Upstream:
    """The deployment to call and the body to send: native (Anthropic body) or translated to OpenAI."""
    deployment = call.deployment
    assert deployment is not None
    metadata = call.body.get("metadata")
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if is_native(deployment):
        native = dataclasses.replace(deployment, extra={**deployment.extra, NATIVE_FLAG: True})
        if user_id and deployment.provider == "anthropic":
            admitted["metadata"] = {"user_id": user_id}
        return Upstream(native, admitted, native=True)
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
    return Upstream(deployment, body)


def _encode(call: ProxyCall, upstream: Upstream, result: Any) -> dict[str, Any]:
    if upstream.native:
        body: dict[str, Any] = result.body
        return body
    return anthropic_message(result.body, result.usage, call.model)


class MessagesStreamEncoder:
    """Native events relayed as they are (``message_stop`` held back until the row is written), or
    OpenAI chunks encoded as Anthropic events; keeps the text when the reply is stored."""

    __slots__ = ("_encoder", "_model", "_text")

    def __init__(self, call: ProxyCall, upstream: Upstream) -> None:
        self._encoder = None if upstream.native else AnthropicEventEncoder(call.model)
        self._model = call.model
        self._text: list[str] | None = [] if call.sink.defer else None

    def feed(self, item: dict[str, Any]) -> Iterable[bytes]:
        events = [item] if self._encoder is None else self._encoder.feed(item)
        out = []
        for event in events:
            if event.get("type") == "message_stop" and self._encoder is None:
                continue  # sent by finish, after the stream ended
            if self._text is not None:
                _collect(self._text, event)
            out.append(_sse(event))
        return out

    def finish(self, stream: Any) -> Iterable[bytes]:
        events = [{"type": "message_stop"}] if self._encoder is None else self._encoder.finish(stream.usage)
        return [_sse(event) for event in events]

    def error(self, exc: BaseException) -> Iterable[bytes]:
        return (_sse(anthropic_error_body(exc)[1]),)

    def reply(self) -> Any:
        """The streamed reply as stored with ``store_prompts_in_spend_logs`` (text content only)."""
        if self._text is None:
            return None
        content = [{"type": "text", "text": "".join(self._text)}]
        return {"type": "message", "role": "assistant", "model": self._model, "content": content}


def _collect(text: list[str], event: dict[str, Any]) -> None:
    if event.get("type") == "content_block_delta":
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta" and delta.get("text"):
            text.append(delta["text"])


MESSAGES = Endpoint(
    call_type="amessages",
    need="messages",
    call=engine.chat,
    open_stream=engine.chat_stream,
    encode=_encode,
    stream_encoder=MessagesStreamEncoder,
    error=_error_response,
    parse=_parse,
    prepare=_prepare,
    chunk_hooks=False,
    name="messages",
)
