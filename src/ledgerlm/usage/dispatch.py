"""Pick the usage mapping for a provider: ``usage_from_body`` and ``usage_from_stream``.

Provider names are ledgerlm's provider prefixes (``openai``, ``azure``, ``anthropic``, ``gemini``,
``vertex_ai``, ``bedrock``, and OpenAI-compatible ones such as ``deepseek``, ``groq``, ``mistral``,
``openrouter``, ``xai``); any unknown name is treated as OpenAI-compatible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ledgerlm.provider_specs import WireFormat, spec_of
from ledgerlm.types import Usage
from ledgerlm.usage.anthropic import AnthropicStreamUsage, usage_from_anthropic
from ledgerlm.usage.bedrock import BedrockStreamUsage, usage_from_bedrock
from ledgerlm.usage.gemini import GeminiStreamUsage, usage_from_gemini
from ledgerlm.usage.openai import OpenAIStreamUsage, usage_from_openai_body

__all__ = [
    "Family",
    "StreamUsage",
    "UsageNotFoundError",
    "provider_family",
    "stream_accumulator",
    "usage_from_body",
    "usage_from_stream",
]

Family = WireFormat

# Names outside the provider table that callers of this API use (genai-prices and pydantic-ai ids).
_OTHER_FAMILIES: dict[str, Family] = {
    "google": "gemini",
    "google-vertex": "gemini",
    "google-gla": "gemini",
    "bedrock_converse": "bedrock",
    "aws": "bedrock",
}


class UsageNotFoundError(ValueError):
    """The body or stream carries no usage (e.g. a stream without ``stream_options.include_usage``)."""


class StreamUsage(Protocol):
    """A per-provider stream usage accumulator: ``feed(event)`` then ``usage()``."""

    def feed(self, event: Mapping[str, Any], /) -> None: ...

    def usage(self, *, provider: str = ...) -> Usage | None: ...


def provider_family(provider: str) -> Family:
    """The wire format family of ``provider`` (the provider table's, aliases included; unknown names
    are OpenAI-compatible)."""
    spec = spec_of(provider)
    if spec is not None:
        return spec.wire_format
    return _OTHER_FAMILIES.get(provider.lower(), "openai")


def stream_accumulator(provider: str) -> StreamUsage:
    """A fresh stream usage accumulator for ``provider``'s event dicts."""
    family = provider_family(provider)
    if family == "anthropic":
        return AnthropicStreamUsage()
    if family == "gemini":
        return GeminiStreamUsage()
    if family == "bedrock":
        return BedrockStreamUsage()
    return OpenAIStreamUsage()


def usage_from_body(provider: str, body: Mapping[str, Any]) -> Usage:
    """Canonical usage of a non-streamed response body of ``provider``.

    Raises ``UsageNotFoundError`` when the body has no usage (an error body, for instance).
    """
    family = provider_family(provider)
    usage: Usage | None
    if family == "anthropic":
        raw = body.get("usage")
        usage = usage_from_anthropic(raw, provider=provider) if isinstance(raw, Mapping) else None
    elif family == "gemini":
        raw = body.get("usageMetadata")
        usage = usage_from_gemini(raw, provider=provider) if isinstance(raw, Mapping) else None
    elif family == "bedrock":
        usage = _bedrock_body(body, provider)
    else:
        usage = usage_from_openai_body(body, provider=provider)
    if usage is None:
        raise UsageNotFoundError(f"the {provider} response body carries no usage")
    return usage


def _bedrock_body(body: Mapping[str, Any], provider: str) -> Usage | None:
    raw = body.get("usage")
    if isinstance(raw, Mapping) and raw:
        return usage_from_bedrock(raw, provider=provider)
    metrics = body.get("amazon-bedrock-invocationMetrics")
    if isinstance(metrics, Mapping) and metrics:
        return usage_from_bedrock(metrics, provider=provider)
    return None


def usage_from_stream(provider: str, events: Iterable[Mapping[str, Any]]) -> Usage:
    """Canonical usage of a whole stream of parsed event dicts of ``provider``.

    Anthropic: ``message_start`` + cumulative ``message_delta``; Gemini: last ``usageMetadata``;
    OpenAI family: the usage chunk / ``response.completed``; Bedrock: ``metadata`` event or the
    invoke stream's events / invocation metrics. Raises ``UsageNotFoundError`` when none carried usage.
    """
    acc = stream_accumulator(provider)
    for event in events:
        acc.feed(event)
    usage = acc.usage(provider=provider)
    if usage is None:
        raise UsageNotFoundError(f"the {provider} stream carries no usage")
    return usage
