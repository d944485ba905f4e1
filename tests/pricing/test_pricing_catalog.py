"""Catalog pricing (genai-prices 0.2.3 bundled data): resolution rules, time-versioned prices,
service tiers, fees, provider-reported cost, unpriced. Rates quoted in $/M tokens beside each value."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal as D

import genai_prices
import pytest

from ledgerlm.pricing import compile_price, data_version, resolve_model
from ledgerlm.types import Usage

NOV = datetime(2026, 11, 1, 12, tzinfo=UTC)
JAN = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _check(cost_total: D | None, breakdown: dict[str, D]) -> None:
    assert cost_total is not None
    assert sum(breakdown.values(), D(0)) == cost_total


@pytest.mark.parametrize(
    ("provider", "model", "ref"),
    [
        ("anthropic", "claude-sonnet-4-6-20260219", "anthropic/claude-sonnet-4-6"),  # date suffix
        ("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123", "openai/ft:gpt-4o-mini"),  # fine-tune price
        ("openai", "openai/gpt-4o", "openai/gpt-4o"),  # provider prefix
        (
            "bedrock",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "aws/regional.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "bedrock",
            "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "aws/regional.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "bedrock",
            "apac.anthropic.claude-3-5-sonnet-20240620-v1:0",
            "aws/regional.anthropic.claude-3-5-sonnet-20240620-v1:0",
        ),
        (
            "bedrock",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "aws/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        ("openrouter", "openai/gpt-4o", "openrouter/openai/gpt-4o"),  # OpenRouter vendor/model
        ("openrouter", "x-ai/grok-3-mini", "x-ai/grok-3-mini"),  # vendor fallback
        ("vertex_ai", "claude-3-5-sonnet@20240620", "google/claude-3-5-sonnet"),  # Vertex @date
        ("azure", "gpt-4.1-mini-2025-04-14", "azure/gpt-4.1-mini"),
    ],
)
def test_model_resolution(provider: str, model: str, ref: str) -> None:
    match = resolve_model(provider, model)
    assert match is not None and match.model_ref == ref


def test_date_suffixed_and_fine_tuned_prices() -> None:
    # claude-sonnet-4-6 from 2026-03-13: $3 in, $15 out: 10000*3e-6 + 1000*15e-6 = 0.045
    cost = compile_price("anthropic", "claude-sonnet-4-6-20260219").cost(
        Usage(input_tokens=10_000, output_tokens=1_000), at=NOV
    )
    assert cost.total == D("0.045") and cost.source == "catalog"
    # ft:gpt-4o-mini: $0.30 in, $1.20 out: 1000*0.3e-6 + 500*1.2e-6 = 0.0009 (base price: 0.00045)
    ft = compile_price("openai", "ft:gpt-4o-mini-2024-07-18:acme::abc123").cost(
        Usage(input_tokens=1000, output_tokens=500)
    )
    assert ft.total == D("0.0009")


def test_time_versioned_price_and_tier() -> None:
    price = compile_price("anthropic", "claude-sonnet-4-6")
    usage = Usage(input_tokens=300_000, output_tokens=1_000)
    early = price.cost(usage, at=JAN)  # before 2026-03-13: tiered, 300k > 200k -> $6 in, $22.5 out
    assert early.total == D("1.8225") and early.tier == "above_200k_tokens"  # 300000*6e-6 + 1000*22.5e-6
    late = price.cost(usage, at=NOV)  # flat $3 / $15: 0.9 + 0.015
    assert late.total == D("0.915") and late.tier is None
    _check(late.total, dict(late.breakdown))


def test_cache_write_one_hour_catalog_rate() -> None:
    # claude-3-5-haiku: $0.80 in, $1 cache write (5m), $1.60 cache write 1h
    usage = Usage(input_tokens=1_003, cache_write_tokens=1_000, cache_write_1h_tokens=400)
    cost = compile_price("anthropic", "claude-3-5-haiku-20241022").cost(usage, at=NOV)
    assert dict(cost.breakdown) == {
        "cache_write_1h": D("0.00064"),  # 400 * 1.6e-6
        "cache_write": D("0.0006"),  # 600 * 1e-6
        "input": D("0.0000024"),  # 3 * 0.8e-6
    }
    assert cost.total == D("0.0012424")


def test_service_tiers_follow_the_price_dates() -> None:
    price = compile_price("openai", "gpt-4o")
    priority = Usage(input_tokens=1000, output_tokens=100, service_tier="priority")
    # from 2026-10-12 priority: $4.25 in, $17 out: 1000*4.25e-6 + 100*17e-6 = 0.00595
    assert (price.cost(priority, at=NOV).total, price.cost(priority, at=NOV).tier) == (
        D("0.00595"),
        "priority",
    )
    # before: standard $2.50 / $10: 0.0025 + 0.001
    assert price.cost(priority, at=JAN).total == D("0.0035")
    assert price.cost(priority, at=JAN).tier is None
    # the request's tier applies when the response names none; the response's own tier wins
    plain = priority.replace(service_tier=None)
    assert price.cost(plain, at=NOV, service_tier="priority").total == D("0.00595")
    assert price.cost(priority.replace(service_tier="default"), at=NOV, service_tier="priority").total == D(
        "0.0035"
    )
    # batch from 2026-10-14: $1.25 / $5: 0.00125 + 0.0005
    assert price.cost(priority.replace(service_tier="batch"), at=NOV).total == D("0.00175")


def test_deepseek_off_peak_time_of_day() -> None:
    price = compile_price("deepseek", "deepseek-chat")
    usage = Usage(input_tokens=1_000_000)
    assert price.cost(usage, at=datetime(2026, 5, 1, 10, tzinfo=UTC)).total == D("0.27")  # peak $0.27/M
    assert price.cost(usage, at=datetime(2026, 5, 1, 20, tzinfo=UTC)).total == D("0.135")  # off-peak
    # window edges: peak is 00:30 <= t < 16:30 UTC
    assert price.cost(usage, at=datetime(2026, 5, 1, 0, 29, 59, tzinfo=UTC)).total == D("0.135")
    assert price.cost(usage, at=datetime(2026, 5, 1, 0, 30, tzinfo=UTC)).total == D("0.27")
    assert price.cost(usage, at=datetime(2026, 5, 1, 16, 29, 59, tzinfo=UTC)).total == D("0.27")
    assert price.cost(usage, at=datetime(2026, 5, 1, 16, 30, tzinfo=UTC)).total == D("0.135")


def test_web_search_fee() -> None:
    # gpt-4o: $10 per 1000 searches -> 2 searches = $0.02, plus 100 * 2.5e-6 input
    cost = compile_price("openai", "gpt-4o").cost(Usage(input_tokens=100, web_search_requests=2), at=NOV)
    assert dict(cost.breakdown) == {"input": D("0.00025"), "web_search": D("0.02")}


def test_provider_reported_cost_is_used_and_recorded() -> None:
    usage = Usage(input_tokens=12, output_tokens=291, provider_cost=D("0.000146625"))
    cost = compile_price("xai", "grok-3-mini").cost(usage)
    assert (cost.total, cost.source, cost.model_ref) == (D("0.000146625"), "provider", "x-ai/grok-3-mini")
    assert dict(cost.breakdown) == {"provider_reported": D("0.000146625")}
    # the catalog gives the same: 1*0.3e-6 + 11*0.075e-6 + 291*0.5e-6 = 0.000146625
    catalog = compile_price("xai", "grok-3-mini").cost(
        usage.replace(provider_cost=None, cache_read_tokens=11)
    )
    assert catalog.total == D("0.000146625")


def test_unknown_model_unpriced_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    price = compile_price("openai", "acme-internal-llm-7-test-warn-once")
    with caplog.at_level(logging.WARNING, logger="ledgerlm.pricing"):
        first = price.cost(Usage(input_tokens=10, output_tokens=5))
        price.cost(Usage(input_tokens=10, output_tokens=5))
    assert first.total is None and not first.priced and first.breakdown == {}
    assert first.unpriced_reason is not None and "acme-internal-llm-7" in first.unpriced_reason
    assert len([r for r in caplog.records if "acme-internal-llm-7-test-warn-once" in r.getMessage()]) == 1


def test_base_model_prices_an_azure_deployment_name() -> None:
    price = compile_price("azure", "my-prod-deployment", base_model="gpt-4o-2024-08-06")
    cost = price.cost(Usage(input_tokens=1000), at=NOV)
    assert cost.total == D("0.0025") and cost.model_ref == "azure/gpt-4o"  # 1000 * 2.5e-6
    assert compile_price("azure", "my-prod-deployment").cost(Usage(input_tokens=1)).total is None


def test_data_version_and_max_cost() -> None:
    assert data_version() == f"genai-prices {genai_prices.__version__}"
    price = compile_price("openai", "gpt-4o")
    # worst case: 1000 input at the dearest input rate ($2.50) + 100 output at $10
    assert price.max_cost(1000, 100, at=NOV) == D("0.0035")
