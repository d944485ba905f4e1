"""OpenAI chat-completions request -> Bedrock Converse body, or InvokeModel body for Claude. Pure.

Converse field names are from the Bedrock Runtime API reference
(https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html): ``messages``
(``role`` user / assistant, ``content`` blocks ``text``, ``image`` (``format``, ``source.bytes``
base64), ``toolUse``, ``toolResult``, ``cachePoint``), ``system`` (``text`` / ``cachePoint`` blocks),
``inferenceConfig`` (``maxTokens``, ``temperature``, ``topP``, ``stopSequences``), ``toolConfig``
(``tools[].toolSpec`` with ``inputSchema.json``; ``toolChoice`` ``auto`` / ``any`` / ``tool``) and
``additionalModelRequestFields`` (model-specific: Claude ``thinking``, ``top_k``). An OpenAI part with
``cache_control`` is followed by a ``cachePoint`` block.

InvokeModel for Anthropic models takes the Anthropic Messages body without ``model`` / ``stream`` and
with ``anthropic_version: bedrock-2023-05-31`` (Bedrock "Anthropic Claude Messages API" page).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ledgerlm.errors import BadRequestError
from ledgerlm.providers.anthropic.request import REASONING_BUDGETS, anthropic_request_body

__all__ = [
    "BEDROCK_ANTHROPIC_VERSION",
    "converse_body",
    "converse_messages",
    "invoke_anthropic_body",
    "native_invoke_body",
]

BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31"


def invoke_anthropic_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """The InvokeModel body for a Claude model on Bedrock (Anthropic Messages format)."""
    body = anthropic_request_body("", params, stream=False)
    body.pop("model", None)
    body["anthropic_version"] = BEDROCK_ANTHROPIC_VERSION
    return body


def native_invoke_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """An Anthropic Messages request as an InvokeModel body: without ``model``, ``stream`` and
    ``metadata`` (not accepted by Bedrock), with ``anthropic_version`` (kept when given)."""
    out = {k: v for k, v in body.items() if k not in ("model", "stream", "metadata")}
    out.setdefault("anthropic_version", BEDROCK_ANTHROPIC_VERSION)
    return out


def converse_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """The Converse / ConverseStream body for an OpenAI chat-completions ``params`` dict."""
    system, messages = converse_messages(params.get("messages") or [])
    body: dict[str, Any] = {"messages": messages}
    if system:
        body["system"] = system
    inference = _inference_config(params)
    if inference:
        body["inferenceConfig"] = inference
    if params.get("tools"):
        body["toolConfig"] = _tool_config(params["tools"], params.get("tool_choice"))
    extra = _additional_fields(params)
    if extra:
        body["additionalModelRequestFields"] = extra
    return body


def _inference_config(params: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for name in ("max_completion_tokens", "max_tokens"):
        if params.get(name) is not None:
            config["maxTokens"] = int(params[name])
            break
    if params.get("temperature") is not None:
        config["temperature"] = params["temperature"]
    if params.get("top_p") is not None:
        config["topP"] = params["top_p"]
    stop = params.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return config


def _additional_fields(params: Mapping[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if params.get("top_k") is not None:
        extra["top_k"] = params["top_k"]
    thinking = params.get("thinking")
    effort = params.get("reasoning_effort")
    if thinking is None and effort in REASONING_BUDGETS:
        thinking = {"type": "enabled", "budget_tokens": REASONING_BUDGETS[str(effort)]}
    if thinking is not None:
        extra["thinking"] = dict(thinking)
    return extra


def _tool_config(tools: list[Mapping[str, Any]], choice: Any) -> dict[str, Any]:
    specs: list[dict[str, Any]] = []
    for tool in tools:
        fn = tool.get("function") or {}
        spec: dict[str, Any] = {
            "name": fn.get("name"),
            "inputSchema": {"json": fn.get("parameters") or {"type": "object", "properties": {}}},
        }
        if fn.get("description"):
            spec["description"] = fn["description"]
        specs.append({"toolSpec": spec})
        if "cache_control" in tool:
            specs.append({"cachePoint": {"type": "default"}})
    config: dict[str, Any] = {"tools": specs}
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif isinstance(choice, Mapping) and "function" in choice:
        config["toolChoice"] = {"tool": {"name": choice["function"]["name"]}}
    return config


def converse_messages(messages: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI ``messages`` -> (Converse ``system`` blocks, Converse ``messages``); same-role turns merge."""
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_blocks(message.get("content")))
            continue
        if role == "user":
            blocks = _blocks(message.get("content"))
        elif role == "assistant":
            blocks = _assistant_blocks(message)
        elif role == "tool":
            blocks, role = [_tool_result(message)], "user"
        else:
            raise BadRequestError(
                f"messages[{index}]: unsupported role {role!r}", provider="bedrock", param="messages"
            )
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return system, out


def _blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            blocks.append({"text": part.get("text", "")})
        elif kind == "image_url":
            blocks.append(_image(part))
        else:
            blocks.append({k: v for k, v in part.items() if k not in ("type", "cache_control")})
        if "cache_control" in part:
            blocks.append({"cachePoint": {"type": "default"}})
    return blocks


def _image(part: Mapping[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url", "") if isinstance(image, Mapping) else str(image or "")
    if not url.startswith("data:"):
        raise BadRequestError(
            "bedrock converse takes images as data URLs (base64) only, not http URLs",
            provider="bedrock",
            param="messages",
        )
    header, _, data = url.partition(",")
    fmt = header[5:].split(";")[0].split("/")[-1] or "png"
    return {"image": {"format": "jpeg" if fmt == "jpg" else fmt, "source": {"bytes": data}}}


def _assistant_blocks(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    blocks = _blocks(message.get("content"))
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        try:
            arguments = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError as exc:
            raise BadRequestError(
                f"tool call {call.get('id')!r}: arguments are not JSON", provider="bedrock", param="messages"
            ) from exc
        blocks.append({"toolUse": {"toolUseId": call.get("id"), "name": fn.get("name"), "input": arguments}})
    return blocks


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    content = message.get("content")
    if isinstance(content, list):
        parts = [{"text": p.get("text", "")} for p in content if p.get("type") == "text"]
    else:
        parts = [{"text": "" if content is None else str(content)}]
    return {"toolResult": {"toolUseId": message.get("tool_call_id"), "content": parts}}
