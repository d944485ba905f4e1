"""Bedrock Converse responses and binary event streams -> OpenAI completion and chunks.

Converse response (Bedrock Runtime API reference, ``Converse``): ``output.message.content`` blocks
(``text``, ``toolUse``, ``reasoningContent.reasoningText``), ``stopReason`` (``end_turn``,
``tool_use``, ``max_tokens``, ``stop_sequence``, ``guardrail_intervened``, ``content_filtered``),
``usage``, ``metrics``.

Streams are ``application/vnd.amazon.eventstream`` frames, decoded with botocore's
``EventStreamBuffer`` (prelude + headers + payload, CRC32-checked). Headers ``:message-type``
(``event`` / ``exception`` / ``error``), ``:event-type`` and ``:exception-type``. ConverseStream events:
``messageStart``, ``contentBlockStart`` (``start.toolUse``), ``contentBlockDelta`` (``delta.text``,
``delta.toolUse.input``, ``delta.reasoningContent.text``), ``contentBlockStop``, ``messageStop``
(``stopReason``), ``metadata`` (``usage``, ``metrics``). InvokeModelWithResponseStream sends ``chunk``
events whose ``bytes`` (base64) hold the model's own event JSON: Anthropic stream events for Claude,
Converse-style single-key events for Nova.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from ledgerlm.types import Usage
from ledgerlm.usage.bedrock import BedrockStreamUsage, usage_from_bedrock

__all__ = [
    "FINISH_REASONS",
    "ConverseEventTranslator",
    "finish_reason",
    "openai_completion",
]

FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: Any) -> str | None:
    """OpenAI finish reason for a Bedrock ``stopReason`` (unknown ones: ``stop``)."""
    return None if stop_reason is None else FINISH_REASONS.get(str(stop_reason), "stop")


def openai_completion(body: Mapping[str, Any], *, model: str) -> dict[str, Any]:
    """An OpenAI ``chat.completion`` dict from a Converse response body."""
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in ((body.get("output") or {}).get("message") or {}).get("content") or []:
        if "text" in block:
            texts.append(str(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            fn = {"name": use.get("name"), "arguments": json.dumps(use.get("input") or {})}
            calls.append({"id": use.get("toolUseId"), "type": "function", "function": fn})
        elif "reasoningContent" in block:
            reasoning.append(str((block["reasoningContent"].get("reasoningText") or {}).get("text", "")))
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        message["tool_calls"] = calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    usage = usage_from_bedrock(body.get("usage") or {})
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(body.get("stopReason"))}],
        "usage": usage.to_openai(),
    }


class ConverseEventTranslator:
    """ConverseStream (and Nova invoke-stream) events ``(event type, payload)`` -> OpenAI chunks."""

    def __init__(self, *, model: str, caller_wants_usage: bool) -> None:
        self.model = model
        self.caller_wants_usage = caller_wants_usage
        self.response_id = f"chatcmpl-{uuid.uuid4().hex}"
        self.finish_reasons: list[str] = []
        self.created = int(time.time())
        self._usage = BedrockStreamUsage()
        self._tools: dict[int, int] = {}

    @property
    def usage(self) -> Usage | None:
        """Canonical usage from the ``metadata`` event, or ``None`` before it."""
        return self._usage.usage()

    def translate(self, kind: str, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The chunks for one event."""
        self._usage.feed({kind: payload})
        if kind == "messageStart":
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if not use:
                return []
            position = self._tools.setdefault(int(payload.get("contentBlockIndex", 0)), len(self._tools))
            fn = {"name": use.get("name"), "arguments": ""}
            call = {"index": position, "id": use.get("toolUseId"), "type": "function", "function": fn}
            return [self._chunk({"tool_calls": [call]})]
        if kind == "contentBlockDelta":
            return self._delta(payload)
        if kind == "messageStop":
            reason = finish_reason(payload.get("stopReason")) or "stop"
            self.finish_reasons.append(reason)
            return [self._chunk({}, finish=reason)]
        if kind == "metadata" and self.caller_wants_usage and self.usage is not None:
            chunk = self._chunk({})
            chunk["choices"] = []
            chunk["usage"] = self.usage.to_openai()
            return [chunk]
        return []

    def _delta(self, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
        delta = payload.get("delta") or {}
        if "text" in delta:
            return [self._chunk({"content": delta["text"]})]
        if "reasoningContent" in delta and "text" in delta["reasoningContent"]:
            return [self._chunk({"reasoning_content": delta["reasoningContent"]["text"]})]
        if "toolUse" in delta:
            position = self._tools.get(int(payload.get("contentBlockIndex", 0)))
            arguments = (delta["toolUse"] or {}).get("input") or ""
            if position is None or not arguments:
                return []
            return [self._chunk({"tool_calls": [{"index": position, "function": {"arguments": arguments}}]})]
        return []

    def _chunk(self, delta: dict[str, Any], *, finish: str | None = None) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
