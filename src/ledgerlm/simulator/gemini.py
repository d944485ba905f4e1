"""Gemini format for the simulator: AI Studio and Vertex AI ``generateContent`` and
``streamGenerateContent?alt=sse``.

Routes: ``POST /v1beta/models/{model}:{method}`` (also ``/v1/...``; auth ``x-goog-api-key`` or ``?key=``)
and ``POST /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}`` (Vertex; auth
``Authorization: Bearer``). Payloads follow the Gemini API reference: ``candidates[].content.parts``
(a ``thought: true`` part when ``reasoning_tokens`` > 0, text, a ``functionCall`` when the request forces
a function with ``toolConfig.functionCallingConfig.mode: ANY``), ``finishReason``, ``usageMetadata``
(``promptTokenCount`` INCLUDES ``cachedContentTokenCount``; ``thoughtsTokenCount`` beside
``candidatesTokenCount``), ``modelVersion``, ``responseId``; Vertex adds ``trafficType``. Stream chunks
carry the cumulative ``usageMetadata``. Errors: ``{"error": {"code", "message", "status"}}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator._native_common import Tokens, prepare_native, tokens_for, write_events
from ledgerlm.simulator.count_tokens import gemini_count, vertex_claude_count
from ledgerlm.simulator.knobs import Knobs, count_text_tokens
from ledgerlm.simulator.openai import reply_text
from ledgerlm.simulator.state import SimState, split_words

__all__ = ["gemini_error", "generate_body", "routes", "stream_events", "usage_metadata"]

STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def gemini_error(status: int, message: str, retry_after: float | None = None) -> web.Response:
    """A Google API error response."""
    body = {"error": {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}}
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    """``contents`` as OpenAI-like messages, for the deterministic reply and token counts."""
    out = []
    for content in body.get("contents") or []:
        text = "".join(str(p.get("text", "")) for p in content.get("parts") or [] if isinstance(p, dict))
        out.append(
            {"role": "user" if content.get("role", "user") == "user" else "assistant", "content": text}
        )
    return out


def _system_text(body: dict[str, Any]) -> str:
    parts = (body.get("systemInstruction") or {}).get("parts") or []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


def _forced_function(body: dict[str, Any]) -> str | None:
    config = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if config.get("mode") != "ANY":
        return None
    allowed = config.get("allowedFunctionNames") or []
    if allowed:
        return str(allowed[0])
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            return str(declaration.get("name"))
    return None


def usage_metadata(tokens: Tokens, *, vertex: bool, candidates: int | None = None) -> dict[str, Any]:
    """``usageMetadata`` (``candidates`` overrides the candidate count for partial stream chunks)."""
    visible = tokens.completion - tokens.reasoning if candidates is None else candidates
    meta: dict[str, Any] = {
        "promptTokenCount": tokens.prompt,
        "candidatesTokenCount": visible,
        "totalTokenCount": tokens.prompt + visible + tokens.reasoning,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens.prompt}],
    }
    if tokens.reasoning:
        meta["thoughtsTokenCount"] = tokens.reasoning
    if tokens.cache_read:
        meta["cachedContentTokenCount"] = tokens.cache_read
    if vertex:
        meta["trafficType"] = "ON_DEMAND"
    return meta


def _reply(knobs: Knobs, body: dict[str, Any]) -> tuple[str, Tokens, str | None]:
    messages = _messages(body)
    content = reply_text(knobs, {"messages": messages})
    return content, tokens_for(knobs, messages, _system_text(body), content), _forced_function(body)


def _response_id(body: dict[str, Any]) -> str:
    return "sim" + hashlib.sha256(orjson.dumps(body.get("contents"))).hexdigest()[:20]


def generate_body(knobs: Knobs, body: dict[str, Any], *, model: str, vertex: bool) -> dict[str, Any]:
    """A non-streamed ``GenerateContentResponse``."""
    content, tokens, function = _reply(knobs, body)
    parts: list[dict[str, Any]] = []
    if tokens.reasoning:
        parts.append({"text": "Thinking it over.", "thought": True})
    parts.append({"text": content})
    if function:
        parts.append({"functionCall": {"name": function, "args": {"query": content[:20]}}})
    candidate = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}
    return {
        "candidates": [candidate],
        "usageMetadata": usage_metadata(tokens, vertex=vertex),
        "modelVersion": model,
        "responseId": _response_id(body),
    }


def stream_events(knobs: Knobs, body: dict[str, Any], *, model: str, vertex: bool) -> list[bytes]:
    """The ``alt=sse`` events: one chunk per word, cumulative usage, ``finishReason`` on the last."""
    content, tokens, function = _reply(knobs, body)
    pieces = split_words(content) or [""]
    chunks: list[dict[str, Any]] = []
    seen = 0
    for number, piece in enumerate(pieces, start=1):
        last = number == len(pieces)
        seen += count_text_tokens(piece)
        parts: list[dict[str, Any]] = [{"text": piece}]
        if number == 1 and tokens.reasoning:
            parts.insert(0, {"text": "Thinking it over.", "thought": True})
        if last and function:
            parts.append({"functionCall": {"name": function, "args": {"query": content[:20]}}})
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        visible = tokens.completion - tokens.reasoning
        meta = usage_metadata(tokens, vertex=vertex, candidates=visible if last else min(seen, visible))
        chunks.append(
            {
                "candidates": [candidate],
                "usageMetadata": meta,
                "modelVersion": model,
                "responseId": _response_id(body),
            }
        )
    return [b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks]


STREAM_ERROR = (
    b"data: "
    + orjson.dumps(
        {"error": {"code": 503, "message": "The model is overloaded (simulated).", "status": "UNAVAILABLE"}}
    )
    + b"\r\n\r\n"
)


def _studio_auth(request: web.Request) -> bool:
    return bool(request.headers.get("x-goog-api-key") or request.query.get("key"))


def _vertex_auth(request: web.Request) -> bool:
    auth = request.headers.get("Authorization", "")
    return auth.startswith("Bearer ") and bool(auth[7:].strip())


async def _generate(request: web.Request, state: SimState, *, vertex: bool) -> web.StreamResponse:
    model, _, method = request.match_info["tail"].partition(":")
    if method not in ("generateContent", "streamGenerateContent", "countTokens", "rawPredict"):
        return gemini_error(404, f"unknown method {method!r}")
    auth = _vertex_auth if vertex else _studio_auth
    prepared = await prepare_native(request, state, model=model, authorized=auth, error=gemini_error)
    if isinstance(prepared, web.StreamResponse):
        return prepared
    knobs, body = prepared
    if method in ("countTokens", "rawPredict"):
        counter = vertex_claude_count if method == "rawPredict" else gemini_count
        status, counted = counter(knobs, body)
        return web.Response(status=status, body=orjson.dumps(counted), content_type="application/json")
    if method == "streamGenerateContent":
        if request.query.get("alt") != "sse":
            return gemini_error(400, "the simulator streams only with alt=sse")
        events = stream_events(knobs, body, model=model, vertex=vertex)
        return await write_events(
            request, state, knobs, events, content_type="text/event-stream", error_event=STREAM_ERROR
        )
    payload = generate_body(knobs, body, model=model, vertex=vertex)
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def routes(state: SimState) -> list[web.RouteDef]:
    """Gemini API and Vertex AI routes bound to ``state``."""

    async def studio(request: web.Request) -> web.StreamResponse:
        return await _generate(request, state, vertex=False)

    async def vertex(request: web.Request) -> web.StreamResponse:
        return await _generate(request, state, vertex=True)

    vertex_path = "/{version}/projects/{project}/locations/{location}/publishers/google/models/{tail}"
    claude_path = "/{version}/projects/{project}/locations/{location}/publishers/anthropic/models/{tail}"
    return [
        web.post(claude_path, vertex),
        web.post("/v1beta/models/{tail}", studio),
        web.post("/v1/models/{tail}", studio),
        web.post(vertex_path, vertex),
    ]
