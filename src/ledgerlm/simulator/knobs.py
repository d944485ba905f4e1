"""Simulator knobs: what a simulated call does, merged ``DEFAULTS < models[model] < x-sim header``.

The ``x-sim`` request header holds a JSON object of knobs, e.g.
``x-sim: {"completion_tokens": 50, "cached_tokens": 10, "error_status": 429, "retry_after": 0}``.
An unknown knob name is an error (HTTP 400 from the simulator) so a typo never passes silently.

Token defaults are deterministic functions of the request (``count_prompt_tokens``): ~4 characters per
token (rounded up) + 3 per message; the reply's tokens from its text the same way.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["KNOB_NAMES", "Knobs", "count_prompt_tokens", "count_text_tokens", "merge_knobs"]


@dataclass(slots=True)
class Knobs:
    """Behaviour of one simulated call. Times in milliseconds, counts in tokens.

    * ``latency_ms``: wait before the first byte; ``chunk_interval_ms``: wait between stream chunks.
    * ``prompt_tokens`` / ``completion_tokens``: reported totals (default: from the texts; completion
      includes ``reasoning_tokens`` and ``audio_completion_tokens``, prompt includes
      ``audio_prompt_tokens``); ``cached_tokens``, ``reasoning_tokens``, ``audio_*``: reported details.
    * ``cache_write_tokens`` / ``cache_write_1h_tokens``: prompt-cache writes (the 1-hour part inside
      the total), reported by the Anthropic, Gemini and Bedrock formats.
    * ``content``: the reply text (default: deterministic from the request).
    * ``error_status`` (+ ``error_body``, ``retry_after`` seconds): answer with that error; with
      ``fail_times`` only the first N requests of ``fail_key`` fail, then the calls succeed.
    * ``break_after_chunks``: close the connection abruptly after N stream chunks;
      ``stall_after_chunks``: stop sending after N chunks but keep the connection open;
      ``stream_error_after_chunks``: send an ``event: error`` after N chunks inside the 200 stream.
    * ``provider_cost``: add ``usage.cost`` (USD, like OpenRouter).
    * ``require_auth``: answer 401 when no key was sent; ``embedding_dim``: default vector size.
    * ``raw_body``: answer 200 with exactly this text as the body (e.g. not JSON), for parser tests.
    * ``web_search_calls`` / ``file_search_calls``: Responses API output items of those built-in tool
      calls (billed per call, not in ``usage``); ``audio_seconds``: transcription duration (default:
      the upload size at 32,000 bytes per second).
    """

    latency_ms: float = 0.0
    chunk_interval_ms: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    audio_prompt_tokens: int = 0
    audio_completion_tokens: int = 0
    content: str | None = None
    error_status: int | None = None
    error_body: Any = None
    retry_after: float | None = None
    fail_times: int | None = None
    fail_key: str = "default"
    break_after_chunks: int | None = None
    stall_after_chunks: int | None = None
    stream_error_after_chunks: int | None = None
    provider_cost: float | str | None = None
    require_auth: bool = True
    embedding_dim: int = 8
    raw_body: str | None = None
    web_search_calls: int = 0
    file_search_calls: int = 0
    audio_seconds: float | None = None


KNOB_NAMES: frozenset[str] = frozenset(f.name for f in dataclasses.fields(Knobs))


def merge_knobs(*layers: Mapping[str, Any] | None) -> Knobs:
    """Knobs from the defaults overridden by each layer in turn. Raises ``ValueError`` on unknown names."""
    values: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        unknown = set(layer) - KNOB_NAMES
        if unknown:
            raise ValueError(f"unknown simulator knob(s): {', '.join(sorted(unknown))}")
        values.update(layer)
    return Knobs(**values)


def count_text_tokens(text: str) -> int:
    """~4 characters per token, rounded up (0 for empty text)."""
    return math.ceil(len(text) / 4)


def _message_text(message: Any) -> str:
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (p.get("text") for p in content if isinstance(p, Mapping))
        return "".join(t for t in texts if isinstance(t, str))  # a non-string text counts nothing
    return ""


def count_prompt_tokens(messages: Any) -> int:
    """Deterministic prompt size of a messages list: text tokens + 3 per message."""
    if not isinstance(messages, list):
        return 0
    return sum(count_text_tokens(_message_text(m)) + 3 for m in messages)


def last_user_text(messages: Any) -> str:
    """The text of the last user message ('' when none)."""
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return _message_text(message)
    return ""
