"""OpenAI chat-completions request -> Gemini ``generateContent`` body (AI Studio and Vertex). Pure.

Field names are from the Gemini API reference (https://ai.google.dev/api/generate-content):
``contents`` (``role`` ``user`` / ``model``, ``parts`` with ``text``, ``inlineData``, ``fileData``,
``functionCall``, ``functionResponse``), ``systemInstruction``, ``tools[].functionDeclarations``,
``toolConfig.functionCallingConfig`` (``mode`` AUTO / ANY / NONE, ``allowedFunctionNames``) and
``generationConfig`` (``temperature``, ``topP``, ``topK``, ``maxOutputTokens``, ``stopSequences``,
``candidateCount``, ``seed``, ``presencePenalty``, ``frequencyPenalty``, ``responseMimeType``,
``responseJsonSchema``, ``thinkingConfig``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ledgerlm.errors import BadRequestError

__all__ = ["THINKING_BUDGETS", "gemini_contents", "gemini_request_body", "gemini_tools"]

THINKING_BUDGETS: dict[str, int] = {"none": 0, "minimal": 128, "low": 1024, "medium": 8192, "high": 24576}
"""OpenAI ``reasoning_effort`` -> Gemini ``thinkingConfig.thinkingBudget`` (tokens)."""

_GENERATION: dict[str, str] = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "n": "candidateCount",
    "seed": "seed",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}


def gemini_request_body(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``generateContent`` body for an OpenAI chat-completions ``params`` dict.

    Raises ``BadRequestError`` for messages it cannot express.
    """
    system, contents = gemini_contents(params.get("messages") or [])
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": system}
    if params.get("tools"):
        body["tools"] = gemini_tools(params["tools"])
        config = _tool_config(params.get("tool_choice"))
        if config:
            body["toolConfig"] = config
    generation = _generation_config(params)
    if generation:
        body["generationConfig"] = generation
    return body


def _generation_config(params: Mapping[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        target: params[name] for name, target in _GENERATION.items() if params.get(name) is not None
    }
    for name in ("max_completion_tokens", "max_tokens"):
        if params.get(name) is not None:
            config["maxOutputTokens"] = int(params[name])
            break
    stop = params.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    _response_format(config, params.get("response_format"))
    effort = params.get("reasoning_effort")
    if effort is not None and str(effort) in THINKING_BUDGETS:
        budget = THINKING_BUDGETS[str(effort)]
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    if isinstance(params.get("thinking_config"), Mapping):
        config["thinkingConfig"] = dict(params["thinking_config"])
    return config


def _response_format(config: dict[str, Any], fmt: Any) -> None:
    if not isinstance(fmt, Mapping):
        return
    if fmt.get("type") == "json_object":
        config["responseMimeType"] = "application/json"
    elif fmt.get("type") == "json_schema":
        config["responseMimeType"] = "application/json"
        schema = (fmt.get("json_schema") or {}).get("schema")
        if schema is not None:
            config["responseJsonSchema"] = schema


def gemini_tools(tools: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI function tools -> one Gemini tool with ``functionDeclarations``; others pass through."""
    declarations: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for tool in tools:
        if tool.get("type") == "function" and "function" in tool:
            fn = tool["function"]
            item: dict[str, Any] = {"name": fn["name"]}
            if fn.get("description"):
                item["description"] = fn["description"]
            if fn.get("parameters"):
                item["parametersJsonSchema"] = fn["parameters"]
            declarations.append(item)
        else:
            others.append(dict(tool))  # native Gemini tools: googleSearch, codeExecution ...
    return ([{"functionDeclarations": declarations}] if declarations else []) + others


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice == "auto":
        mode: dict[str, Any] = {"mode": "AUTO"}
    elif choice == "required":
        mode = {"mode": "ANY"}
    elif choice == "none":
        mode = {"mode": "NONE"}
    elif isinstance(choice, Mapping) and "function" in choice:
        mode = {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}
    else:
        raise BadRequestError(f"unsupported tool_choice {choice!r}", provider="gemini", param="tool_choice")
    return {"functionCallingConfig": mode}


def gemini_contents(messages: list[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """OpenAI ``messages`` -> (system instruction parts, ``contents``).

    ``assistant`` becomes ``model``; ``tool`` messages become ``functionResponse`` parts in a user turn
    (the function name is found from the assistant's earlier ``tool_calls``); consecutive turns of one
    role are merged.
    """
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for index, message in enumerate(messages):
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_parts(message.get("content")))
            continue
        if role == "user":
            parts, role = _parts(message.get("content")), "user"
        elif role == "assistant":
            parts, role = _model_parts(message, names), "model"
        elif role == "tool":
            parts, role = [_function_response(message, names)], "user"
        else:
            raise BadRequestError(
                f"messages[{index}]: unsupported role {role!r}", provider="gemini", param="messages"
            )
        if not parts:
            continue
        if contents and contents[-1]["role"] == role:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    return system, contents


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind == "text":
            parts.append({"text": part.get("text", "")})
        elif kind == "image_url":
            parts.append(_media_part(part))
        else:
            parts.append({k: v for k, v in part.items() if k != "type"})  # native Gemini part
    return parts


def _media_part(part: Mapping[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url", "") if isinstance(image, Mapping) else str(image or "")
    if url.startswith("data:"):
        header, _, data = url.partition(",")
        return {"inlineData": {"mimeType": header[5:].split(";")[0] or "image/png", "data": data}}
    mime = image.get("format") if isinstance(image, Mapping) else None
    return {"fileData": {"mimeType": mime or _guess_mime(url), "fileUri": url}}


def _guess_mime(url: str) -> str:
    lowered = url.lower().split("?")[0]
    for ext, mime in (
        (".png", "image/png"),
        (".gif", "image/gif"),
        (".webp", "image/webp"),
        (".pdf", "application/pdf"),
    ):
        if lowered.endswith(ext):
            return mime
    return "image/jpeg"


def _model_parts(message: Mapping[str, Any], names: dict[str, str]) -> list[dict[str, Any]]:
    parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        names[str(call.get("id"))] = str(fn.get("name"))
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError as exc:
            raise BadRequestError(
                f"tool call {call.get('id')!r}: arguments are not JSON", provider="gemini", param="messages"
            ) from exc
        part: dict[str, Any] = {"functionCall": {"name": fn.get("name"), "args": args}}
        signature = (call.get("provider_specific_fields") or {}).get("thought_signature")
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
    return parts


def _function_response(message: Mapping[str, Any], names: dict[str, str]) -> dict[str, Any]:
    call_id = str(message.get("tool_call_id"))
    name = message.get("name") or names.get(call_id) or call_id
    content = message.get("content")
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
    try:
        result = json.loads(content) if isinstance(content, str) else content
    except json.JSONDecodeError:
        result = content
    response = result if isinstance(result, dict) else {"result": result}
    return {"functionResponse": {"name": name, "response": response}}
