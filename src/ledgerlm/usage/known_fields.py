"""The usage fields each wire format documents, and ``unknown_usage_fields``: the ones we do not map.

A provider that adds a usage field (a new cache tier, a new tool fee) must not drift the ledger
silently: a non-zero numeric field outside these lists is reported by ``unknown_usage_fields`` (dotted
path, e.g. ``prompt_tokens_details.image_tokens``) and reconciliation flags the row with it
(``unknown_usage_field:<path>``). Sources: OpenAI chat completions / Responses ``usage``; the
OpenAI-compatible presets (DeepSeek ``prompt_cache_hit_tokens``, xAI ``cost_in_usd_ticks`` and
``num_sources_used``, OpenRouter ``cost`` / ``cost_details`` / ``is_byok``, Groq timings, Mistral);
Anthropic Messages ``usage``; Gemini ``usageMetadata``; Bedrock Converse ``usage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["KNOWN_USAGE_FIELDS", "unknown_usage_fields"]

_OPENAI = frozenset(
    {
        "prompt_tokens", "completion_tokens", "total_tokens", "input_tokens", "output_tokens",
        "prompt_tokens_details.cached_tokens", "prompt_tokens_details.audio_tokens",
        "prompt_tokens_details.cache_write_tokens", "prompt_tokens_details.image_tokens",
        "prompt_tokens_details.text_tokens",
        "completion_tokens_details.reasoning_tokens", "completion_tokens_details.audio_tokens",
        "completion_tokens_details.accepted_prediction_tokens",
        "completion_tokens_details.rejected_prediction_tokens",
        "completion_tokens_details.image_tokens", "completion_tokens_details.text_tokens",
        "input_tokens_details.cached_tokens", "input_tokens_details.audio_tokens",
        "input_tokens_details.image_tokens", "input_tokens_details.text_tokens",
        "output_tokens_details.reasoning_tokens", "output_tokens_details.audio_tokens",
        "output_tokens_details.image_tokens", "output_tokens_details.text_tokens",
        # DeepSeek, xAI, OpenRouter, Groq, Perplexity, Mistral, Fireworks
        "prompt_cache_hit_tokens", "prompt_cache_miss_tokens", "num_sources_used", "cost_in_usd_ticks",
        "cost", "is_byok", "cost_details.upstream_inference_cost",
        "cost_details.upstream_inference_prompt_cost", "cost_details.upstream_inference_input_cost",
        "cost_details.upstream_inference_output_cost", "input_tokens_details.cache_write_tokens",
        "cost_details.upstream_inference_completions_cost", "queue_time", "prompt_time",
        "completion_time", "total_time", "search_context_size", "citation_tokens", "num_search_queries",
        "reasoning_tokens", "server_tool_use.web_search_requests", "web_search_requests",
        "cached_tokens",
    }
)  # fmt: skip
_ANTHROPIC = frozenset(
    {
        "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
        "cache_creation.ephemeral_5m_input_tokens", "cache_creation.ephemeral_1h_input_tokens",
        "server_tool_use.web_search_requests", "server_tool_use.web_fetch_requests",
    }
)  # fmt: skip
_GEMINI = frozenset(
    {
        "promptTokenCount", "candidatesTokenCount", "totalTokenCount", "cachedContentTokenCount",
        "thoughtsTokenCount", "toolUsePromptTokenCount",
    }
)  # fmt: skip
_BEDROCK = frozenset(
    {
        "inputTokens", "outputTokens", "totalTokens", "cacheReadInputTokens", "cacheWriteInputTokens",
        "cacheReadInputTokenCount", "cacheWriteInputTokenCount", "inputTokenCount", "outputTokenCount",
    }
)  # fmt: skip

KNOWN_USAGE_FIELDS: dict[str, frozenset[str]] = {
    "openai": _OPENAI,
    "anthropic": _ANTHROPIC,
    "gemini": _GEMINI,
    "bedrock": _BEDROCK | _ANTHROPIC,  # InvokeModel answers in the model vendor's format (Anthropic)
}
"""Numeric usage fields (dotted paths) each format family documents and ledgerlm maps or ignores on
purpose (timings, totals). Lists of per-modality details (Gemini ``promptTokensDetails``) are not
numbers at the top level and are not checked."""


def _numbers(value: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, Mapping):
            out.extend(_numbers(item, f"{path}."))
        elif isinstance(item, int | float) and not isinstance(item, bool):
            out.append((path, item))
    return out


def unknown_usage_fields(raw: Any, family: str) -> list[str]:
    """Dotted paths of the non-zero numeric fields in ``raw`` (a provider's usage object) that the
    ``family``'s documented list does not name; ``[]`` for anything that is not a mapping."""
    if not isinstance(raw, Mapping):
        return []
    known = KNOWN_USAGE_FIELDS.get(family, _OPENAI)
    return sorted(path for path, value in _numbers(raw) if value and path not in known)
