"""Token counting on Bedrock and Vertex AI / Gemini for the proxy's ``POST /v1/messages/count_tokens``
(an Anthropic Messages body in, Anthropic's ``{"input_tokens": n}`` out). Pure: the request bodies,
URL suffixes and the answer mapping (the request bodies built from a format's own request code live
beside it: ``bedrock/count.py``, ``gemini/count.py``); the providers sign and send when
``deployment.extra[COUNT_TOKENS_FLAG]`` is set. Counting is free on every provider: the usage is one
free ``request`` unit, never billed tokens.

Formats:

* Bedrock Runtime "CountTokens": ``POST /model/{modelId}/count-tokens`` with
  ``{"input": {"converse": {"messages", "system", "toolConfig"}}}`` (Converse deployments) or
  ``{"input": {"invokeModel": {"body": <base64 of the InvokeModel JSON body>}}}`` (``invoke/``
  deployments; a blob is base64 in AWS's JSON protocol); answer ``{"inputTokens": n}``.
* Gemini API ``models.countTokens``: ``POST /v1beta/models/{model}:countTokens`` with
  ``{"generateContentRequest": {"model": "models/{model}", "contents", "systemInstruction", "tools"}}``;
  Vertex AI ``publishers/google/models/{model}:countTokens`` with top-level ``contents``,
  ``systemInstruction``, ``tools``; answer ``{"totalTokens": n, ...}``.
* Claude on Vertex AI ("Count tokens for Claude models"): ``POST .../publishers/anthropic/models/
  count-tokens:rawPredict`` with the Messages body and ``model``; answer ``{"input_tokens": n}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledgerlm.providers.anthropic import COUNT_TOKENS_FLAG
from ledgerlm.types import Usage
from ledgerlm.usage.media import UNITS_KEY

__all__ = [
    "COUNT_TOKENS_FIELDS",
    "COUNT_TOKENS_FLAG",
    "count_answer",
    "count_fields",
    "count_usage",
    "is_count",
    "vertex_claude_count_body",
]

COUNT_TOKENS_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking"})
"""The Messages fields a token count takes (Anthropic "Count message tokens")."""


def is_count(extra: Mapping[str, Any]) -> bool:
    """True when a deployment's ``extra`` asks for a token count instead of a generation."""
    return bool(extra.get(COUNT_TOKENS_FLAG))


def count_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a Messages ``body`` a token count takes (``COUNT_TOKENS_FIELDS``)."""
    return {k: v for k, v in body.items() if k in COUNT_TOKENS_FIELDS}


def vertex_claude_count_body(model: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``count-tokens:rawPredict`` body for Claude on Vertex AI."""
    return {**count_fields(body), "model": model}


def count_answer(body: Mapping[str, Any]) -> dict[str, Any]:
    """Anthropic's ``{"input_tokens": n}`` for any provider's count answer (``inputTokens``,
    ``totalTokens`` or ``input_tokens``)."""
    for name in ("input_tokens", "inputTokens", "totalTokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return {"input_tokens": value}
    return {"input_tokens": 0}


def count_usage(body: Mapping[str, Any]) -> Usage:
    """One free ``request`` unit (a count is never billed input), the provider's count kept in ``raw``."""
    return Usage(raw={UNITS_KEY: {"request": 1}, "counted_input_tokens": count_answer(body)["input_tokens"]})
