"""Anthropic Messages response and stream events -> OpenAI chat completion and chunks. Pure.

Field names are from the Anthropic Messages API reference and its streaming guide
(https://docs.anthropic.com/en/docs/build-with-claude/streaming): a response has ``id``, ``model``,
``content`` blocks (``text``, ``tool_use``, ``thinking``, ``redacted_thinking``, ``server_tool_use``,
``web_search_tool_result``), ``stop_reason`` and ``usage``; a stream is ``message_start``, then per block
``content_block_start`` / ``content_block_delta`` (``text_delta``, ``input_json_delta``,
``thinking_delta``, ``signature_delta``) / ``content_block_stop``, then ``message_delta`` (stop reason,
CUMULATIVE usage) and ``message_stop``; ``ping`` may appear anywhere and ``error`` ends the stream.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from ledgerlm.errors import APIError
from ledgerlm.types import Usage
from ledgerlm.usage.anthropic import AnthropicStreamUsage, usage_from_anthropic

__all__ = ["FINISH_REASONS", "AnthropicEventTranslator", "finish_reason", "openai_completion"]

FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
"""Anthropic ``stop_reason`` -> OpenAI ``finish_reason``."""


def finish_reason(stop_reason: Any) -> str | None:
    """The OpenAI finish reason for an Anthropic ``stop_reason`` (unknown ones: ``"stop"``)."""
    if stop_reason is None:
        return None
    return FINISH_REASONS.get(str(stop_reason), "stop")


def openai_completion(body: Mapping[str, Any], *, provider: str = "anthropic") -> dict[str, Any]:
    """An OpenAI ``chat.completion`` dict from an Anthropic Messages response body.

    Text blocks are joined into ``message.content``; ``tool_use`` blocks become ``tool_calls``;
    thinking text goes to ``message.reasoning_content`` and the raw thinking blocks (with signatures)
    to ``message.thinking_blocks`` so they can be sent back. ``usage`` is in OpenAI form.
    """
    texts: list[str] = []
    thinking: list[str] = []
    thinking_blocks: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    for block in body.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            tool_calls.append(_tool_call(block))
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(block.get("thinking", ""))
            thinking_blocks.append(dict(block))
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking_blocks:
        message["reasoning_content"] = "".join(thinking)
        message["thinking_blocks"] = thinking_blocks
    usage = usage_from_anthropic(body.get("usage") or {}, provider=provider)
    return {
        "id": body.get("id"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model"),
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason(body.get("stop_reason"))}
        ],
        "usage": usage.to_openai(),
    }


def _tool_call(block: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {"name": block.get("name"), "arguments": json.dumps(block.get("input") or {})},
    }


ErrorFactory = Callable[[Mapping[str, Any]], APIError]
"""Builds the mapped ``APIError`` for an ``error`` event's body."""


class AnthropicEventTranslator:
    """Turns parsed Anthropic stream events (dicts) into OpenAI ``chat.completion.chunk`` dicts.

    Shared by the Anthropic SSE decoder and Bedrock InvokeModelWithResponseStream. ``usage`` is the
    canonical usage so far (message_start + cumulative message_delta); ``finish_reasons`` fills from
    ``message_delta``. With ``caller_wants_usage`` the usage chunk (``choices: []``) is emitted at
    ``message_stop``. An ``error`` event raises what ``on_error`` builds.
    """

    def __init__(self, *, caller_wants_usage: bool, on_error: ErrorFactory, provider: str = "anthropic"):
        self.caller_wants_usage = caller_wants_usage
        self.on_error = on_error
        self.provider = provider
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.finish_reasons: list[str] = []
        self.created = int(time.time())
        self._usage = AnthropicStreamUsage()
        self._tool_index: dict[int, int] = {}

    @property
    def usage(self) -> Usage | None:
        """Canonical usage seen so far, or ``None`` before any usage-bearing event."""
        return self._usage.usage(provider=self.provider)

    def translate(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The chunks for one event (often none)."""
        kind = event.get("type")
        self._usage.feed(event)
        if kind == "message_start":
            message = event.get("message") or {}
            self.response_id = message.get("id")
            self.response_model = message.get("model")
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(event)
        if kind == "content_block_delta":
            return self._block_delta(event)
        if kind == "message_delta":
            reason = finish_reason((event.get("delta") or {}).get("stop_reason"))
            if reason is None:
                return []
            self.finish_reasons.append(reason)
            return [self._chunk({}, finish=reason)]
        if kind == "message_stop":
            return self._usage_chunk()
        if kind == "error":
            raise self.on_error(event)
        return []  # ping, content_block_stop, unknown future events

    def _block_start(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            position = len(self._tool_index)
            self._tool_index[int(event.get("index", 0))] = position
            call = {
                "index": position,
                "id": block.get("id"),
                "type": "function",
                "function": {"name": block.get("name"), "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        return []

    def _block_delta(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        delta = event.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return [self._chunk({"content": delta.get("text", "")})]
        if kind == "thinking_delta":
            return [self._chunk({"reasoning_content": delta.get("thinking", "")})]
        if kind == "input_json_delta":
            position = self._tool_index.get(int(event.get("index", 0)))
            if position is None or not delta.get("partial_json"):
                return []
            call = {"index": position, "function": {"arguments": delta["partial_json"]}}
            return [self._chunk({"tool_calls": [call]})]
        return []  # signature_delta, citations_delta

    def _usage_chunk(self) -> list[dict[str, Any]]:
        usage = self.usage
        if not self.caller_wants_usage or usage is None:
            return []
        chunk = self._chunk({})
        chunk["choices"] = []
        chunk["usage"] = usage.to_openai()
        return [chunk]

    def _chunk(self, delta: dict[str, Any], *, finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.response_model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
