"""OpenAI-family usage (chat completions, embeddings, Responses API, stream usage chunk) -> ``Usage``.

Also used for every OpenAI-compatible provider (Azure, DeepSeek, Groq, Mistral, OpenRouter, xAI, ...).
Field names are from the OpenAI API reference (``CompletionUsage``, ``ResponseUsage``) and the
providers' own docs:

* ``prompt_tokens`` / ``input_tokens`` INCLUDE ``prompt_tokens_details.cached_tokens`` (and
  OpenRouter's ``cache_write_tokens``); DeepSeek reports ``prompt_cache_hit_tokens`` /
  ``prompt_cache_miss_tokens`` (hit + miss = prompt_tokens); Moonshot a top-level ``cached_tokens``.
* ``completion_tokens`` / ``output_tokens`` INCLUDE ``completion_tokens_details.reasoning_tokens``,
  except xAI, whose ``completion_tokens`` EXCLUDES reasoning (``total_tokens = prompt + completion +
  reasoning``); this is detected from the numbers and the canonical ``output_tokens`` includes it.
* Per-call tool fees outside ``usage``: a Responses-API body's ``output`` items of type
  ``web_search_call`` count as ``web_search_requests`` (billed per call) when the usage has none, and
  every billed tool-call item is counted in ``Usage.raw[TOOL_CALLS_KEY]`` (``responses_usage``; priced
  by ``ledgerlm.pricing.tool_fees``).
* Per-unit answers (images, audio, moderations, rerank) are read by ``ledgerlm.usage.media``.
* Provider-reported cost: OpenRouter ``usage.cost`` (USD; for BYOK calls ``cost`` is OpenRouter's fee
  and ``cost_details.upstream_inference_cost`` is billed to the user's own key, so both are added), xAI
  ``cost_in_usd_ticks`` (1 tick = 1e-10 USD).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from ledgerlm.types import Usage
from ledgerlm.usage._common import as_int, as_money, sub, to_mapping
from ledgerlm.usage.media import media_usage

__all__ = [
    "BILLED_TOOL_ITEMS",
    "TOOL_CALLS_KEY",
    "XAI_TICK_USD",
    "OpenAIStreamUsage",
    "provider_cost_openai",
    "responses_usage",
    "tool_call_counts",
    "usage_from_openai",
    "usage_from_openai_body",
    "usage_from_openai_stream",
    "web_search_calls",
]

TOOL_CALLS_KEY = "ledgerlm_tool_calls"
"""Key in ``Usage.raw`` holding the per-call tool counts read from a response's output items."""

BILLED_TOOL_ITEMS: tuple[str, ...] = ("web_search_call", "file_search_call", "code_interpreter_call")
"""Output item types billed per call (OpenAI pricing page, "Built-in tools")."""

XAI_TICK_USD = Decimal("1e-10")
"""USD per xAI ``cost_in_usd_ticks`` tick."""


def usage_from_openai(
    usage: Mapping[str, Any] | Any,
    *,
    provider: str = "openai",
    service_tier: str | None = None,
) -> Usage:
    """Map an OpenAI-family usage object (dict or SDK model) to canonical ``Usage`` (tokens).

    ``usage`` is the ``usage`` member of a chat completion, an embeddings response, the final usage
    chunk of a stream, or a Responses-API response. ``service_tier`` is the body's top-level
    ``service_tier`` when the caller has it (usage objects do not carry it). Never raises on missing or
    null fields (they count 0); the usage is kept unchanged in ``Usage.raw``.
    """
    raw = to_mapping(usage)
    if "input_tokens" in raw and "prompt_tokens" not in raw:
        prompt, prompt_details = as_int(raw.get("input_tokens")), sub(raw, "input_tokens_details")
        completion, completion_details = as_int(raw.get("output_tokens")), sub(raw, "output_tokens_details")
    else:
        prompt, prompt_details = as_int(raw.get("prompt_tokens")), sub(raw, "prompt_tokens_details")
        completion = as_int(raw.get("completion_tokens"))
        completion_details = sub(raw, "completion_tokens_details")
    reasoning = as_int(completion_details.get("reasoning_tokens"))
    output = _output_with_reasoning(raw, prompt, completion, reasoning, provider)
    return Usage(
        input_tokens=prompt,
        output_tokens=output,
        cache_read_tokens=_cache_read(raw, prompt_details, prompt),
        cache_write_tokens=min(prompt, as_int(prompt_details.get("cache_write_tokens"))),
        reasoning_tokens=min(reasoning, output),
        input_audio_tokens=as_int(prompt_details.get("audio_tokens")),
        output_audio_tokens=as_int(completion_details.get("audio_tokens")),
        input_image_tokens=as_int(prompt_details.get("image_tokens")),
        output_image_tokens=as_int(completion_details.get("image_tokens")),
        web_search_requests=_web_searches(raw),
        service_tier=service_tier or _str_or_none(raw.get("service_tier")),
        provider_cost=provider_cost_openai(raw),
        raw=dict(raw),
    )


def _output_with_reasoning(
    raw: Mapping[str, Any], prompt: int, completion: int, reasoning: int, provider: str
) -> int:
    """``completion`` plus reasoning when the provider reports reasoning outside of it (xAI)."""
    if reasoning == 0:
        return completion
    total = raw.get("total_tokens")
    if total is not None:
        total_int = as_int(total)
        if total_int == prompt + completion + reasoning and total_int != prompt + completion:
            return completion + reasoning
        return completion
    # No total to decide from: xAI documents completion_tokens without reasoning.
    if provider == "xai" or reasoning > completion:
        return completion + reasoning
    return completion


def _cache_read(raw: Mapping[str, Any], prompt_details: Mapping[str, Any], prompt: int) -> int:
    """Cached prompt tokens: ``cached_tokens``, else DeepSeek's ``prompt_cache_hit_tokens``, else
    Moonshot's top-level ``usage.cached_tokens``."""
    cached = as_int(prompt_details.get("cached_tokens"))
    if cached == 0:
        cached = as_int(raw.get("prompt_cache_hit_tokens")) or as_int(raw.get("cached_tokens"))
    return min(cached, prompt)


def _web_searches(raw: Mapping[str, Any]) -> int:
    """Web searches billed per search (OpenRouter ``server_tool_use.web_search_requests``)."""
    return as_int(sub(raw, "server_tool_use").get("web_search_requests"))


def provider_cost_openai(raw: Mapping[str, Any]) -> Decimal | None:
    """The cost the provider reports in the usage (USD ``Decimal``), or ``None``.

    OpenRouter: ``cost`` (+ ``cost_details.upstream_inference_cost`` when ``is_byok``);
    xAI: ``cost_in_usd_ticks`` x 1e-10.
    """
    ticks = raw.get("cost_in_usd_ticks")
    if ticks is not None and not isinstance(ticks, bool):
        amount = as_money(ticks)
        if amount is not None:
            return (amount * XAI_TICK_USD).normalize()
    cost = as_money(raw.get("cost"))
    if cost is None:
        return None
    if raw.get("is_byok") is True:
        upstream = as_money(sub(raw, "cost_details").get("upstream_inference_cost"))
        if upstream is not None:
            cost += upstream
    return cost


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def usage_from_openai_body(body: Mapping[str, Any], *, provider: str = "openai") -> Usage | None:
    """The usage of an OpenAI-family response body, or ``None`` when it reports none.

    Per-unit answers (images, audio, moderations, rerank) by ``media_usage``; a Responses-API
    ``response`` (also inside a stream event ``{"type": "response.completed", "response": {...}}``) by
    ``responses_usage``; chat completions and embeddings from ``body["usage"]`` and the body's top-level
    ``service_tier``.
    """
    media = media_usage(body)
    if media is not None:
        return media
    inner = body.get("response")
    if isinstance(inner, Mapping) and "usage" not in body:
        body = inner
    usage = body.get("usage")
    if not isinstance(usage, Mapping) or not usage:
        return None
    if body.get("object") == "response":
        return responses_usage(body, provider=provider)
    out = usage_from_openai(usage, provider=provider, service_tier=_str_or_none(body.get("service_tier")))
    return _with_tool_calls(out, body)


def tool_call_counts(output: Any) -> dict[str, int]:
    """``{item type: count}`` of the billed tool-call items in a response's ``output`` list."""
    counts: dict[str, int] = {}
    if not isinstance(output, list):
        return counts
    for item in output:
        kind = item.get("type") if isinstance(item, Mapping) else None
        if kind in BILLED_TOOL_ITEMS:
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def responses_usage(response: Mapping[str, Any], *, provider: str = "openai") -> Usage:
    """Canonical usage of a Responses-API ``response`` object: its ``usage`` (``usage_from_openai``)
    plus the billed tool calls of its ``output`` (web searches counted in ``web_search_requests``, every
    billed item in ``raw[TOOL_CALLS_KEY]``)."""
    raw_usage = response.get("usage")
    usage = usage_from_openai(
        raw_usage if isinstance(raw_usage, Mapping) else {},
        provider=provider,
        service_tier=_str_or_none(response.get("service_tier")),
    )
    counts = tool_call_counts(response.get("output"))
    if not counts:
        return usage
    raw = {**usage.raw, TOOL_CALLS_KEY: counts}
    searches = max(usage.web_search_requests, counts.get("web_search_call", 0))
    return usage.replace(web_search_requests=searches, raw=raw)


def web_search_calls(body: Mapping[str, Any]) -> int:
    """Web search tool calls a Responses-API body reports OUTSIDE ``usage``: its ``output`` items of
    type ``web_search_call`` (each billed per call, "Web search tool calls" on OpenAI's price list)."""
    output = body.get("output")
    if not isinstance(output, list):
        return 0
    return sum(1 for item in output if isinstance(item, Mapping) and item.get("type") == "web_search_call")


def _with_tool_calls(usage: Usage, body: Mapping[str, Any]) -> Usage:
    """``usage`` with the per-call web search fees of ``body`` when the usage itself counts none."""
    calls = web_search_calls(body)
    if calls and not usage.web_search_requests:
        return usage.replace(web_search_requests=calls)
    return usage


class OpenAIStreamUsage:
    """Keeps the last usage seen over parsed stream chunks (chat ``usage`` chunk, Responses
    ``response.completed`` / ``response.incomplete`` / ``response.failed`` event, whose ``response``
    is read by ``responses_usage`` as the Responses stream decoder reads it)."""

    __slots__ = ("_last", "_response", "_searches", "_tier")

    def __init__(self) -> None:
        self._last: Mapping[str, Any] | None = None
        self._response: Mapping[str, Any] | None = None
        self._tier: str | None = None
        self._searches = 0

    def feed(self, chunk: Mapping[str, Any]) -> None:
        """Take one parsed chunk / event dict."""
        inner = chunk.get("response")
        body: Mapping[str, Any] = inner if isinstance(inner, Mapping) else chunk
        usage = body.get("usage")
        if isinstance(usage, Mapping) and usage:
            self._last = usage
            self._response = inner if isinstance(inner, Mapping) else None
        tier = body.get("service_tier")
        if isinstance(tier, str):
            self._tier = tier
        self._searches = max(self._searches, web_search_calls(body))

    def usage(self, *, provider: str = "openai") -> Usage | None:
        """The stream's ``Usage`` or ``None`` when no chunk carried usage."""
        if self._last is None:
            return None
        if self._response is not None:
            return responses_usage(self._response, provider=provider)
        usage = usage_from_openai(self._last, provider=provider, service_tier=self._tier)
        if self._searches and not usage.web_search_requests:
            usage = usage.replace(web_search_requests=self._searches)
        return usage


def usage_from_openai_stream(
    events: Iterable[Mapping[str, Any]], *, provider: str = "openai"
) -> Usage | None:
    """The usage of a whole OpenAI-family stream (parsed chunks), or ``None`` when it had none."""
    acc = OpenAIStreamUsage()
    for event in events:
        acc.feed(event)
    return acc.usage(provider=provider)
