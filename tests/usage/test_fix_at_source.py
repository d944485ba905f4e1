"""Fixes at the source that reconciliation revealed (issue 18 item 6): the requested service tier
prices a call whose reply names none; web search calls reported outside ``usage`` are billed; a usage
field no mapping knows is reported (and flagged on the reconciliation row)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import ledgerlm
from ledgerlm.ledger.reconcile.ledger_side import row_lines
from ledgerlm.pricing import compile_price
from ledgerlm.simulator import Simulator
from ledgerlm.types import Usage
from ledgerlm.usage.known_fields import unknown_usage_fields
from ledgerlm.usage.openai import OpenAIStreamUsage, usage_from_openai_body
from ledgerlm.usage.tier import with_requested_tier

MESSAGES = [{"role": "user", "content": "price me at the tier I asked for"}]


def test_requested_flex_tier_prices_the_call_when_the_reply_names_none() -> None:
    knobs = {"o4-mini": {"prompt_tokens": 1000, "completion_tokens": 100}}
    with Simulator(models=knobs) as sim:
        common = {"api_base": f"{sim.url}/v1", "api_key": "sk-test"}
        flex = ledgerlm.completion("openai/o4-mini", MESSAGES, service_tier="flex", **common)
        plain = ledgerlm.completion("openai/o4-mini", MESSAGES, **common)
        assert sim.requests[-2].json["service_tier"] == "flex"  # sent upstream; the reply names no tier
    price = compile_price("openai", "o4-mini")
    usage = Usage(input_tokens=1000, output_tokens=100)
    assert plain.ledger.response_cost == price.cost(usage).total
    assert flex.ledger.response_cost == price.cost(usage.replace(service_tier="flex")).total
    assert flex.ledger.response_cost < plain.ledger.response_cost


def test_reply_tier_wins_and_auto_is_not_a_price() -> None:
    served = Usage(input_tokens=1, service_tier="default")
    assert with_requested_tier(served, {"service_tier": "flex"}).service_tier == "default"
    assert with_requested_tier(Usage(input_tokens=1), {"service_tier": "auto"}).service_tier is None
    assert with_requested_tier(Usage(input_tokens=1), {"service_tier": "Priority"}).service_tier == "priority"


RESPONSE = {
    "object": "response",
    "model": "gpt-4o",
    "output": [
        {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        {"type": "web_search_call", "id": "ws_2", "status": "completed"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "found"}]},
    ],
    "usage": {"input_tokens": 300, "output_tokens": 20, "total_tokens": 320},
}


def test_web_search_calls_outside_usage_are_billed() -> None:
    usage = usage_from_openai_body(RESPONSE)
    assert usage is not None and usage.web_search_requests == 2
    stream = OpenAIStreamUsage()
    stream.feed({"type": "response.completed", "response": RESPONSE})
    streamed = stream.usage()
    assert streamed is not None and streamed.web_search_requests == 2
    cost = compile_price("openai", "gpt-4o").cost(usage)
    without = compile_price("openai", "gpt-4o").cost(usage.replace(web_search_requests=0))
    assert cost.breakdown["web_search"] == Decimal("0.02")  # $10 per 1,000 calls in the catalog
    assert cost.total == without.total + Decimal("0.02")  # type: ignore[operator]


def test_unknown_usage_field_is_reported_and_flagged_on_the_row(tmp_path: Path) -> None:
    raw = {
        "prompt_tokens": 10,
        "completion_tokens": 2,
        "prompt_tokens_details": {"cached_tokens": 0, "video_tokens": 7},
    }
    assert unknown_usage_fields(raw, "openai") == ["prompt_tokens_details.video_tokens"]
    assert unknown_usage_fields(
        {"input_tokens": 5, "cache_creation": {"ephemeral_24h_input_tokens": 3}}, "anthropic"
    ) == ["cache_creation.ephemeral_24h_input_tokens"]
    assert unknown_usage_fields(raw | {"prompt_tokens_details": {"cached_tokens": 4}}, "openai") == []
    usage = Usage(input_tokens=10, output_tokens=2, raw=raw)
    row = {
        "startTime": datetime(2026, 3, 14, tzinfo=UTC),
        "model": "gpt-4o-mini",
        "spend": Decimal("0.0000027"),
        "metadata": {
            "usage": usage.to_dict(),
            "cost": {"breakdown": {"input": "0.0000015", "output": "0.0000012"}},
        },
    }
    lines = row_lines(row, "openai")
    assert {line.cell.category for line in lines} == {"input", "output"}
    assert all(line.flags == ("unknown_usage_field:prompt_tokens_details.video_tokens",) for line in lines)


def test_unknown_usage_field_is_counted_in_a_metric() -> None:
    from ledgerlm.integrations.events import to_export_dict
    from ledgerlm.integrations.prometheus import PrometheusMetrics

    knobs = {"gpt-4o-mini": {"prompt_tokens": 10}}
    with Simulator(models=knobs) as sim:
        reply = ledgerlm.completion("openai/gpt-4o-mini", MESSAGES, api_base=f"{sim.url}/v1", api_key="k")
    event = to_export_dict(reply.ledger.record, content_logging=False)
    event["usage"]["raw"]["prompt_tokens_details"]["video_tokens"] = 3  # a field a provider just added
    metrics = PrometheusMetrics()
    metrics.record_call(event)
    metrics.record_call(event)
    labels = {"provider": "openai", "usage_field": "prompt_tokens_details.video_tokens"}
    assert metrics.registry.get_sample_value("ledgerlm_unknown_usage_fields_total", labels) == 2


def test_moonshot_top_level_cached_tokens_are_cache_reads() -> None:
    body = {"usage": {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105, "cached_tokens": 60}}
    usage = usage_from_openai_body(body, provider="moonshot")
    assert usage is not None and usage.cache_read_tokens == 60 and usage.input_tokens == 100
    assert unknown_usage_fields(body["usage"], "openai") == []
