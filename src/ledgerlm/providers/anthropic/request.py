"""OpenAI chat-completions request -> Anthropic Messages request body. Pure functions.

Field names are from the Anthropic Messages API reference (https://docs.anthropic.com/en/api/messages):
``system`` (string or text blocks), ``messages`` (alternating ``user`` / ``assistant`` with content
blocks ``text``, ``image`` (``source`` ``base64`` or ``url``), ``tool_use``, ``tool_result``),
``tools`` (``name``, ``description``, ``input_schema``), ``tool_choice`` (``auto`` / ``any`` /
``tool`` / ``none``), ``stop_sequences``, ``max_tokens`` (required), ``metadata.user_id`` and
``thinking`` (``{"type": "enabled", "budget_tokens": N}``). ``cache_control`` on any content part,
system part or tool is passed through unchanged (prompt caching).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ledgerlm.errors import BadRequestError

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "REASONING_BUDGETS",
    "anthropic_messages",
    "anthropic_request_body",
    "anthropic_tool_choice",
    "anthropic_tools",
    "image_block",
]

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when the caller gives none (Anthropic requires it), tokens."""

REASONING_BUDGETS: dict[str, int] = {"low": 1024, "medium": 2048, "high": 4096}
"""OpenAI ``reasoning_effort`` -> Anthropic ``thinking.budget_tokens`` (tokens; minimum is 1024)."""

_PASSTHROUGH = ("temperature", "top_p", "top_k", "service_tier", "container", "mcp_servers")


def anthropic_request_body(model: str, params: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    """The Messages API body for an OpenAI chat-completions ``params`` dict (``messages`` required).

    Raises ``BadRequestError`` for messages it cannot express (unknown role, bad tool arguments).
    """
    system, messages = anthropic_messages(params.get("messages") or [])
    body: dict[str, Any] = {"model": model, "messages": messages}
    if system:
        body["system"] = system
    body["max_tokens"] = _max_tokens(params)
    for name in _PASSTHROUGH:
        if params.get(name) is not None:
            body[name] = params[name]
    _add_stop(body, params.get("stop"))
    _add_tools(body, params)
    _add_thinking(body, params)
    if params.get("user"):
        body["metadata"] = {"user_id": str(params["user"])}
    if isinstance(params.get("metadata"), Mapping) and "user_id" in params["metadata"]:
        body["metadata"] = {"user_id": str(params["metadata"]["user_id"])}
    if stream:
        body["stream"] = True
    return body


def _max_tokens(params: Mapping[str, Any]) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = params.get(name)
        if value is not None:
            return int(value)
    return DEFAULT_MAX_TOKENS


def _add_stop(body: dict[str, Any], stop: Any) -> None:
    if stop is None:
        return
    sequences = [stop] if isinstance(stop, str) else [str(s) for s in stop]
    if sequences:
        body["stop_sequences"] = sequences


def _add_tools(body: dict[str, Any], params: Mapping[str, Any]) -> None:
    tools = params.get("tools")
    if tools:
        body["tools"] = anthropic_tools(tools)
    choice = anthropic_tool_choice(params.get("tool_choice"), params.get("parallel_tool_calls"))
    if choice is not None and tools:
        body["tool_choice"] = choice


def _add_thinking(body: dict[str, Any], params: Mapping[str, Any]) -> None:
    thinking = params.get("thinking")
    if thinking is None:
        effort = params.get("reasoning_effort")
        budget = REASONING_BUDGETS.get(str(effort)) if effort else None
        if budget is None:
            return
        thinking = {"type": "enabled", "budget_tokens": budget}
    body["thinking"] = dict(thinking)
    budget_tokens = int(thinking.get("budget_tokens") or 0)
    if thinking.get("type") == "enabled" and body["max_tokens"] <= budget_tokens:
        body["max_tokens"] = budget_tokens + DEFAULT_MAX_TOKENS


def anthropic_tools(tools: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI ``tools`` (``{"type": "function", "function": {...}}``) -> Anthropic tool definitions.

    Tools that are not ``function`` tools (Anthropic server tools such as ``web_search_20250305``) are
    passed through unchanged.
    """
    out: list[dict[str, Any]] = []
    for tool in tools:
        if tool.get("type") != "function" or "function" not in tool:
            out.append(dict(tool))
            continue
        fn = tool["function"]
        item: dict[str, Any] = {
            "name": fn["name"],
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        if fn.get("description"):
            item["description"] = fn["description"]
        if "cache_control" in tool:
            item["cache_control"] = tool["cache_control"]
        out.append(item)
    return out


def anthropic_tool_choice(choice: Any, parallel: Any = None) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` -> Anthropic: auto->auto, required->any, none->none, a named function->tool."""
    if choice is None and parallel is None:
        return None
    if choice is None or choice == "auto":
        out: dict[str, Any] = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        return {"type": "none"}
    elif isinstance(choice, Mapping) and "function" in choice:
        out = {"type": "tool", "name": choice["function"]["name"]}
    elif isinstance(choice, Mapping):
        out = dict(choice)
    else:
        raise BadRequestError(
            f"unsupported tool_choice {choice!r}", provider="anthropic", param="tool_choice"
        )
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def anthropic_messages(
    messages: list[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI ``messages`` -> (Anthropic ``system`` text blocks, Anthropic ``messages``).

    System and developer messages become ``system`` blocks; ``tool`` messages become ``tool_result``
    blocks in a user turn; consecutive turns of the same role are merged (Anthropic alternates roles).
    """
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content")))
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"))
        elif role == "assistant":
            blocks = _assistant_blocks(message)
        elif role in ("tool", "function"):
            blocks = [_tool_result(message)]
            role = "user"
        else:
            raise BadRequestError(
                f"messages[{index}]: unsupported role {role!r}", provider="anthropic", param="messages"
            )
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return system, out


def _text_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        if part.get("type") == "text":
            block: dict[str, Any] = {"type": "text", "text": part.get("text", "")}
            if "cache_control" in part:
                block["cache_control"] = part["cache_control"]
            blocks.append(block)
    return blocks


def _user_blocks(content: Any) -> list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return _text_blocks(content)
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            blocks.extend(_text_blocks([part]))
        elif kind == "image_url":
            blocks.append(image_block(part))
        else:
            blocks.append(dict(part))  # already an Anthropic block (document, tool_result, image ...)
    return blocks


def image_block(part: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAI ``image_url`` part -> an Anthropic ``image`` block (base64 for data URLs, else url)."""
    image = part.get("image_url")
    url = image.get("url", "") if isinstance(image, Mapping) else str(image or "")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        media_type = header[5:].split(";")[0] or "image/png"
        source: dict[str, Any] = {"type": "base64", "media_type": media_type, "data": data}
    else:
        source = {"type": "url", "url": url}
    block: dict[str, Any] = {"type": "image", "source": source}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _assistant_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [dict(b) for b in message.get("thinking_blocks") or []]
    blocks.extend(_text_blocks(message.get("content")))
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError as exc:
            raise BadRequestError(
                f"tool call {call.get('id')!r}: arguments are not JSON",
                provider="anthropic",
                param="messages",
            ) from exc
        blocks.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"), "input": arguments})
    return blocks


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.get("tool_call_id")}
    if isinstance(content, list):
        block["content"] = _user_blocks(content)
    else:
        block["content"] = "" if content is None else str(content)
    return block
