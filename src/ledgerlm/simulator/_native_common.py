"""Request steps and token counts shared by the Anthropic, Gemini and Bedrock simulator formats.

Each format has its own auth header and error body, so ``prepare_native`` takes both as callables;
knobs are the same as for OpenAI (``ledgerlm.simulator.knobs``; ``x-sim`` header, per-model knobs).
Cache writes use the knobs ``cache_write_tokens`` / ``cache_write_1h_tokens`` (tokens; the 1-hour part
is inside the total) when the knob set has them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator.knobs import Knobs, count_prompt_tokens, count_text_tokens, merge_knobs
from ledgerlm.simulator.state import SimState, abort_connection

__all__ = ["ErrorFactory", "Tokens", "prepare_native", "tokens_for", "write_events"]

ErrorFactory = Callable[[int, str, "float | None"], web.Response]
"""Builds a format's error response from (status, message, retry_after seconds)."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """Canonical counts of one simulated reply (tokens): ``prompt`` includes cache reads and writes,
    ``completion`` includes ``reasoning``."""

    prompt: int
    completion: int
    cache_read: int
    cache_write: int
    cache_write_1h: int
    reasoning: int

    @property
    def uncached_prompt(self) -> int:
        """Prompt tokens neither read from nor written to the cache."""
        return max(0, self.prompt - self.cache_read - self.cache_write)


def tokens_for(knobs: Knobs, messages: Any, system_text: str, content: str) -> Tokens:
    """Deterministic counts from the knobs and the texts (~4 characters per token)."""
    prompt = knobs.prompt_tokens
    if prompt is None:
        prompt = count_prompt_tokens(messages) + count_text_tokens(system_text)
    write = knobs.cache_write_tokens
    write_1h = min(write, knobs.cache_write_1h_tokens)
    prompt = max(prompt, knobs.cached_tokens + write)
    completion = knobs.completion_tokens
    if completion is None:
        completion = count_text_tokens(content) + knobs.reasoning_tokens
    return Tokens(
        prompt, completion, knobs.cached_tokens, write, write_1h, min(knobs.reasoning_tokens, completion)
    )


def _header_knobs(headers: Mapping[str, str]) -> dict[str, Any] | None:
    raw = headers.get("x-sim")
    if not raw:
        return None
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("x-sim must be a JSON object")
    return value


async def prepare_native(
    request: web.Request,
    state: SimState,
    *,
    model: str,
    authorized: Callable[[web.Request], bool],
    error: ErrorFactory,
) -> tuple[Knobs, dict[str, Any]] | web.Response:
    """Parse and log the JSON body, merge knobs, check auth, wait ``latency_ms``, inject errors.

    Returns ``(knobs, body)`` or the response to send (the format's own error body; ``error_body``
    knob verbatim when set).
    """
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        state.log(request, None)
        return error(400, "The request body is not valid JSON.", None)
    state.log(request, body)
    if not isinstance(body, dict):
        return error(400, "The request body must be a JSON object.", None)
    try:
        knobs = merge_knobs(state.models.get(model), _header_knobs(request.headers))
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        return error(400, f"bad x-sim header: {exc}", None)
    if knobs.require_auth and not authorized(request):
        return error(401, "invalid or missing credentials (simulated)", None)
    if knobs.latency_ms:
        await asyncio.sleep(knobs.latency_ms / 1000.0)
    if knobs.raw_body is not None:
        return web.Response(status=200, text=knobs.raw_body, content_type="application/json")
    if state.should_fail(knobs):
        status = knobs.error_status or 500
        if knobs.error_body is not None:
            raw = knobs.error_body if isinstance(knobs.error_body, str) else orjson.dumps(knobs.error_body)
            headers = {} if knobs.retry_after is None else {"Retry-After": f"{knobs.retry_after:g}"}
            return web.Response(status=status, body=raw, content_type="application/json", headers=headers)
        return error(status, f"simulated error {status}", knobs.retry_after)
    return knobs, body


async def write_events(
    request: web.Request,
    state: SimState,
    knobs: Knobs,
    events: list[bytes],
    *,
    content_type: str,
    error_event: bytes,
) -> web.StreamResponse:
    """Send ``events`` (already framed) honouring ``chunk_interval_ms`` and the stream faults:
    ``break_after_chunks`` (abort the connection), ``stall_after_chunks`` (keep it open, send nothing),
    ``stream_error_after_chunks`` (send ``error_event`` and end)."""
    response = web.StreamResponse(
        status=200, headers={"Content-Type": content_type, "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    faults = (knobs.break_after_chunks, knobs.stall_after_chunks, knobs.stream_error_after_chunks)
    limit = next((n for n in faults if n is not None), None)
    interval = knobs.chunk_interval_ms / 1000.0
    for index, event in enumerate(events):
        if limit is not None and index >= limit:
            if knobs.break_after_chunks is not None:
                await abort_connection(request)
                return response
            if knobs.stall_after_chunks is not None:
                await state.wait_until_closed(request)
                return response
            await response.write(error_event)
            break
        if interval and index:
            await asyncio.sleep(interval)
        await response.write(event)
    await response.write_eof()
    return response
