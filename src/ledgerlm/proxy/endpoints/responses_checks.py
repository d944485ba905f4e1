"""Checks of a Responses-API request bound for a chat-only deployment (translated by
``ledgerlm.providers.openai.responses_from_chat``): every field the translator reads must have the type
OpenAI documents, else a 400 ``invalid_request_error`` whose ``param`` names the field (for example
``input[0].content[1].image_url``), never a 500 from inside the translator.

Types follow OpenAI's API reference "Responses > Create a model response": ``input`` (string or array
of items: messages with ``role`` and string/array ``content``; ``function_call`` with string
``call_id``/``name``/``arguments``; ``function_call_output`` with string ``call_id`` and string/array
``output``), content parts ``input_text``/``output_text`` (``text`` string), ``input_image``
(``image_url`` or ``file_id`` string, ``detail`` low/high/auto), ``refusal``; ``instructions``
string; ``tools`` array of ``{"type": "function", "name": str, "parameters": object, ...}``;
``tool_choice`` ``none``/``auto``/``required`` or ``{"type": "function", "name": str}``;
``text.format`` ``{"type": "text" | "json_object" | "json_schema"}`` (``json_schema`` needs ``name``
string and ``schema`` object); ``reasoning`` object with string ``effort``; ``parallel_tool_calls``
bool; ``user`` string. Raises ``ledgerlm.errors.BadRequestError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerlm.errors import BadRequestError

__all__ = ["check_translated_request"]

_ROLES = ("user", "assistant", "system", "developer")
_TEXT_PARTS = {"input_text": "text", "output_text": "text", "text": "text", "refusal": "refusal"}
_DETAILS = ("low", "high", "auto")
_CHOICES = ("none", "auto", "required")
_FORMATS = ("text", "json_object", "json_schema")


def _bad(param: str, message: str) -> BadRequestError:
    return BadRequestError(f"'{param}' {message}", param=param)


def _string(value: Any, param: str, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise _bad(param, f"must be a string, got {type(value).__name__}")


def _object(value: Any, param: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _bad(param, f"must be an object, got {type(value).__name__}")
    return value


def check_translated_request(body: Mapping[str, Any]) -> None:
    """Raise ``BadRequestError`` naming the first field of ``body`` of a wrong type."""
    _input(body.get("input"))
    _string(body.get("instructions"), "instructions", required=False)
    _string(body.get("user"), "user", required=False)
    if body.get("parallel_tool_calls") is not None and not isinstance(body["parallel_tool_calls"], bool):
        raise _bad("parallel_tool_calls", "must be a boolean")
    _tools(body.get("tools"))
    _tool_choice(body.get("tool_choice"))
    _text(body.get("text"))
    reasoning = body.get("reasoning")
    if reasoning is not None:
        _string(_object(reasoning, "reasoning").get("effort"), "reasoning.effort", required=False)


def _input(value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not value:
        raise _bad("input", "must be a string or a non-empty array of input items")
    for index, item in enumerate(value):
        _item(_object(item, f"input[{index}]"), f"input[{index}]")


def _item(item: Mapping[str, Any], param: str) -> None:
    kind = item.get("type", "message")
    if not isinstance(kind, str):
        raise _bad(f"{param}.type", f"must be an input item type (a string), got {type(kind).__name__}")
    if kind == "message":
        role = item.get("role")
        if role not in _ROLES:
            raise _bad(f"{param}.role", f"must be one of {', '.join(_ROLES)}, got {role!r:.40}")
        _content(item.get("content"), f"{param}.content")
    elif kind == "function_call":
        for name in ("call_id", "name", "arguments"):
            _string(item.get(name), f"{param}.{name}", required=name != "arguments")
    elif kind == "function_call_output":
        _string(item.get("call_id"), f"{param}.call_id")
        output = item.get("output")
        if isinstance(output, list):
            for index, part in enumerate(output):
                _part(_object(part, f"{param}.output[{index}]"), f"{param}.output[{index}]")
        else:
            _string(output, f"{param}.output")
    elif kind != "reasoning":
        raise _bad(f"{param}.type", f"{kind!r:.40} cannot be sent to a chat-completions model")


def _content(content: Any, param: str) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _bad(param, f"must be a string or an array of content parts, got {type(content).__name__}")
    for index, part in enumerate(content):
        _part(_object(part, f"{param}[{index}]"), f"{param}[{index}]")


def _part(part: Mapping[str, Any], param: str) -> None:
    kind = part.get("type")
    if not isinstance(kind, str):
        raise _bad(f"{param}.type", f"must be a content part type (a string), got {type(kind).__name__}")
    if kind in _TEXT_PARTS:
        _string(part.get(_TEXT_PARTS[kind]), f"{param}.{_TEXT_PARTS[kind]}")
    elif kind == "input_image":
        url, file_id = part.get("image_url"), part.get("file_id")
        if url is None and file_id is None:
            raise _bad(f"{param}.image_url", "is required (or file_id) on an input_image part")
        _string(url, f"{param}.image_url", required=False)
        _string(file_id, f"{param}.file_id", required=False)
        if part.get("detail") is not None and part["detail"] not in _DETAILS:
            raise _bad(f"{param}.detail", f"must be one of {', '.join(_DETAILS)}")
    else:
        raise _bad(f"{param}.type", f"{kind!r:.40} cannot be sent to a chat-completions model")


def _tools(tools: Any) -> None:
    if tools is None:
        return
    if not isinstance(tools, list):
        raise _bad("tools", f"must be an array of tools, got {type(tools).__name__}")
    for index, tool in enumerate(tools):
        param = f"tools[{index}]"
        tool = _object(tool, param)
        if tool.get("type") != "function":
            raise _bad(
                f"{param}.type",
                f"{tool.get('type')!r:.40}: built-in tools exist only on the Responses API of OpenAI/Azure",
            )
        _string(tool.get("name"), f"{param}.name")
        _string(tool.get("description"), f"{param}.description", required=False)
        if tool.get("parameters") is not None:
            _object(tool["parameters"], f"{param}.parameters")
        if tool.get("strict") is not None and not isinstance(tool["strict"], bool):
            raise _bad(f"{param}.strict", "must be a boolean")


def _tool_choice(choice: Any) -> None:
    if choice is None or choice in _CHOICES:
        return
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        _string(choice.get("name"), "tool_choice.name")
        return
    raise _bad("tool_choice", f"must be one of {', '.join(_CHOICES)} or a function choice")


def _text(text: Any) -> None:
    if text is None:
        return
    fmt = _object(text, "text").get("format")
    if fmt is None:
        return
    fmt = _object(fmt, "text.format")
    if fmt.get("type") not in _FORMATS:
        raise _bad("text.format.type", f"must be one of {', '.join(_FORMATS)}")
    if fmt["type"] == "json_schema":
        _string(fmt.get("name"), "text.format.name")
        _object(fmt.get("schema"), "text.format.schema")
