"""Every cost category with custom per-token prices; arithmetic written beside each value."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal as D

import pytest

from ledgerlm.errors import ConfigError
from ledgerlm.pricing import compile_price, extract_custom_prices
from ledgerlm.types import Usage

PRICES = {
    "input_cost_per_token": "0.000003",  # $3 / M
    "output_cost_per_token": "0.000015",  # $15 / M
    "cache_read_input_token_cost": "0.0000003",  # $0.30 / M
    "cache_creation_input_token_cost": "0.00000375",  # $3.75 / M
    "cache_creation_input_token_cost_above_1hr": "0.000006",  # $6 / M
    "output_cost_per_reasoning_token": "0.00002",  # $20 / M
    "input_cost_per_audio_token": "0.00004",  # $40 / M
    "output_cost_per_audio_token": "0.00008",  # $80 / M
    "input_cost_per_request": "0.01",
}


def _cost(usage: Usage, prices: Mapping[str, object] = PRICES) -> tuple[D | None, dict[str, D]]:
    cost = compile_price("anthropic", "custom-model", custom=prices).cost(usage)
    assert cost.source == "custom"
    if cost.total is not None:
        assert sum(cost.breakdown.values(), D(0)) == cost.total
        assert all(v >= 0 for v in cost.breakdown.values())
    return cost.total, dict(cost.breakdown)


def test_every_category() -> None:
    usage = Usage(
        input_tokens=10_000,
        cache_read_tokens=4_000,
        cache_write_tokens=3_000,
        cache_write_1h_tokens=1_000,
        input_audio_tokens=500,
        output_tokens=2_000,
        reasoning_tokens=1_200,
        output_audio_tokens=300,
    )
    total, breakdown = _cost(usage)
    assert breakdown == {
        "cache_read": D("0.0012"),  # 4000 * 0.0000003
        "cache_write_1h": D("0.006"),  # 1000 * 0.000006
        "cache_write": D("0.0075"),  # (3000 - 1000) * 0.00000375
        "input_audio": D("0.02"),  # 500 * 0.00004
        "input": D("0.0075"),  # (10000 - 4000 - 1000 - 2000 - 500) = 2500 * 0.000003
        "reasoning": D("0.024"),  # 1200 * 0.00002
        "output_audio": D("0.024"),  # 300 * 0.00008
        "output": D("0.0075"),  # (2000 - 1200 - 300) = 500 * 0.000015
        "request": D("0.01"),  # one request
    }
    assert total == D("0.1077")  # 0.0012+0.006+0.0075+0.02+0.0075+0.024+0.024+0.0075+0.01


def test_missing_category_prices_fall_back_to_parent() -> None:
    # only input/output: cache reads at the input price, reasoning at the output price
    prices = {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000002"}
    total, breakdown = _cost(
        Usage(input_tokens=1000, cache_read_tokens=800, output_tokens=100, reasoning_tokens=60), prices
    )
    assert breakdown == {"input": D("0.001"), "output": D("0.0002")}  # 1000 * 1e-6, 100 * 2e-6
    assert total == D("0.0012")


def test_cache_heavy_anthropic_never_negative() -> None:
    # reads and writes far above uncached input; canonical input includes them (3 + 50000 + 20000)
    usage = Usage(input_tokens=70_003, cache_read_tokens=50_000, cache_write_tokens=20_000, output_tokens=10)
    total, breakdown = _cost(usage)
    # 3*3e-6 + 50000*0.3e-6 + 20000*3.75e-6 + 10*15e-6 + 0.01 request
    assert breakdown["input"] == D("0.000009")
    assert total == D("0.000009") + D("0.015") + D("0.075") + D("0.00015") + D("0.01")


def test_inconsistent_usage_is_clamped_not_negative() -> None:
    # cache counts larger than the input total (a buggy upstream): no category goes negative
    total, breakdown = _cost(Usage(input_tokens=100, cache_read_tokens=500, output_tokens=0))
    assert breakdown["cache_read"] == D("0.00003")  # clamped to 100 * 0.0000003
    assert "input" not in breakdown  # 0 uncached tokens
    assert total is not None and total >= 0


def test_tier_prices_whole_request_once_threshold_crossed() -> None:
    prices = {
        "input_cost_per_token": "0.00000125",
        "output_cost_per_token": "0.00001",
        "input_cost_per_token_above_200k_tokens": "0.0000025",
        "output_cost_per_token_above_200k_tokens": "0.000015",
    }
    price = compile_price("gemini", "g", custom=prices)
    below = price.cost(Usage(input_tokens=200_000, output_tokens=1000))
    assert below.total == D("0.26") and below.tier is None  # 200000*1.25e-6 + 1000*1e-5
    above = price.cost(Usage(input_tokens=200_001, output_tokens=1000))
    assert above.total == D("0.5150025") and above.tier == "above_200k_tokens"  # 200001*2.5e-6 + 1000*1.5e-5


def test_custom_zero_is_free_and_unknown_key_ignored() -> None:
    cost = compile_price("openai", "gpt-4o", custom={"input_cost_per_token": 0, "output_cost_per_token": 0})
    result = cost.cost(Usage(input_tokens=1000, output_tokens=100))
    assert result.total == D(0) and result.priced and result.source == "custom"
    assert extract_custom_prices({"model": "x", "rpm": 10}) is None


def test_custom_prices_override_provider_reported_cost() -> None:
    usage = Usage(input_tokens=10, output_tokens=10, provider_cost=D("5"))
    cost = compile_price("openrouter", "x/y", custom={"input_cost_per_token": "0.1"}).cost(usage)
    assert cost.total == D("1.0") and cost.source == "custom"  # 10 * 0.1; output unpriced -> 0


@pytest.mark.parametrize("bad", [-1, "abc", "nan", True, None, "-0.5"])
def test_bad_custom_price_is_config_error_with_key_path(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        extract_custom_prices({"input_cost_per_token": bad}, None, path="model_list[3]")
    assert "model_list[3].litellm_params.input_cost_per_token" in str(info.value)


def test_extract_custom_prices_reads_both_places_params_win() -> None:
    prices = extract_custom_prices(
        {"input_cost_per_token": "3e-06", "output_cost_per_token_above_128k_tokens": 0.00002},
        {"input_cost_per_token": 1, "cache_read_input_token_cost": 0},
    )
    assert prices == {
        "input_cost_per_token": D("0.000003"),
        "cache_read_input_token_cost": D(0),
        "output_cost_per_token_above_128k_tokens": D("0.00002"),
    }


def test_max_cost_worst_case() -> None:
    price = compile_price("anthropic", "m", custom=PRICES)
    # input at the dearest input rate (audio 0.00004) * 1000 + output at the dearest (audio 0.00008) * 500
    # + 0.01 request fee
    assert price.max_cost(1000, 500) == D("0.04") + D("0.04") + D("0.01")
    assert compile_price("openai", "no-such-model-xyz").max_cost(10, 10) is None
