"""Responses API <-> chat completions, for the proxy's ``/v1/responses`` on chat-only deployments
(Anthropic, Gemini, Bedrock, OpenAI-compatible chat servers), the way LiteLLM's "responses API
bridge" does it. Pure.

* ``chat_request(body)``: a Responses-API request -> an OpenAI chat-completions body
  (``instructions`` -> system message, ``input`` items -> messages, function tools, ``text.format`` ->
  ``response_format``, ``reasoning.effort`` -> ``reasoning_effort``, ``max_output_tokens`` ->
  ``max_tokens``); raises ``ValueError`` naming what cannot be expressed on a chat API;
* ``response_object(completion, usage, model, request)``: a ``chat.completion`` -> a ``response``;
* ``ResponsesEventEncoder``: ``chat.completion.chunk`` dicts -> Responses stream events
  (``response.created``, ``response.output_text.delta`` ..., ``response.completed`` with usage);
* ``responses_usage_body(usage)``: canonical ``Usage`` -> the Responses ``usage`` object.

Shapes follow OpenAI's API reference ("Responses", "Streaming events", "Chat completions").
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

from ledgerlm.types import Usage

__all__ = ["ResponsesEventEncoder", "chat_request", "response_object", "responses_usage_body"]

_COPIED = ("temperature", "top_p", "user", "parallel_tool_calls", "stream", "top_logprobs", "service_tier")
_UNSUPPORTED = ("previous_response_id", "conversation", "background")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def responses_usage_body(usage: Usage | None) -> dict[str, Any]:
    """The Responses ``usage`` (``input_tokens`` includes cached, ``output_tokens`` reasoning)."""
    u = usage or Usage()
    return {
        "input_tokens": u.input_tokens,
        "input_tokens_details": {"cached_tokens": u.cache_read_tokens},
        "output_tokens": u.output_tokens,
        "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        "total_tokens": u.total_tokens,
    }


# -- request ------------------------------------------------------------------------------------------


def chat_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI chat-completions body for a Responses-API ``body`` (see the module docstring)."""
    for name in _UNSUPPORTED:
        if body.get(name):
            raise ValueError(f"{name!r} needs a deployment that stores responses (OpenAI or Azure)")
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if instructions:
        messages.append({"role": "system", "content": str(instructions)})
    messages.extend(_input_messages(body.get("input")))
    out: dict[str, Any] = {"model": body.get("model"), "messages": messages}
    for name in _COPIED:
        if body.get(name) is not None:
            out[name] = body[name]
    if body.get("max_output_tokens") is not None:
        out["max_tokens"] = body["max_output_tokens"]
    _tools(out, body)
    _text_format(out, body.get("text"))
    reasoning = body.get("reasoning")
    if isinstance(reasoning, Mapping) and reasoning.get("effort"):
        out["reasoning_effort"] = reasoning["effort"]
    return out


def _input_messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise ValueError("'input' must be a string or a non-empty list of input items")
    out: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise ValueError("each 'input' item must be an object")
        kind = item.get("type", "message")
        if kind == "message":
            role = "system" if item.get("role") == "developer" else str(item.get("role") or "user")
            out.append({"role": role, "content": _content(item.get("content"))})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id"),
                "type": "function",
                "function": {"name": item.get("name"), "arguments": item.get("arguments") or "{}"},
            }
            if out and out[-1]["role"] == "assistant" and "tool_calls" in out[-1]:
                out[-1]["tool_calls"].append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else _text_of(output)
            out.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": text})
        elif kind != "reasoning":  # reasoning items of earlier turns carry nothing a chat API takes
            raise ValueError(f"input item type {kind!r} cannot be sent to a chat-completions model")
    return out


def _content(content: Any) -> Any:
    if isinstance(content, str) or content is None:
        return content or ""
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image":
            url = part.get("image_url") or part.get("file_id")
            parts.append(
                {"type": "image_url", "image_url": {"url": url, "detail": part.get("detail", "auto")}}
            )
        elif kind == "refusal":
            parts.append({"type": "text", "text": part.get("refusal", "")})
        else:
            raise ValueError(f"content part type {kind!r} cannot be sent to a chat-completions model")
    return parts


def _text_of(value: Any) -> str:
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value if isinstance(p, Mapping))
    return "" if value is None else str(value)


def _tools(out: dict[str, Any], body: Mapping[str, Any]) -> None:
    tools = body.get("tools")
    if tools:
        converted = []
        for tool in tools:
            if tool.get("type") != "function":
                raise ValueError(
                    f"built-in tool {tool.get('type')!r} exists only on the Responses API of OpenAI/Azure"
                )
            function = {k: tool[k] for k in ("name", "description", "parameters", "strict") if k in tool}
            converted.append({"type": "function", "function": function})
        out["tools"] = converted
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif choice is not None:
        out["tool_choice"] = choice


def _text_format(out: dict[str, Any], text: Any) -> None:
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") in (None, "text"):
        return
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    else:
        out["response_format"] = {"type": fmt.get("type")}


# -- response -----------------------------------------------------------------------------------------


def _skeleton(model: str, request: Mapping[str, Any], status: str) -> dict[str, Any]:
    return {
        "id": _new_id("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": None,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": model,
        "output": [],
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "reasoning": {"effort": (request.get("reasoning") or {}).get("effort"), "summary": None},
        "store": False,
        "temperature": request.get("temperature"),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": list(request.get("tools") or []),
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "usage": None,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def _message_item(text: str, status: str = "completed", item_id: str | None = None) -> dict[str, Any]:
    part = {"type": "output_text", "text": text, "annotations": []}
    return {
        "id": item_id or _new_id("msg"),
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [part] if text or status == "completed" else [],
    }


def _call_item(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "id": _new_id("fc"),
        "type": "function_call",
        "status": "completed",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def _finish(response: dict[str, Any], finish_reason: Any, usage: Usage | None) -> dict[str, Any]:
    if finish_reason == "length":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    elif finish_reason == "content_filter":
        response["status"] = "incomplete"
        response["incomplete_details"] = {"reason": "content_filter"}
    else:
        response["status"] = "completed"
    response["usage"] = responses_usage_body(usage)
    return response


def response_object(
    completion: Mapping[str, Any], usage: Usage | None, model: str, request: Mapping[str, Any]
) -> dict[str, Any]:
    """The Responses ``response`` for a ``chat.completion`` (reasoning, text, function calls)."""
    response = _skeleton(model, request, "completed")
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    reasoning = message.get("reasoning_content")
    if reasoning:
        summary = [{"type": "summary_text", "text": reasoning}]
        response["output"].append({"id": _new_id("rs"), "type": "reasoning", "summary": summary})
    content = message.get("content")
    if content:
        response["output"].append(_message_item(content if isinstance(content, str) else _text_of(content)))
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        item = _call_item(call.get("id", ""), function.get("name", ""), function.get("arguments") or "")
        response["output"].append(item)
    return _finish(response, choice.get("finish_reason"), usage)


class ResponsesEventEncoder:
    """Encode a chat stream as Responses events: ``feed(chunk)`` per chunk, ``finish(usage)`` at the
    end (text done, function calls, ``response.completed``/``incomplete`` with usage). Every event
    carries ``sequence_number``."""

    def __init__(self, model: str, request: Mapping[str, Any]) -> None:
        self.response = _skeleton(model, request, "in_progress")
        self._seq = 0
        self._started = False
        self._text: list[str] | None = None
        self._message_id = _new_id("msg")
        self._calls: dict[int, dict[str, str]] = {}
        self._finish_reason: Any = None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _start(self) -> list[dict[str, Any]]:
        if self._started:
            return []
        self._started = True
        snapshot = dict(self.response)
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    def feed(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Events for one ``chat.completion.chunk``."""
        events = self._start()
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events.extend(self._text_delta(str(delta["content"])))
            for call in delta.get("tool_calls") or ():
                self._tool_delta(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def _text_delta(self, text: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        if self._text is None:
            self._text = []
            item = _message_item("", "in_progress", self._message_id)
            events.append(self._event("response.output_item.added", output_index=0, item=item))
            part = {"type": "output_text", "text": "", "annotations": []}
            events.append(
                self._event(
                    "response.content_part.added",
                    item_id=self._message_id,
                    output_index=0,
                    content_index=0,
                    part=part,
                )
            )
        self._text.append(text)
        ids = {"item_id": self._message_id, "output_index": 0, "content_index": 0}
        events.append(self._event("response.output_text.delta", **ids, delta=text, logprobs=[]))
        return events

    def _tool_delta(self, call: Mapping[str, Any]) -> None:
        slot = self._calls.setdefault(int(call.get("index") or 0), {"id": "", "name": "", "arguments": ""})
        function = call.get("function") or {}
        slot["id"] = call.get("id") or slot["id"]
        slot["name"] = function.get("name") or slot["name"]
        slot["arguments"] += function.get("arguments") or ""

    def finish(self, usage: Usage | None) -> list[dict[str, Any]]:
        """The closing events: text done, function-call items, the terminal event with ``usage``."""
        events = self._start()
        output: list[dict[str, Any]] = []
        if self._text is not None:
            text = "".join(self._text)
            ids = {"item_id": self._message_id, "output_index": 0, "content_index": 0}
            events.append(self._event("response.output_text.done", **ids, text=text, logprobs=[]))
            part = {"type": "output_text", "text": text, "annotations": []}
            events.append(self._event("response.content_part.done", **ids, part=part))
            item = _message_item(text, "completed", self._message_id)
            events.append(self._event("response.output_item.done", output_index=0, item=item))
            output.append(item)
        for _, slot in sorted(self._calls.items()):
            item = _call_item(slot["id"], slot["name"], slot["arguments"])
            index = len(output)
            events.append(self._event("response.output_item.added", output_index=index, item=item))
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    arguments=slot["arguments"],
                )
            )
            events.append(self._event("response.output_item.done", output_index=index, item=item))
            output.append(item)
        self.response["output"] = output
        response = _finish(self.response, self._finish_reason, usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        events.append(self._event(kind, response=response))
        return events
