"""Assemble the OpenAI ``chat.completion`` of a stream from its ``chat.completion.chunk`` dicts.

Used for the success event of a stream (``response_obj`` / ``complete_streaming_response``), off the
response path. Chunk shape (OpenAI chat streaming reference, "The chat completion chunk object"):
``{"id", "object": "chat.completion.chunk", "created", "model", "system_fingerprint",
"choices": [{"index", "delta": {"role", "content", "refusal", "reasoning_content", "tool_calls":
[{"index", "id", "type", "function": {"name", "arguments"}}]}, "finish_reason", "logprobs"}],
"usage"}``. Content, refusal, reasoning and tool-call arguments are concatenated in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["assemble_chat_completion"]

_TEXT_FIELDS = ("content", "refusal", "reasoning_content")


def assemble_chat_completion(chunks: Iterable[Any]) -> dict[str, Any]:
    """The ``chat.completion`` dict the chunks add up to (``usage`` from the last chunk carrying it)."""
    out: dict[str, Any] = {"id": None, "object": "chat.completion", "created": None, "model": None}
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if not isinstance(chunk, Mapping):
            continue
        for key in ("id", "created", "model", "system_fingerprint"):
            if chunk.get(key) is not None and out.get(key) is None:
                out[key] = chunk[key]
        if chunk.get("usage"):
            out["usage"] = chunk["usage"]
        for choice in chunk.get("choices") or ():
            _merge_choice(choices, choice)
    out["choices"] = [_finish_choice(choices[i]) for i in sorted(choices)]
    return out


def _merge_choice(choices: dict[int, dict[str, Any]], choice: Mapping[str, Any]) -> None:
    index = int(choice.get("index") or 0)
    state = choices.setdefault(index, {"index": index, "message": {"role": "assistant"}, "parts": {}})
    if choice.get("finish_reason"):
        state["finish_reason"] = choice["finish_reason"]
    delta = choice.get("delta") or {}
    if delta.get("role"):
        state["message"]["role"] = delta["role"]
    for name in _TEXT_FIELDS:
        if delta.get(name):
            state["parts"].setdefault(name, []).append(delta[name])
    for call in delta.get("tool_calls") or ():
        _merge_tool_call(state.setdefault("tool_calls", {}), call)


def _merge_tool_call(calls: dict[int, dict[str, Any]], call: Mapping[str, Any]) -> None:
    index = int(call.get("index") or 0)
    state = calls.setdefault(index, {"id": None, "type": "function", "name": "", "arguments": []})
    if call.get("id"):
        state["id"] = call["id"]
    if call.get("type"):
        state["type"] = call["type"]
    function = call.get("function") or {}
    if function.get("name"):
        state["name"] += function["name"]
    if function.get("arguments"):
        state["arguments"].append(function["arguments"])


def _finish_choice(state: dict[str, Any]) -> dict[str, Any]:
    message = state["message"]
    message["content"] = "".join(state["parts"].get("content", [])) or None
    for name in ("refusal", "reasoning_content"):
        if name in state["parts"]:
            message[name] = "".join(state["parts"][name])
    if "tool_calls" in state:
        message["tool_calls"] = [
            {
                "id": call["id"],
                "type": call["type"],
                "function": {"name": call["name"], "arguments": "".join(call["arguments"])},
            }
            for _, call in sorted(state["tool_calls"].items())
        ]
    return {"index": state["index"], "message": message, "finish_reason": state.get("finish_reason")}
