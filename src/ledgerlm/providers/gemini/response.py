"""Gemini ``GenerateContentResponse`` (body or stream chunk) -> OpenAI completion and chunks. Pure.

Field names are from the Gemini API reference (https://ai.google.dev/api/generate-content#response-body):
``candidates[]`` (``content.parts`` with ``text`` (``thought: true`` for thought summaries),
``functionCall`` and ``thoughtSignature``; ``finishReason``; ``index``), ``promptFeedback.blockReason``,
``usageMetadata``, ``modelVersion``, ``responseId``. A stream (``streamGenerateContent?alt=sse``) is a
sequence of such responses, each with the CUMULATIVE ``usageMetadata`` so far.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from ledgerlm.errors import APIError
from ledgerlm.types import Usage
from ledgerlm.usage.gemini import GeminiStreamUsage, usage_from_gemini

__all__ = ["FINISH_REASONS", "GeminiChunkTranslator", "finish_reason", "openai_completion"]

FINISH_REASONS: dict[str, str] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}
"""Gemini ``finishReason`` -> OpenAI ``finish_reason`` (others: ``stop``)."""


def finish_reason(reason: Any, *, has_tool_calls: bool = False) -> str | None:
    """The OpenAI finish reason; ``STOP`` with function calls is ``tool_calls``."""
    if reason is None or reason == "FINISH_REASON_UNSPECIFIED":
        return None
    mapped = FINISH_REASONS.get(str(reason), "stop")
    return "tool_calls" if has_tool_calls and mapped == "stop" else mapped


def _split_parts(parts: list[Mapping[str, Any]]) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(texts, thought texts, tool calls) of one candidate's parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts:
        if "functionCall" in part:
            calls.append(_tool_call(part))
        elif part.get("thought"):
            thoughts.append(str(part.get("text", "")))
        elif "text" in part:
            texts.append(str(part["text"]))
    return texts, thoughts, calls


def _tool_call(part: Mapping[str, Any]) -> dict[str, Any]:
    call = part["functionCall"]
    out: dict[str, Any] = {
        "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": call.get("name"), "arguments": json.dumps(call.get("args") or {})},
    }
    if part.get("thoughtSignature"):
        out["provider_specific_fields"] = {"thought_signature": part["thoughtSignature"]}
    return out


def _choice(candidate: Mapping[str, Any], position: int) -> dict[str, Any]:
    texts, thoughts, calls = _split_parts((candidate.get("content") or {}).get("parts") or [])
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    reason = finish_reason(candidate.get("finishReason"), has_tool_calls=bool(calls)) or "stop"
    return {"index": int(candidate.get("index", position)), "message": message, "finish_reason": reason}


def openai_completion(body: Mapping[str, Any], *, model: str, provider: str = "gemini") -> dict[str, Any]:
    """An OpenAI ``chat.completion`` dict from a ``generateContent`` body (one choice per candidate).

    A prompt blocked before generation (no candidates, ``promptFeedback.blockReason``) gives one empty
    choice with ``finish_reason`` ``content_filter``.
    """
    candidates = body.get("candidates") or []
    choices = [_choice(c, i) for i, c in enumerate(candidates)]
    if not choices:
        message = {"role": "assistant", "content": None}
        choices = [{"index": 0, "message": message, "finish_reason": "content_filter"}]
    usage = usage_from_gemini(body.get("usageMetadata") or {}, provider=provider)
    return {
        "id": body.get("responseId") or f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("modelVersion") or model,
        "choices": choices,
        "usage": usage.to_openai(),
    }


ErrorFactory = Callable[[Mapping[str, Any]], APIError]


class GeminiChunkTranslator:
    """Turns parsed Gemini stream chunks (dicts) into OpenAI ``chat.completion.chunk`` dicts.

    ``usage`` is the last ``usageMetadata`` seen; ``finish()`` returns the usage chunk (``choices: []``)
    when ``caller_wants_usage``. A chunk ``{"error": {...}}`` raises what ``on_error`` builds.
    """

    def __init__(self, *, model: str, caller_wants_usage: bool, on_error: ErrorFactory, provider: str):
        self.model = model
        self.caller_wants_usage = caller_wants_usage
        self.on_error = on_error
        self.provider = provider
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.finish_reasons: list[str] = []
        self.created = int(time.time())
        self._usage = GeminiStreamUsage()
        self._tool_counts: dict[int, int] = {}
        self._started: set[int] = set()

    @property
    def usage(self) -> Usage | None:
        """Canonical usage so far, or ``None`` before any chunk with ``usageMetadata``."""
        return self._usage.usage(provider=self.provider)

    def translate(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The OpenAI chunks for one Gemini chunk."""
        if "error" in chunk:
            raise self.on_error(chunk)
        self._usage.feed(chunk)
        self.response_id = self.response_id or chunk.get("responseId")
        self.response_model = self.response_model or chunk.get("modelVersion")
        out: list[dict[str, Any]] = []
        for position, candidate in enumerate(chunk.get("candidates") or []):
            out.extend(self._candidate(candidate, int(candidate.get("index", position))))
        return out

    def _candidate(self, candidate: Mapping[str, Any], index: int) -> list[dict[str, Any]]:
        texts, thoughts, calls = _split_parts((candidate.get("content") or {}).get("parts") or [])
        out: list[dict[str, Any]] = []
        delta: dict[str, Any] = {}
        if index not in self._started:
            self._started.add(index)
            delta["role"] = "assistant"
        if thoughts:
            delta["reasoning_content"] = "".join(thoughts)
        if texts or delta.get("role"):
            delta["content"] = "".join(texts)
        if calls:
            first = self._tool_counts.get(index, 0)
            self._tool_counts[index] = first + len(calls)
            delta["tool_calls"] = [{"index": first + i, **call} for i, call in enumerate(calls)]
        if delta:
            out.append(self._chunk(index, delta, None))
        reason = finish_reason(candidate.get("finishReason"), has_tool_calls=index in self._tool_counts)
        if reason is not None:
            self.finish_reasons.append(reason)
            out.append(self._chunk(index, {}, reason))
        return out

    def finish(self) -> list[dict[str, Any]]:
        """At end of stream: the usage chunk when the caller asked for usage."""
        usage = self.usage
        if not self.caller_wants_usage or usage is None:
            return []
        chunk = self._chunk(0, {}, None)
        chunk["choices"] = []
        chunk["usage"] = usage.to_openai()
        return [chunk]

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.response_model or self.model,
            "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        }
