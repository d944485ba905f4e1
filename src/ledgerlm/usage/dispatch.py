"""The usage mapping of a provider: ``usage_from_body`` and ``usage_from_stream``.

The mapping is the provider table's (``ProviderSpec.usage_mapper`` and ``stream_usage`` in
``ledgerlm.provider_specs``): nothing here is keyed on a provider name. Provider names are ledgerlm's
provider prefixes and aliases (``openai``, ``azure``, ``anthropic``, ``gemini``, ``vertex_ai``,
``bedrock``, and OpenAI-compatible ones such as ``deepseek``, ``groq``, ``mistral``, ``openrouter``,
``xai``), plus the genai-prices / pydantic-ai ids of ``_OTHER_FAMILIES``; any other name is treated as
OpenAI-compatible.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from ledgerlm.provider_specs import WireCode, WireFormat, code_of, load, spec_of
from ledgerlm.types import Usage

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


def _code(provider: str) -> WireCode:
    return code_of(provider, _OTHER_FAMILIES.get(provider.lower(), "openai"))


def stream_accumulator(provider: str) -> StreamUsage:
    """A fresh stream usage accumulator for ``provider``'s event dicts (the table's ``stream_usage``)."""
    accumulator: StreamUsage = load(_code(provider).stream_usage)()
    return accumulator


def usage_from_body(provider: str, body: Mapping[str, Any]) -> Usage:
    """Canonical usage of a non-streamed response body of ``provider`` (the table's ``usage_mapper``).

    Raises ``UsageNotFoundError`` when the body has no usage (an error body, for instance).
    """
    usage: Usage | None = load(_code(provider).usage_mapper)(body, provider=provider)
    if usage is None:
        raise UsageNotFoundError(f"the {provider} response body carries no usage")
    return usage


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
