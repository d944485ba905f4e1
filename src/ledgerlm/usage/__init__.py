"""Canonical usage mapping: every provider's usage object -> ``ledgerlm.types.Usage``.

Pure functions, no I/O. Canonical meaning (DESIGN.md section 3): ``input_tokens`` INCLUDES cache reads
and writes, ``output_tokens`` INCLUDES reasoning; the provider's usage is kept in ``Usage.raw``.

Public functions (all counts in tokens):

* ``usage_from_body(provider, body) -> Usage`` / ``usage_from_stream(provider, events) -> Usage``:
  the provider table's mapping (``ProviderSpec.usage_mapper`` / ``stream_usage``); raise
  ``UsageNotFoundError`` when there is no usage.
* ``stream_accumulator(provider)``: ``.feed(event_dict)`` per parsed stream event, ``.usage()`` at the
  end (``Usage | None``).
* per provider: ``usage_from_openai(usage, *, provider="openai", service_tier=None)`` (chat
  completions, embeddings, stream usage chunk, Responses API; DeepSeek, OpenRouter, xAI quirks),
  ``usage_from_anthropic(usage)``, ``usage_from_gemini(usage_metadata)``, ``usage_from_bedrock(usage)``
  (Converse, or an InvokeModel Anthropic usage), ``usage_from_bedrock_metrics(metrics)``.
"""

from __future__ import annotations

from ledgerlm.usage.anthropic import AnthropicStreamUsage, usage_from_anthropic
from ledgerlm.usage.bedrock import BedrockStreamUsage, usage_from_bedrock, usage_from_bedrock_metrics
from ledgerlm.usage.dispatch import (
    UsageNotFoundError,
    provider_family,
    stream_accumulator,
    usage_from_body,
    usage_from_stream,
)
from ledgerlm.usage.gemini import GeminiStreamUsage, usage_from_gemini
from ledgerlm.usage.openai import OpenAIStreamUsage, usage_from_openai, usage_from_openai_body

__all__ = [
    "AnthropicStreamUsage",
    "BedrockStreamUsage",
    "GeminiStreamUsage",
    "OpenAIStreamUsage",
    "UsageNotFoundError",
    "provider_family",
    "stream_accumulator",
    "usage_from_anthropic",
    "usage_from_bedrock",
    "usage_from_bedrock_metrics",
    "usage_from_body",
    "usage_from_gemini",
    "usage_from_openai",
    "usage_from_openai_body",
    "usage_from_stream",
]
