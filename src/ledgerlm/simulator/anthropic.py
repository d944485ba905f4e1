"""Anthropic Messages format for the simulator: ``POST /v1/messages`` (plain and SSE).

Payloads follow the Anthropic Messages API reference and streaming guide: a ``message`` object with
``content`` blocks (``thinking`` when ``reasoning_tokens`` > 0, ``text``, ``tool_use`` when the request
forces a tool with ``tool_choice`` ``any`` / ``tool``), ``stop_reason`` and ``usage`` (``input_tokens``
EXCLUDING cache reads / writes, ``cache_creation`` split 5m / 1h); streams are ``message_start``, block
events, a ``ping``, ``message_delta`` with the cumulative usage and ``message_stop``. Auth: ``x-api-key``
(or Bearer). Errors: ``{"type": "error", "error": {"type", "message"}}`` with a ``request-id`` header;
the in-stream error is an ``error`` event (``overloaded_error``).
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator._native_common import Tokens, prepare_native, tokens_for, write_events
from ledgerlm.simulator.knobs import Knobs
from ledgerlm.simulator.openai import reply_text
from ledgerlm.simulator.state import SimState, split_words

__all__ = ["ERROR_TYPES", "anthropic_error", "message_body", "routes", "stream_events", "usage_body"]

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
THINKING_TEXT = "Let me think about this step by step."


def anthropic_error(status: int, message: str, retry_after: float | None = None) -> web.Response:
    """An Anthropic error response."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_sim"}
    headers = {"request-id": "req_sim"}
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def _authorized(request: web.Request) -> bool:
    bearer = request.headers.get("Authorization", "")
    return bool(request.headers.get("x-api-key")) or (
        bearer.startswith("Bearer ") and bool(bearer[7:].strip())
    )


def _system_text(body: dict[str, Any]) -> str:
    system = body.get("system") or ""
    if isinstance(system, list):
        return "".join(b.get("text", "") for b in system if isinstance(b, dict))
    return str(system)


def forced_tool(body: dict[str, Any]) -> str | None:
    """The tool name the request forces (``tool_choice`` ``tool`` / ``any``), else ``None``."""
    choice = body.get("tool_choice") or {}
    tools = body.get("tools") or []
    if choice.get("type") == "tool":
        return str(choice.get("name"))
    if choice.get("type") == "any" and tools:
        return str(tools[0].get("name"))
    return None


def usage_body(tokens: Tokens, *, output: int | None = None) -> dict[str, Any]:
    """The Anthropic ``usage`` object for ``tokens`` (``output`` overrides ``output_tokens``)."""
    return {
        "input_tokens": tokens.uncached_prompt,
        "cache_creation_input_tokens": tokens.cache_write,
        "cache_read_input_tokens": tokens.cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": tokens.cache_write - tokens.cache_write_1h,
            "ephemeral_1h_input_tokens": tokens.cache_write_1h,
        },
        "output_tokens": tokens.completion if output is None else output,
        "service_tier": "standard",
    }


def _reply(knobs: Knobs, body: dict[str, Any]) -> tuple[str, Tokens, str | None]:
    content = reply_text(knobs, body)
    tokens = tokens_for(knobs, body.get("messages"), _system_text(body), content)
    return content, tokens, forced_tool(body)


def _message_id(body: dict[str, Any]) -> str:
    return "msg_sim" + hashlib.sha256(orjson.dumps(body.get("messages"))).hexdigest()[:20]


def message_body(knobs: Knobs, body: dict[str, Any]) -> dict[str, Any]:
    """A non-streamed Messages response for ``body``."""
    content, tokens, tool = _reply(knobs, body)
    blocks: list[dict[str, Any]] = []
    if tokens.reasoning:
        blocks.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": "sim-signature"})
    blocks.append({"type": "text", "text": content})
    if tool:
        blocks.append(
            {"type": "tool_use", "id": "toolu_sim01", "name": tool, "input": {"query": content[:20]}}
        )
    return {
        "id": _message_id(body),
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-sim"),
        "content": blocks,
        "stop_reason": "tool_use" if tool else "end_turn",
        "stop_sequence": None,
        "usage": usage_body(tokens),
    }


def _sse(event: dict[str, Any]) -> bytes:
    return b"event: " + str(event["type"]).encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


def _blocks(content: str, tokens: Tokens, tool: str | None) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    index = 0
    if tokens.reasoning:
        events.append(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}}
        )
        delta = {"type": "thinking_delta", "thinking": THINKING_TEXT}
        events.append({"type": "content_block_delta", "index": 0, "delta": delta})
        sig = {"type": "signature_delta", "signature": "sim-signature"}
        events.append({"type": "content_block_delta", "index": 0, "delta": sig})
        events.append({"type": "content_block_stop", "index": 0})
        index = 1
    events.append(
        {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
    )
    for piece in split_words(content):
        events.append(
            {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}}
        )
    events.append({"type": "content_block_stop", "index": index})
    if tool:
        index += 1
        block = {"type": "tool_use", "id": "toolu_sim01", "name": tool, "input": {}}
        events.append({"type": "content_block_start", "index": index, "content_block": block})
        arguments = orjson.dumps({"query": content[:20]}).decode()
        for part in (arguments[:5], arguments[5:]):
            delta = {"type": "input_json_delta", "partial_json": part}
            events.append({"type": "content_block_delta", "index": index, "delta": delta})
        events.append({"type": "content_block_stop", "index": index})
    return events


def stream_event_dicts(knobs: Knobs, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a streamed reply as dicts (``message_start`` ... ``message_stop``)."""
    content, tokens, tool = _reply(knobs, body)
    message = {
        "id": _message_id(body),
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "claude-sim"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage_body(tokens, output=1),
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": message}, {"type": "ping"}]
    events += _blocks(content, tokens, tool)
    stop = {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None}
    final = usage_body(tokens)
    del final["cache_creation"], final["service_tier"]
    events.append({"type": "message_delta", "delta": stop, "usage": final})
    events.append({"type": "message_stop"})
    return events


def stream_events(knobs: Knobs, body: dict[str, Any]) -> list[bytes]:
    """The SSE-framed events of a streamed reply."""
    return [_sse(e) for e in stream_event_dicts(knobs, body)]


STREAM_ERROR = _sse(
    {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded (simulated)"}}
)


def _bill(state: SimState, request: web.Request, knobs: Knobs, body: dict[str, Any]) -> None:
    """Record the answered call for the admin reports (``simulator.billing``)."""
    _, tokens, _ = _reply(knobs, body)
    counts = {
        "input": tokens.uncached_prompt,
        "cached_input": tokens.cache_read,
        "cache_write_5m": tokens.cache_write - tokens.cache_write_1h,
        "cache_write_1h": tokens.cache_write_1h,
        "output": tokens.completion,
    }
    model = str(body.get("model", "claude-sim"))
    state.billing.record("anthropic", request.headers.get("x-api-key"), model, counts, "messages")


def routes(state: SimState) -> list[web.RouteDef]:
    """``POST /v1/messages`` bound to ``state``."""

    async def messages(request: web.Request) -> web.StreamResponse:
        model = ""
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            model = str(orjson.loads(await request.read()).get("model", ""))
        prepared = await prepare_native(
            request, state, model=model, authorized=_authorized, error=anthropic_error
        )
        if isinstance(prepared, web.StreamResponse):
            return prepared
        knobs, body = prepared
        _bill(state, request, knobs, body)
        if body.get("stream"):
            events = stream_events(knobs, body)
            return await write_events(
                request, state, knobs, events, content_type="text/event-stream", error_event=STREAM_ERROR
            )
        return web.Response(body=orjson.dumps(message_body(knobs, body)), content_type="application/json")

    async def count_tokens(request: web.Request) -> web.StreamResponse:
        model = ""
        with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
            model = str(orjson.loads(await request.read()).get("model", ""))
        prepared = await prepare_native(
            request, state, model=model, authorized=_authorized, error=anthropic_error
        )
        if isinstance(prepared, web.StreamResponse):
            return prepared
        knobs, body = prepared
        if "max_tokens" in body or "stream" in body:
            return anthropic_error(400, "max_tokens: Extra inputs are not permitted")
        tokens = tokens_for(knobs, body.get("messages"), _system_text(body), "")
        counted = {"input_tokens": tokens.prompt}  # every input token, cached or not
        return web.Response(body=orjson.dumps(counted), content_type="application/json")

    return [web.post("/v1/messages", messages), web.post("/v1/messages/count_tokens", count_tokens)]
