from __future__ import annotations

from decimal import Decimal

import orjson

from ledgerlm.budgets.estimate import EstimateSettings, estimate_request, worst_case_cost
from ledgerlm.budgets.headers import format_reset, rate_headers, retry_after_seconds
from ledgerlm.budgets.money import from_nano, to_nano
from ledgerlm.budgets.types import EntityRef, RateSnapshot

from .prices import LinearPrice


def test_input_bound_is_body_bytes_and_output_from_max_tokens() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "héllo wörld"}], "max_tokens": 50, "n": 2}
    estimate = estimate_request(body)
    assert estimate.input_tokens == len(orjson.dumps(body))
    assert estimate.output_tokens == 100
    assert estimate.output_bounded


def test_output_falls_back_to_model_max_then_setting() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert estimate_request(body, model_max_output=4096).output_tokens == 4096
    fallback = estimate_request(body, settings=EstimateSettings(fallback_max_output_tokens=777))
    assert (fallback.output_tokens, fallback.output_bounded) == (777, False)
    capped = estimate_request({**body, "max_completion_tokens": 10**6}, model_max_output=8192)
    assert capped.output_tokens == 8192


def test_images_and_tools_add_allowances_and_context_caps() -> None:
    part = {"type": "image_url", "image_url": {"url": "https://x/y.png"}}
    body = {"messages": [{"role": "user", "content": [part, part]}], "tools": [{"type": "function"}]}
    settings = EstimateSettings(image_tokens=1000, tool_overhead_tokens=300)
    estimate = estimate_request(body, body_bytes=100, settings=settings)
    assert estimate.input_tokens == 100 + 2000 + 300
    assert estimate_request(body, body_bytes=100, context_window=500, settings=settings).input_tokens == 500


def test_embeddings_have_no_output() -> None:
    estimate = estimate_request({"model": "e", "input": ["a", "b"]}, body_bytes=40)
    assert (estimate.input_tokens, estimate.output_tokens) == (40, 0)


def test_worst_case_cost_uses_price_contract() -> None:
    estimate = estimate_request({"messages": [], "max_tokens": 10}, body_bytes=100)
    price = LinearPrice(Decimal("0.000001"), Decimal("0.00001"))
    assert worst_case_cost(price, estimate) == Decimal("0.0001") + Decimal("0.0001")
    assert worst_case_cost(None, estimate) is None
    assert worst_case_cost(LinearPrice(None, None), estimate) is None


def test_money_rounds_up_to_nano_and_back_exactly() -> None:
    assert to_nano(Decimal("0.0000000001")) == 1
    assert to_nano(Decimal("1.5")) == 1_500_000_000
    assert from_nano(b"1500000001") == Decimal("1.500000001")


def test_rate_headers_report_tightest_limit() -> None:
    loose = RateSnapshot(EntityRef("team", "t"), 100, 10, None, 0, 30.2)
    tight = RateSnapshot(EntityRef("key", "k"), 5, 4, 1000, 250, 30.2)
    headers = rate_headers([loose, tight])
    assert headers["x-ratelimit-limit-requests"] == "5"
    assert headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-reset-requests"] == "31s"
    assert headers["x-ratelimit-remaining-tokens"] == "750"
    assert format_reset(0.25) == "250ms"
    assert format_reset(65) == "1m5s"
    assert retry_after_seconds(0.1) == 1
