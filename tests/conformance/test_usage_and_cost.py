"""Conformance: every recorded success case in ../shared/fixtures -> canonical usage and cost.

For each case: the canonical ``Usage`` ledgerlm reads from the recorded response equals the numbers in
the case's ``meta.json`` ``usage_summary`` under the DESIGN.md section 3 rules (restated below in plain
form, independently of ledgerlm's mapping code); ``input + output`` equals the provider's own total where
it reports one; the case is priced (or unpriced with a reason, listed in ``UNPRICED``); the breakdown sums
to the total; and the catalog cost equals genai-prices' own ``calc_price`` for the same usage (so no
token category is lost or double counted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from genai_prices.types import Usage as GPUsage

from ledgerlm.pricing import price_report, resolve_model
from ledgerlm.types import Usage

pytestmark = pytest.mark.conformance

# Fixture folder -> ledgerlm provider name.
PROVIDERS = {"azure_openai": "azure", "vertex": "vertex_ai"}
RESPONSE_FILES = ("response.eventstream", "response.json", "response.sse", "response.chunks.txt")
AT = datetime(2026, 11, 1, 12, tzinfo=UTC)
# Streams recorded without usage (no stream_options.include_usage): unpriced, reason "no usage".
NO_USAGE = {"azure_openai/chat_stream_no_usage", "groq/chat_stream", "openai/chat_stream_no_usage"}


def _cases(root: Path) -> list[Path]:
    out = []
    for meta in sorted(root.glob("*/*/meta.json")):
        if json.loads(meta.read_text())["status"] == 200:
            out.append(meta.parent)
    return out


def _int(d: Mapping[str, Any], *keys: str) -> int:
    for key in keys:
        if d.get(key) is not None:
            return int(d[key])
    return 0


def _final_usage(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    """The usage object the summary shows (Anthropic-style event lists merged field by field)."""
    if "events" in summary:
        merged: dict[str, Any] = {}
        for event in summary["events"]:
            merged.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            if "amazon-bedrock-invocationMetrics" in event and not merged:
                merged.update(event["amazon-bedrock-invocationMetrics"])
        return merged
    final = summary.get("final_event", summary)
    for key in ("usage", "usageMetadata", "amazon-bedrock-invocationMetrics"):
        if isinstance(final.get(key), Mapping):
            return final[key]  # type: ignore[no-any-return]
    return {}


def _expected(u: Mapping[str, Any]) -> tuple[dict[str, int], int | None]:
    """``(canonical counts, provider total or None)`` by the DESIGN.md rules, per usage shape."""
    if "promptTokenCount" in u:  # Gemini: prompt includes cached; tool-use prompt and thoughts beside
        thoughts = _int(u, "thoughtsTokenCount")
        counts = {
            "input_tokens": _int(u, "promptTokenCount") + _int(u, "toolUsePromptTokenCount"),
            "output_tokens": _int(u, "candidatesTokenCount") + thoughts,
            "cache_read_tokens": _int(u, "cachedContentTokenCount"),
            "reasoning_tokens": thoughts,
        }
        return counts, u.get("totalTokenCount")
    if "inputTokens" in u or "inputTokenCount" in u:  # Bedrock: inputTokens excludes cache read/write
        read = _int(u, "cacheReadInputTokens", "cacheReadInputTokenCount")
        write = _int(u, "cacheWriteInputTokens", "cacheWriteInputTokenCount")
        counts = {
            "input_tokens": _int(u, "inputTokens", "inputTokenCount") + read + write,
            "output_tokens": _int(u, "outputTokens", "outputTokenCount"),
            "cache_read_tokens": read,
            "cache_write_tokens": write,
        }
        return counts, u.get("totalTokens")
    if "cache_creation_input_tokens" in u or ("input_tokens" in u and "input_tokens_details" not in u):
        # Anthropic: input_tokens excludes cache reads and writes
        read, write = _int(u, "cache_read_input_tokens"), _int(u, "cache_creation_input_tokens")
        counts = {
            "input_tokens": _int(u, "input_tokens") + read + write,
            "output_tokens": _int(u, "output_tokens"),
            "cache_read_tokens": read,
            "cache_write_tokens": write,
        }
        return counts, None
    # OpenAI family: prompt includes cached; completion includes reasoning (xAI: reasoning beside it)
    details_in = u.get("prompt_tokens_details") or u.get("input_tokens_details") or {}
    details_out = u.get("completion_tokens_details") or u.get("output_tokens_details") or {}
    prompt, completion = (
        _int(u, "prompt_tokens", "input_tokens"),
        _int(u, "completion_tokens", "output_tokens"),
    )
    reasoning = _int(details_out, "reasoning_tokens")
    total = u.get("total_tokens")
    if total is not None and reasoning and total == prompt + completion + reasoning:
        completion += reasoning
    counts = {
        "input_tokens": prompt,
        "output_tokens": completion,
        "cache_read_tokens": _int(details_in, "cached_tokens") or _int(u, "prompt_cache_hit_tokens"),
        "cache_write_tokens": _int(details_in, "cache_write_tokens"),
        "reasoning_tokens": reasoning,
    }
    return counts, total


def _model(case: Path, meta: Mapping[str, Any]) -> str | None:
    if meta.get("model"):
        return str(meta["model"])
    request = case / "request.json"
    if request.exists():
        body = json.loads(request.read_text())
        model = body.get("model") or ((body.get("requests") or [{}])[0]).get("model")
        return str(model).removeprefix("models/") if model else None
    return None


def _genai_total(provider: str, model: str, usage: Usage) -> Decimal:
    """genai-prices' own calc_price for the same usage (the reference for catalog costs)."""
    match = resolve_model(provider, model)
    assert match is not None
    gp = GPUsage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cache_write_1h_tokens=usage.cache_write_1h_tokens,
        output_reasoning_tokens=usage.reasoning_tokens,
        input_audio_tokens=usage.input_audio_tokens,
        output_audio_tokens=usage.output_audio_tokens,
        web_searches=usage.web_search_requests,
    )
    tier = usage.service_tier
    context = {"service_tier": tier} if tier in ("flex", "priority") else None
    calc = match.model.calc_price(gp, match.provider, genai_request_timestamp=AT, price_context=context)
    return Decimal(calc.total_price)


def test_every_success_case_usage_and_cost(shared_fixtures: Path) -> None:
    cases = _cases(shared_fixtures)
    assert len(cases) > 50
    failures: list[str] = []
    sources: dict[str, int] = {}
    for case in cases:
        name = f"{case.parent.name}/{case.name}"
        try:
            source = _check_case(case, name)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
        else:
            sources[source] = sources.get(source, 0) + 1
    assert not failures, "\n".join(failures)
    # every family is covered: catalog prices checked against genai-prices, provider-reported costs used
    assert sources.get("catalog", 0) >= 50 and sources.get("provider", 0) >= 4, sources


def _check_case(case: Path, name: str) -> str:
    """Check one case; returns the cost source (``"none"`` for the streams without usage)."""
    meta = json.loads((case / "meta.json").read_text())
    provider = PROVIDERS.get(case.parent.name, case.parent.name)
    data = next((case / f).read_bytes() for f in RESPONSE_FILES if (case / f).exists())
    model = _model(case, meta)
    report = price_report(data, provider=provider, model=model, at=AT)
    if name in NO_USAGE:
        assert report.usage is None and report.cost.unpriced_reason == "the response carries no usage"
        return "none"
    assert report.usage is not None, "no usage read"
    counts, total = _expected(_final_usage(meta["usage_summary"]))
    got = {key: getattr(report.usage, key) for key in counts}
    assert got == counts, f"usage {got} != meta {counts}"
    if total is not None:
        assert report.usage.total_tokens == total, "input + output != provider total"
    cost = report.cost
    assert cost.total is not None, f"unpriced: {cost.unpriced_reason}"
    assert cost.total >= 0 and sum(cost.breakdown.values(), Decimal(0)) == cost.total
    if cost.source == "catalog":
        assert model is not None
        reference = _genai_total(report.provider, report.model or model, report.usage)
        assert cost.total == reference, f"cost {cost.total} != genai-prices {reference}"
    return str(cost.source)
