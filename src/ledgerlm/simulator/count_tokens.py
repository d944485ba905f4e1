"""Token counting in the simulator, in each provider's documented format (the counts are the
simulator's deterministic prompt sizes, ``prompt_tokens`` knob first):

* Bedrock Runtime CountTokens: ``{"input": {"converse": {"messages", "system"}}}`` or
  ``{"input": {"invokeModel": {"body": <base64 JSON>}}}`` (exactly one) -> ``{"inputTokens": n}``;
  a ``ValidationException`` 400 otherwise;
* Gemini ``countTokens``: ``{"contents"}``, ``{"generateContentRequest": {...}}`` (AI Studio) or
  top-level ``contents``/``systemInstruction`` (Vertex) -> ``{"totalTokens": n,
  "promptTokensDetails": [{"modality": "TEXT", "tokenCount": n}]}``;
* Claude on Vertex ``count-tokens:rawPredict``: a Messages body with ``model`` ->
  ``{"input_tokens": n}``.

Each function takes the merged knobs and the parsed body and returns ``(status, body)``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from ledgerlm.simulator._native_common import tokens_for
from ledgerlm.simulator.knobs import Knobs

__all__ = ["bedrock_count", "gemini_count", "vertex_claude_count"]


def _text(blocks: Any) -> str:
    if isinstance(blocks, str):
        return blocks
    if not isinstance(blocks, list):
        return ""
    return "".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict))


def _messages(messages: Any, key: str = "content") -> list[dict[str, Any]]:
    if not isinstance(messages, list):
        return []
    return [{"role": m.get("role"), "content": _text(m.get(key))} for m in messages if isinstance(m, dict)]


def bedrock_count(knobs: Knobs, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """CountTokens (see the module docstring)."""
    given = body.get("input")
    if not isinstance(given, dict) or len(given) != 1 or not ({"converse", "invokeModel"} & set(given)):
        return 400, {"message": "input must hold exactly one of converse or invokeModel"}
    if "converse" in given:
        request = given["converse"] if isinstance(given["converse"], dict) else {}
        messages, system = _messages(request.get("messages")), _text(request.get("system"))
    else:
        try:
            invoke = orjson.loads(
                base64.b64decode(str((given["invokeModel"] or {}).get("body")), validate=True)
            )
        except (binascii.Error, orjson.JSONDecodeError, AttributeError):
            return 400, {"message": "invokeModel.body must be the base64 of a JSON InvokeModel body"}
        if not isinstance(invoke, dict) or "max_tokens" not in invoke:
            return 400, {"message": "invokeModel.body: max_tokens is required"}
        messages, system = _messages(invoke.get("messages")), _text(invoke.get("system"))
    if not messages:
        return 400, {"message": "messages must not be empty"}
    return 200, {"inputTokens": tokens_for(knobs, messages, system, "").prompt}


def gemini_count(knobs: Knobs, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """``countTokens`` on AI Studio or Vertex."""
    request = body.get("generateContentRequest") or body
    contents = request.get("contents") if isinstance(request, dict) else None
    if not isinstance(contents, list) or not contents:
        return 400, {
            "error": {"code": 400, "message": "contents must not be empty", "status": "INVALID_ARGUMENT"}
        }
    messages = [
        {"role": c.get("role"), "content": _text(c.get("parts"))} for c in contents if isinstance(c, dict)
    ]
    system = _text((request.get("systemInstruction") or {}).get("parts"))
    count = tokens_for(knobs, messages, system, "").prompt
    return 200, {"totalTokens": count, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": count}]}


def vertex_claude_count(knobs: Knobs, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Claude ``count-tokens:rawPredict`` on Vertex."""
    if not body.get("model") or not isinstance(body.get("messages"), list):
        error = {"type": "invalid_request_error", "message": "model and messages are required"}
        return 400, {"type": "error", "error": error}
    messages = _messages(body["messages"])
    return 200, {"input_tokens": tokens_for(knobs, messages, _text(body.get("system")), "").prompt}
