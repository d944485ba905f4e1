"""OpenAI (and Azure OpenAI) formats for the simulator: payload builders and route handlers.

Payloads follow the OpenAI API reference: ``chat.completion``, ``chat.completion.chunk`` SSE events
(``data: {...}``, a last ``choices: []`` chunk with ``usage`` when ``stream_options.include_usage``,
then ``data: [DONE]``), embeddings ``list`` objects and the error body ``{"error": {...}}``. The Azure
flavour adds the content-filter fields of the Azure OpenAI reference (``prompt_filter_results``,
``choices[].content_filter_results``) and checks ``api-version`` and the ``api-key`` header.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import struct
import time
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator.billing import bearer, openai_counts
from ledgerlm.simulator.knobs import Knobs, count_prompt_tokens, count_text_tokens, last_user_text
from ledgerlm.simulator.state import SimState, abort_connection, error_response, split_words

__all__ = ["chat_completion", "embeddings_body", "routes", "stream_events", "usage_body"]

_FILTER_OK = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}
_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def reply_text(knobs: Knobs, body: dict[str, Any]) -> str:
    """The reply content: the ``content`` knob, else deterministic from the request."""
    if knobs.content is not None:
        return knobs.content
    said = last_user_text(body.get("messages"))[:60]
    return (
        f"Hello from the ledgerlm simulator. You said: {said}"
        if said
        else "Hello from the ledgerlm simulator."
    )


def usage_body(knobs: Knobs, body: dict[str, Any], content: str) -> dict[str, Any]:
    """The OpenAI ``usage`` object (prompt INCLUDES cached and audio; completion INCLUDES reasoning)."""
    prompt = knobs.prompt_tokens
    if prompt is None:
        prompt = count_prompt_tokens(body.get("messages")) + knobs.audio_prompt_tokens
    completion = knobs.completion_tokens
    if completion is None:
        completion = count_text_tokens(content) + knobs.reasoning_tokens + knobs.audio_completion_tokens
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": knobs.cached_tokens,
            "audio_tokens": knobs.audio_prompt_tokens,
        },
        "completion_tokens_details": {
            "reasoning_tokens": knobs.reasoning_tokens,
            "audio_tokens": knobs.audio_completion_tokens,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
    if knobs.provider_cost is not None:
        usage["cost"] = knobs.provider_cost
    return usage


def _completion_id(body: dict[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(body.get("messages"))).hexdigest()[:24]
    return f"chatcmpl-sim{digest}"


def chat_completion(knobs: Knobs, body: dict[str, Any], *, azure: bool = False) -> dict[str, Any]:
    """A non-streamed ``chat.completion`` for ``body``."""
    content = reply_text(knobs, body)
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": content, "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }
    out: dict[str, Any] = {
        "id": _completion_id(body),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "sim-model"),
        "choices": [choice],
        "usage": usage_body(knobs, body, content),
        "system_fingerprint": "fp_ledgerlm_sim",
    }
    if azure:
        choice["content_filter_results"] = _FILTER_OK
        out["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": _FILTER_OK}]
    return out


def stream_events(knobs: Knobs, body: dict[str, Any], *, azure: bool = False) -> list[bytes]:
    """The SSE events of a streamed reply, each ``data: ...\\n\\n`` (the last one ``[DONE]``)."""
    content = reply_text(knobs, body)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {
        "id": _completion_id(body),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "sim-model"),
        "system_fingerprint": "fp_ledgerlm_sim",
    }
    if include_usage:
        base["usage"] = None
    chunks: list[dict[str, Any]] = []
    if azure:
        chunks.append(
            {
                **base,
                "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTER_OK}],
            }
        )
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in split_words(content)]
    for delta in deltas:
        chunks.append(
            {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": None}]}
        )
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]})
    if include_usage:
        chunks.append({**base, "choices": [], "usage": usage_body(knobs, body, content)})
    events = [b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks]
    events.append(b"data: [DONE]\n\n")
    return events


MAX_EMBEDDING_DIMENSIONS = 65_536  # far above any real model's (3,072); bounds the vector the sim builds


def _vector(text: str, dim: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    values = [(digest[i % len(digest)] - 127.5) / 127.5 for i in range(dim)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]


def embeddings_body(knobs: Knobs, body: dict[str, Any]) -> dict[str, Any]:
    """An embeddings ``list``: one deterministic unit vector per input (``dimensions`` honoured)."""
    raw_input = body.get("input")
    inputs = raw_input if isinstance(raw_input, list) else [raw_input]
    texts = [i if isinstance(i, str) else orjson.dumps(i).decode() for i in inputs]
    dim = int(body.get("dimensions") or knobs.embedding_dim)
    data: list[dict[str, Any]] = []
    for index, text in enumerate(texts):
        vector: Any = _vector(text, dim)
        if body.get("encoding_format") == "base64":
            vector = base64.b64encode(struct.pack(f"<{dim}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    prompt = (
        knobs.prompt_tokens if knobs.prompt_tokens is not None else sum(count_text_tokens(t) for t in texts)
    )
    return {
        "object": "list",
        "data": data,
        "model": body.get("model", "sim-embedding"),
        "usage": {"prompt_tokens": prompt, "total_tokens": prompt},
    }


async def _write_stream(
    request: web.Request, state: SimState, knobs: Knobs, events: list[bytes]
) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers=_SSE_HEADERS)
    await response.prepare(request)
    limit = next(
        (
            n
            for n in (knobs.break_after_chunks, knobs.stall_after_chunks, knobs.stream_error_after_chunks)
            if n is not None
        ),
        None,
    )
    if limit is None and not knobs.chunk_interval_ms:
        await response.write(b"".join(events))
        await response.write_eof()
        return response
    interval = knobs.chunk_interval_ms / 1000.0
    for index, event in enumerate(events):
        if limit is not None and index >= limit:
            return await _stream_fault(request, state, knobs, response)
        if interval and index:
            await asyncio.sleep(interval)
        await response.write(event)
    await response.write_eof()
    return response


async def _stream_fault(
    request: web.Request, state: SimState, knobs: Knobs, response: web.StreamResponse
) -> web.StreamResponse:
    if knobs.break_after_chunks is not None:
        await abort_connection(request)
        return response
    if knobs.stall_after_chunks is not None:
        await state.wait_until_closed(request)
        return response
    error = {"error": {"message": "simulated error inside the stream", "type": "server_error", "code": None}}
    await response.write(b"event: error\ndata: " + orjson.dumps(error) + b"\n\n")
    await response.write_eof()
    return response


async def _chat(request: web.Request, state: SimState, *, azure: bool) -> web.StreamResponse:
    prepared = await state.prepare(request, azure=azure)
    if isinstance(prepared, web.StreamResponse):
        return prepared
    knobs, body = prepared
    if not azure:  # the admin reports bill what was answered (simulator.billing)
        usage = usage_body(knobs, body, reply_text(knobs, body))
        model = str(body.get("model", "sim-model"))
        state.billing.record("openai", bearer(request.headers), model, openai_counts(usage), "completions")
    if body.get("stream"):
        return await _write_stream(request, state, knobs, stream_events(knobs, body, azure=azure))
    return web.Response(
        body=orjson.dumps(chat_completion(knobs, body, azure=azure)), content_type="application/json"
    )


async def _embeddings(request: web.Request, state: SimState, *, azure: bool) -> web.StreamResponse:
    prepared = await state.prepare(request, azure=azure)
    if isinstance(prepared, web.StreamResponse):
        return prepared
    knobs, body = prepared
    if not body.get("input"):
        return error_response(400, "'input' is required and must not be empty")
    dimensions = body.get("dimensions")
    if dimensions is not None and not (
        type(dimensions) is int and 1 <= dimensions <= MAX_EMBEDDING_DIMENSIONS
    ):
        return error_response(400, f"'dimensions' must be an integer from 1 to {MAX_EMBEDDING_DIMENSIONS}")
    answer = embeddings_body(knobs, body)
    if not azure:
        tokens = {"input": int(answer["usage"]["prompt_tokens"])}
        state.billing.record("openai", bearer(request.headers), answer["model"], tokens, "embeddings")
    return web.Response(body=orjson.dumps(answer), content_type="application/json")


def routes(state: SimState) -> list[web.RouteDef]:
    """The OpenAI and Azure OpenAI routes bound to ``state``."""

    async def chat(request: web.Request) -> web.StreamResponse:
        return await _chat(request, state, azure=False)

    async def azure_chat(request: web.Request) -> web.StreamResponse:
        return await _chat(request, state, azure=True)

    async def embeddings(request: web.Request) -> web.StreamResponse:
        return await _embeddings(request, state, azure=False)

    async def azure_embeddings(request: web.Request) -> web.StreamResponse:
        return await _embeddings(request, state, azure=True)

    async def models(request: web.Request) -> web.Response:
        names = sorted(set(state.models) | {"sim-model", "sim-embedding"})
        data = [{"id": n, "object": "model", "created": 0, "owned_by": "ledgerlm-simulator"} for n in names]
        return web.Response(
            body=orjson.dumps({"object": "list", "data": data}), content_type="application/json"
        )

    return [
        web.post("/v1/chat/completions", chat),
        web.post("/v1/embeddings", embeddings),
        web.post("/openai/deployments/{deployment}/chat/completions", azure_chat),
        web.post("/openai/deployments/{deployment}/embeddings", azure_embeddings),
        web.get("/v1/models", models),
    ]
