"""completion_cost / price_report on bodies, streams, SDK-like objects and config files; the shared
hand-checked cases (../shared/cases/cost_cases.jsonl)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from ledgerlm.errors import ConfigError
from ledgerlm.pricing import NotAResponseError, completion_cost, price_report
from ledgerlm.types import Usage

AT = "2026-11-01T12:00:00Z"

ANTHROPIC_BODY = {
    "id": "msg_1",
    "type": "message",
    "model": "claude-3-5-haiku-20241022",
    "usage": {
        "input_tokens": 4,
        "cache_read_input_tokens": 2455,
        "cache_creation_input_tokens": 0,
        "output_tokens": 23,
    },
}
ANTHROPIC_SSE = (
    'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-3-5-haiku-20241022",'
    '"usage":{"input_tokens":4,"cache_read_input_tokens":2455,"cache_creation_input_tokens":0,"output_tokens":1}}}\n\n'
    'event: message_delta\ndata: {"type":"message_delta","delta":{},"usage":{"output_tokens":23}}\n\n'
    'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def test_streamed_and_non_streamed_cost_the_same() -> None:
    body = completion_cost(ANTHROPIC_BODY, at=AT)
    stream = completion_cost(ANTHROPIC_SSE, at=AT)
    stream_bytes = completion_cost(ANTHROPIC_SSE.encode(), at=AT)
    # claude-3-5-haiku: 4*0.8e-6 + 2455*0.08e-6 + 23*4e-6 = 0.0000032 + 0.0001964 + 0.000092
    assert body.total == stream.total == stream_bytes.total == D("0.0002916")
    assert body.breakdown == stream.breakdown


def test_json_text_and_openai_stream_events() -> None:
    body = {
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "usage": {
            "prompt_tokens": 3897,
            "completion_tokens": 75,
            "prompt_tokens_details": {"cached_tokens": 3840},
        },
    }
    events = [
        {"object": "chat.completion.chunk", "model": "gpt-4o-2024-08-06", "choices": [{"delta": {}}]},
        {
            "object": "chat.completion.chunk",
            "model": "gpt-4o-2024-08-06",
            "choices": [],
            "usage": body["usage"],
        },
    ]
    # 57*2.5e-6 + 3840*1.25e-6 + 75*10e-6 = 0.0001425 + 0.0048 + 0.00075
    assert completion_cost(json.dumps(body), at=AT).total == D("0.0056925")
    assert completion_cost(events, at=AT).total == D("0.0056925")


@dataclass
class _Ledger:
    usage: Usage


@dataclass
class _Response:
    model: str
    ledger: _Ledger


def test_sdk_response_object_is_duck_typed() -> None:
    response = _Response(
        "anthropic/claude-3-5-haiku-20241022", _Ledger(Usage(input_tokens=1000, output_tokens=10))
    )
    report = price_report(response, at=AT)
    assert (report.provider, report.model) == ("anthropic", "claude-3-5-haiku-20241022")
    assert report.cost.total == D("0.00084")  # 1000*0.8e-6 + 10*4e-6


def test_config_custom_prices_and_base_model(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: cheap\n"
        "    litellm_params:\n"
        "      model: anthropic/claude-3-5-haiku-20241022\n"
        "      input_cost_per_token: os.environ/LEDGERLM_TEST_PRICE_NOT_SET_123\n"
        "  - model_name: free\n"
        "    litellm_params: {model: anthropic/claude-3-5-haiku-20241022, input_cost_per_token: 0,"
        " output_cost_per_token: 0}\n"
        "  - model_name: azure-prod\n"
        "    litellm_params: {model: azure/prod-deployment}\n"
        "    model_info: {base_model: gpt-4o-2024-08-06}\n"
    )
    free = completion_cost(ANTHROPIC_BODY, model="free", config=str(config), at=AT)
    assert (free.total, free.source) == (D(0), "custom")  # custom 0 is free, not list price
    body = {"object": "chat.completion", "model": "prod-deployment", "usage": {"prompt_tokens": 1000}}
    azure = price_report(body, model="azure-prod", config=config, at=AT)
    assert (azure.provider, azure.cost.total, azure.cost.model_ref) == ("azure", D("0.0025"), "azure/gpt-4o")
    with pytest.raises(ConfigError):  # os.environ/VAR unset -> None -> not a number
        completion_cost(ANTHROPIC_BODY, model="cheap", config=config)
    with pytest.raises(ConfigError):
        completion_cost(ANTHROPIC_BODY, model="no-such-entry", config=config)


def test_bad_inputs() -> None:
    with pytest.raises(NotAResponseError):
        completion_cost("not json at all")
    with pytest.raises(NotAResponseError):
        completion_cost({"error": {"message": "bad key"}}, provider="openai")
    with pytest.raises(ValueError):
        completion_cost(ANTHROPIC_BODY, at="yesterday")


def test_no_usage_and_no_model_are_unpriced() -> None:
    chunk = {"object": "chat.completion.chunk", "model": "gpt-4o", "choices": [{"delta": {"content": "x"}}]}
    assert completion_cost([chunk]).unpriced_reason == "the response carries no usage"
    converse = {
        "output": {"message": {}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 1, "outputTokens": 1},
    }
    no_model = completion_cost(converse)
    assert no_model.total is None and "model" in (no_model.unpriced_reason or "")
    priced = completion_cost(converse, model="us.amazon.nova-micro-v1:0", at=AT)
    assert priced.total is not None and priced.model_ref == "aws/amazon.nova-micro-v1:0"


def _case_config(case: dict[str, Any]) -> dict[str, Any] | None:
    if case["prices"] is None:
        return None
    target = (case.get("response") or {}).get("model") or "custom-model"
    entry = {
        "model_name": "case",
        "litellm_params": {"model": f"{case['provider']}/{target}", **case["prices"]},
    }
    return {"model_list": [entry]}


def test_shared_cost_cases(shared_cases: Path) -> None:
    cases = [
        json.loads(line) for line in (shared_cases / "cost_cases.jsonl").read_text().splitlines() if line
    ]
    assert cases
    for case in cases:
        config = _case_config(case)
        report = price_report(
            case.get("response") or case["stream_sse"],
            provider=case["provider"],
            model="case" if config else None,
            config=config,
            at=case["at"],
        )
        expected = case["expected"]
        assert report.usage is not None, case["id"]
        for name, value in expected["usage"].items():
            assert getattr(report.usage, name) == value, (case["id"], name)
        total = expected["total"]
        assert report.cost.total == (None if total is None else D(total)), case["id"]
        if report.cost.total is not None:
            assert sum(report.cost.breakdown.values(), D(0)) == report.cost.total
