"""Bedrock's CountTokens request body (AWS Bedrock API reference "CountTokens":
``POST /model/{modelId}/count-tokens`` with ``{"input": {"converse": {...}}}`` or
``{"input": {"invokeModel": {"body": base64}}}``; the answer is ``{"inputTokens": n}``), built from an
Anthropic Messages body. The answer side is ``ledgerlm.providers.count_tokens``."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from ledgerlm.providers.anthropic.from_openai import openai_request
from ledgerlm.providers.bedrock.request import converse_body, native_invoke_body
from ledgerlm.providers.count_tokens import count_fields

__all__ = ["bedrock_count_body"]


def bedrock_count_body(route: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The CountTokens body for a Messages ``body``: ``invokeModel`` for ``route == "invoke"`` (the
    Claude InvokeModel body, ``max_tokens`` defaulted to 1 as InvokeModel requires it), else
    ``converse`` (messages, system, tool config of the translated Converse body)."""
    if route == "invoke":
        invoke = native_invoke_body({"max_tokens": 1, **count_fields(body)})
        blob = base64.b64encode(orjson.dumps(invoke)).decode("ascii")
        return {"input": {"invokeModel": {"body": blob}}}
    converse = converse_body(openai_request(body))
    kept = {k: v for k, v in converse.items() if k in ("messages", "system", "toolConfig")}
    return {"input": {"converse": kept}}
