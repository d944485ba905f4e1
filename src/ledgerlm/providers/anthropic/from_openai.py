"""The reverse direction, for the proxy's ``/v1/messages`` on non-Anthropic deployments. Pure.

* ``openai_request(body)``: an Anthropic Messages request -> an OpenAI chat-completions body;
* ``anthropic_message(completion, usage, model)``: an OpenAI ``chat.completion`` -> an Anthropic message;
* ``AnthropicEventEncoder``: OpenAI ``chat.completion.chunk`` dicts -> Anthropic stream events
  (``message_start``, ``content_block_start/delta/stop``, ``message_delta``, ``message_stop``);
* ``anthropic_usage(usage)``: canonical ``Usage`` -> Anthropic ``usage`` (``input_tokens`` EXCLUDES
  cache reads and writes there).

Shapes follow the Anthropic Messages API reference and the OpenAI chat-completions reference.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from ledgerlm.types import Usage

__all__ = ["AnthropicEventEncoder", "anthropic_message", "anthropic_usage", "openai_request", "stop_reason"]

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
_EFFORT_BY_BUDGET = ((1024, "low"), (8192, "medium"))


def stop_reason(finish: Any) -> str | None:
    """OpenAI ``finish_reason`` -> Anthropic ``stop_reason``."""
    return None if finish is None else _STOP_REASONS.get(str(finish), "end_turn")


def openai_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI chat-completions body for an Anthropic Messages ``body``."""
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": system if isinstance(system, str) else _parts(system)})
    for message in body.get("messages") or []:
        messages.extend(_messages(message))
    out: dict[str, Any] = {"messages": messages, "max_tokens": body.get("max_tokens")}
    for name in ("temperature", "top_p", "top_k"):
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    user = (body.get("metadata") or {}).get("user_id")
    if user:
        out["user"] = str(user)
    _tools(out, body)
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = int(thinking.get("budget_tokens") or 0)
        out["reasoning_effort"] = next((e for limit, e in _EFFORT_BY_BUDGET if budget <= limit), "high")
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def _tools(out: dict[str, Any], body: Mapping[str, Any]) -> None:
    tools = [t for t in body.get("tools") or [] if "input_schema" in t]
    if not tools:
        return
    out["tools"] = [
        {
            "type": "function",
            "function": {
                "name": t["name"],
                "description": t.get("description", ""),
                "parameters": t["input_schema"],
            },
        }
        for t in tools
    ]
    choice = body.get("tool_choice") or {}
    kind = choice.get("type")
    if kind == "any":
        out["tool_choice"] = "required"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in ("auto", "none"):
        out["tool_choice"] = kind
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


def _parts(blocks: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("type") == "text":
            part: dict[str, Any] = {"type": "text", "text": block.get("text", "")}
            if "cache_control" in block:
                part["cache_control"] = block["cache_control"]
            parts.append(part)
        elif block.get("type") == "image":
            source = block.get("source") or {}
            if source.get("type") == "base64":
                url = f"data:{source.get('media_type')};base64,{source.get('data')}"
            else:
                url = str(source.get("url", ""))
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def _messages(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    role = message.get("role")
    content = message.get("content")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    blocks = list(content or [])
    if role == "assistant":
        return [_assistant(blocks)]
    out: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("type") == "tool_result":
            result = block.get("content")
            text = (
                result
                if isinstance(result, str)
                else "".join(b.get("text", "") for b in result or [] if b.get("type") == "text")
            )
            out.append({"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text})
    parts = _parts(blocks)
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _assistant(blocks: list[Mapping[str, Any]]) -> dict[str, Any]:
    text = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    out: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = [
        {
            "id": b.get("id"),
            "type": "function",
            "function": {"name": b.get("name"), "arguments": json.dumps(b.get("input") or {})},
        }
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    if calls:
        out["tool_calls"] = calls
    thinking = [dict(b) for b in blocks if b.get("type") in ("thinking", "redacted_thinking")]
    if thinking:
        out["thinking_blocks"] = thinking
    return out


def anthropic_usage(usage: Usage | None) -> dict[str, Any]:
    """Canonical usage -> Anthropic ``usage`` (``input_tokens`` without cache reads / writes)."""
    if usage is None:
        return {"input_tokens": 0, "output_tokens": 0}
    out: dict[str, Any] = {
        "input_tokens": usage.uncached_input_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.cache_write_1h_tokens:
        out["cache_creation"] = {
            "ephemeral_5m_input_tokens": usage.cache_write_tokens - usage.cache_write_1h_tokens,
            "ephemeral_1h_input_tokens": usage.cache_write_1h_tokens,
        }
    return out


def anthropic_message(completion: Mapping[str, Any], usage: Usage | None, model: str) -> dict[str, Any]:
    """An Anthropic Messages response for an OpenAI ``chat.completion`` (first choice)."""
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if message.get("reasoning_content"):
        content.append({"type": "thinking", "thinking": message["reasoning_content"], "signature": ""})
    if message.get("content"):
        content.append({"type": "text", "text": message["content"]})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError:
            arguments = {"_raw": fn.get("arguments")}
        content.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": arguments})
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason")) or "end_turn",
        "stop_sequence": None,
        "usage": anthropic_usage(usage),
    }


class AnthropicEventEncoder:
    """OpenAI chunks -> Anthropic stream events (dicts with ``type``); one content block at a time."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self._index = -1
        self._open: str | None = None
        self._tools: dict[int, int] = {}
        self._stop: str | None = None

    def feed(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The events for one OpenAI chunk (usage-only chunks give none)."""
        events = self._start()
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._block("thinking", {"type": "thinking", "thinking": ""})
                events.append(self._delta({"type": "thinking_delta", "thinking": delta["reasoning_content"]}))
            if delta.get("content"):
                events += self._block("text", {"type": "text", "text": ""})
                events.append(self._delta({"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or []:
                events += self._tool_call(call)
            if choice.get("finish_reason"):
                self._stop = stop_reason(choice["finish_reason"])
        return events

    def finish(self, usage: Usage | None) -> list[dict[str, Any]]:
        """Closing events: the open block's stop, ``message_delta`` (stop reason, usage), ``message_stop``."""
        events = self._start() + self._close()
        delta = {"stop_reason": self._stop or "end_turn", "stop_sequence": None}
        events.append({"type": "message_delta", "delta": delta, "usage": anthropic_usage(usage)})
        events.append({"type": "message_stop"})
        return events

    def _start(self) -> list[dict[str, Any]]:
        if self.started:
            return []
        self.started = True
        message: dict[str, Any] = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}]

    def _close(self) -> list[dict[str, Any]]:
        if self._open is None:
            return []
        self._open = None
        return [{"type": "content_block_stop", "index": self._index}]

    def _block(self, kind: str, block: dict[str, Any]) -> list[dict[str, Any]]:
        if self._open == kind:
            return []
        events = self._close()
        self._index += 1
        self._open = kind
        events.append({"type": "content_block_start", "index": self._index, "content_block": block})
        return events

    def _delta(self, delta: dict[str, Any]) -> dict[str, Any]:
        return {"type": "content_block_delta", "index": self._index, "delta": delta}

    def _tool_call(self, call: Mapping[str, Any]) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        fn = call.get("function") or {}
        position = int(call.get("index", 0))
        if call.get("id") or position not in self._tools:
            events += self._close()
            self._index += 1
            self._open = f"tool:{position}"
            self._tools[position] = self._index
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id"),
                "name": fn.get("name"),
                "input": {},
            }
            events.append({"type": "content_block_start", "index": self._index, "content_block": block})
        if fn.get("arguments"):
            delta = {"type": "input_json_delta", "partial_json": fn["arguments"]}
            events.append({"type": "content_block_delta", "index": self._tools[position], "delta": delta})
        return events
