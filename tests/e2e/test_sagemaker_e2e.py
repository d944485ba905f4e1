"""SageMaker through the proxy with the official ``openai`` client against the simulator: plain
(``invocations``) and streamed (``invocations-response-stream``, the AWS event stream of TGI SSE
pieces), priced per second of call as LiteLLM's ``input_cost_per_second`` / ``cost_per_second``
(the whole duration, to the last chunk of a stream); the spend row's usage, seconds, cost breakdown
and tags."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.e2e.conftest import Proxy, model_list

from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY

AWS = {
    "aws_access_key_id": SIM_ACCESS_KEY_ID,
    "aws_secret_access_key": SIM_SECRET_ACCESS_KEY,
    "aws_region_name": "us-east-1",
}
RATE = Decimal("0.00042")
CPS = Decimal("0.002")
CONTENT = "one two three four five six"


def _entries(sim_url: str) -> list[dict[str, Any]]:
    return [
        {
            "model_name": "sm-legacy",  # LiteLLM's docs: input_cost_per_second under model_info
            "litellm_params": {"model": "sagemaker/sim-sm-endpoint", "api_base": sim_url, **AWS},
            "model_info": {"input_cost_per_second": str(RATE)},
        },
        {
            "model_name": "sm-cps",  # cost_per_second wins over the legacy alias
            "litellm_params": {
                "model": "sagemaker/sim-sm-endpoint",
                "api_base": sim_url,
                "cost_per_second": str(CPS),
                "output_cost_per_second": "99",
                **AWS,
            },
        },
        {
            "model_name": "sm-broken",
            "litellm_params": {"model": "sagemaker/sim-sm-broken", "api_base": sim_url, **AWS},
            "model_info": {"input_cost_per_second": str(RATE)},
        },
        {
            "model_name": "sm-tokens",  # per-token prices configured: per-second is ignored
            "litellm_params": {
                "model": "sagemaker/sim-sm-endpoint",
                "api_base": sim_url,
                "input_cost_per_second": "5",
                "input_cost_per_token": "0.000001",
                "output_cost_per_token": "0.000002",
                **AWS,
            },
        },
    ]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('db')}/ledgerlm.db"


@pytest.fixture(scope="module")
def smproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    simulator.models["sim-sm-endpoint"] = {
        "content": CONTENT,
        "prompt_tokens": 11,
        "completion_tokens": 6,
        "chunk_interval_ms": 60,
    }
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta)


def _seconds(row: dict[str, Any]) -> Decimal:
    return Decimal(_meta(row)["usage"]["raw"]["ledgerlm_units"]["second"])


def _elapsed(row: dict[str, Any]) -> float:
    return float((row["endTime"] - row["startTime"]).total_seconds())


def test_plain_call_priced_per_second(smproxy: Proxy) -> None:
    raw = smproxy.client().chat.completions.with_raw_response.create(
        model="sm-legacy",
        messages=[{"role": "user", "content": "hello"}],
        max_tokens=20,
        extra_body={"tags": ["app:sm"]},
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == CONTENT
    assert completion.usage is not None and completion.usage.prompt_tokens == 11
    smproxy.wait_written()
    row = smproxy.row(raw.headers["x-request-id"])
    assert row["status"] == "success" and row["custom_llm_provider"] == "sagemaker"
    assert row["prompt_tokens"] == 11 and row["completion_tokens"] == 6 and "app:sm" in row["request_tags"]
    seconds = _seconds(row)
    assert 0 < seconds <= Decimal(str(_elapsed(row))) + Decimal("0.05")
    assert row["spend"] == RATE * seconds == Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert {k: Decimal(v) for k, v in _meta(row)["cost"]["breakdown"].items()} == {"second": RATE * seconds}


def test_stream_through_the_event_stream_priced_to_the_last_chunk(smproxy: Proxy) -> None:
    stream = smproxy.client().chat.completions.with_raw_response.create(
        model="sm-cps",
        messages=[{"role": "user", "content": "stream please"}],
        stream=True,
        extra_body={"tags": ["app:sm-stream"]},
    )
    chunks = list(stream.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == CONTENT
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == [
        "stop"
    ]
    smproxy.wait_written()
    row = smproxy.row(stream.headers["x-request-id"])
    assert row["status"] == "success" and row["completion_tokens"] == 6
    assert row["prompt_tokens"] > 0 and _meta(row)["usage"]["raw"].get("ledgerlm_estimated") is True
    seconds = _seconds(row)
    # 12 PayloadPart frames 60 ms apart: the duration runs to the last chunk
    assert seconds >= Decimal("0.6"), seconds
    assert row["spend"] == CPS * seconds
    assert {k: Decimal(v) for k, v in _meta(row)["cost"]["breakdown"].items()} == {"second": CPS * seconds}
    assert "app:sm-stream" in row["request_tags"]


def test_per_token_prices_win_over_per_second(smproxy: Proxy) -> None:
    raw = smproxy.client().chat.completions.with_raw_response.create(
        model="sm-tokens", messages=[{"role": "user", "content": "hello"}]
    )
    smproxy.wait_written()
    row = smproxy.row(raw.headers["x-request-id"])
    assert row["spend"] == 11 * Decimal("0.000001") + 6 * Decimal("0.000002")
    assert "ledgerlm_units" not in _meta(row)["usage"]["raw"]


def test_stream_error_frame_is_a_failure_row(smproxy: Proxy, simulator: Simulator) -> None:
    simulator.models["sim-sm-broken"] = {
        "content": CONTENT,
        "completion_tokens": 6,
        "stream_error_after_chunks": 4,
    }
    # the error frame may reach the proxy in the same read as the first tokens: then it is a failure
    # before the client's first byte (an error answer, retried/fallen back like a plain call), else
    # it breaks the relayed stream; either way one failure row with the tokens seen
    request_id = None
    with pytest.raises(openai.APIError, match="ModelStreamError") as raised:
        stream = smproxy.client().chat.completions.with_raw_response.create(
            model="sm-broken", messages=[{"role": "user", "content": "x"}], stream=True
        )
        request_id = stream.headers["x-request-id"]
        list(stream.parse())
    if request_id is None:
        assert isinstance(raised.value, openai.APIStatusError)
        request_id = raised.value.response.headers["x-request-id"]
    smproxy.wait_written()
    row = smproxy.row(request_id)
    assert row["status"] == "failure" and row["completion_tokens"] == 2  # the tokens seen before the error
    assert row["spend"] is not None and row["spend"] >= 0
