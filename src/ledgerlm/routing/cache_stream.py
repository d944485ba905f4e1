"""Streamed calls and the response cache (LiteLLM caches streamed responses too:
https://docs.litellm.ai/docs/proxy/caching). A cache entry always holds a plain ``chat.completion``
body, so plain and streamed calls share entries (``stream`` is not part of the key):

* ``body_from_chunks(chunks, usage)``: the ``chat.completion`` body of a completed stream of OpenAI
  ``chat.completion.chunk`` dicts (content and refusal joined, tool calls merged by ``index``,
  ``finish_reason`` of each choice); ``usage`` (OpenAI form) is the stream's usage chunk when it had
  one, else the one given;
* ``chunks_from_body(body, include_usage)``: the chunks a hit replays: per choice one delta chunk
  (role, content, tool calls with their ``index``) and one ``finish_reason`` chunk, then a usage chunk
  (``choices: []``) when the request asked ``stream_options.include_usage``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["body_from_chunks", "chunks_from_body", "openai_usage"]

_TEXT_FIELDS = ("content", "refusal", "reasoning_content")


def openai_usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    """OpenAI's ``usage`` object from token counts."""
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def _merge_tool_calls(into: list[dict[str, Any]], given: Any) -> None:
    for call in given or ():
        if not isinstance(call, Mapping):
            continue
        index = int(call.get("index", len(into)))
        while len(into) <= index:
            into.append({"id": None, "type": "function", "function": {"name": "", "arguments": ""}})
        target = into[index]
        if call.get("id"):
            target["id"] = call["id"]
        if call.get("type"):
            target["type"] = call["type"]
        function = call.get("function") or {}
        target["function"]["name"] += function.get("name") or ""
        target["function"]["arguments"] += function.get("arguments") or ""


def _choice(choices: dict[int, dict[str, Any]], index: int) -> dict[str, Any]:
    if index not in choices:
        choices[index] = {"message": {"role": "assistant"}, "texts": {}, "tools": [], "finish": None}
    return choices[index]


def body_from_chunks(chunks: Iterable[Mapping[str, Any]], usage: dict[str, Any]) -> dict[str, Any]:
    """The ``chat.completion`` body of a completed stream (module docstring)."""
    head: dict[str, Any] = {}
    choices: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        if not head:
            head = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint")}
        if isinstance(chunk.get("usage"), Mapping):
            usage = dict(chunk["usage"])
        for given in chunk.get("choices") or ():
            choice = _choice(choices, int(given.get("index", 0)))
            delta = given.get("delta") or {}
            if delta.get("role"):
                choice["message"]["role"] = delta["role"]
            for name in _TEXT_FIELDS:
                if delta.get(name):
                    choice["texts"][name] = choice["texts"].get(name, "") + delta[name]
            _merge_tool_calls(choice["tools"], delta.get("tool_calls"))
            choice["finish"] = given.get("finish_reason") or choice["finish"]
    out_choices = []
    for index in sorted(choices):
        choice = choices[index]
        message = {**choice["message"], "content": None, **choice["texts"]}
        if choice["tools"]:
            message["tool_calls"] = choice["tools"]
        out_choices.append({"index": index, "message": message, "finish_reason": choice["finish"]})
    body = {**{k: v for k, v in head.items() if v is not None}, "object": "chat.completion"}
    return {**body, "choices": out_choices, "usage": usage}


def chunks_from_body(body: Mapping[str, Any], *, include_usage: bool) -> list[dict[str, Any]]:
    """The chunks replaying ``body`` (module docstring)."""
    base = {k: body[k] for k in ("id", "created", "model", "system_fingerprint") if k in body}
    base["object"] = "chat.completion.chunk"
    chunks: list[dict[str, Any]] = []
    for choice in body.get("choices") or ():
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        delta = {k: v for k, v in message.items() if v is not None and k != "tool_calls"}
        tools = message.get("tool_calls")
        if tools:
            delta["tool_calls"] = [{"index": n, **call} for n, call in enumerate(tools)]
        chunks.append({**base, "choices": [{"index": index, "delta": delta, "finish_reason": None}]})
        finish = choice.get("finish_reason") or "stop"
        chunks.append({**base, "choices": [{"index": index, "delta": {}, "finish_reason": finish}]})
    if include_usage and isinstance(body.get("usage"), Mapping):
        chunks.append({**base, "choices": [], "usage": dict(body["usage"])})
    return chunks
