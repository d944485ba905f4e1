"""``POST /v1/responses`` on the real proxy with the official ``openai`` client (``client.responses``),
plain and streamed, against the simulator: passed through to OpenAI and Azure deployments, translated
for Anthropic, Gemini and Bedrock; the spend row's usage (cached input, reasoning), cost breakdown
(tokens plus per-call web/file search fees) and tags (``metadata.tags``); stored responses (retrieve,
input items, delete); SQLite and PostgreSQL."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy, model_list

from ledgerlm.pricing.tool_fees import TOOL_FEES
from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY

NOVA = "us.amazon.nova-micro-v1:0"
IN_PRICE = Decimal("0.000002")
OUT_PRICE = Decimal("0.000008")
CACHED_PRICE = Decimal("0.0000005")
KNOBS: dict[str, Any] = {
    "prompt_tokens": 400,
    "cached_tokens": 300,
    "completion_tokens": 90,
    "reasoning_tokens": 60,
    "content": "Responses reply here.",
}


def _entries(sim_url: str) -> list[dict[str, Any]]:
    prices = {
        "input_cost_per_token": str(IN_PRICE),
        "output_cost_per_token": str(OUT_PRICE),
        "cache_read_input_token_cost": str(CACHED_PRICE),
    }
    return [
        {
            "model_name": "resp-openai",
            "litellm_params": {
                "model": "openai/sim-resp",
                "api_base": f"{sim_url}/v1",
                "api_key": SIM_KEY,
                **prices,
            },
        },
        {
            "model_name": "resp-tools",
            "litellm_params": {
                "model": "openai/sim-resp-tools",
                "api_base": f"{sim_url}/v1",
                "api_key": SIM_KEY,
                **prices,
            },
        },
        {
            "model_name": "resp-azure",
            "litellm_params": {
                "model": "azure/sim-resp-azure",
                "api_base": sim_url,
                "api_key": "az-key",
                **prices,
            },
        },
        {
            "model_name": "resp-claude",
            "litellm_params": {
                "model": "anthropic/claude-sonnet-4-20250514",
                "api_base": sim_url,
                "api_key": "sk-ant",
            },
        },
        {
            "model_name": "resp-nova",
            "litellm_params": {
                "model": "bedrock/us.amazon.nova-micro-v1:0",
                "api_base": sim_url,
                "aws_access_key_id": SIM_ACCESS_KEY_ID,
                "aws_secret_access_key": SIM_SECRET_ACCESS_KEY,
                "aws_region_name": "us-east-1",
            },
        },
        {
            "model_name": "resp-gemini",
            "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_base": sim_url, "api_key": "AIza-x"},
        },
    ]


@pytest.fixture(scope="module")
def rproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    for model in ("sim-resp", "sim-resp-azure", "claude-sonnet-4-20250514", "gemini-2.5-flash", NOVA):
        simulator.models[model] = dict(KNOBS)
    simulator.models["sim-resp-tools"] = {**KNOBS, "web_search_calls": 2, "file_search_calls": 3}
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta)


def _token_cost() -> Decimal:
    # 100 uncached input, 300 cached input, 90 output (reasoning priced as output)
    return 100 * IN_PRICE + 300 * CACHED_PRICE + 90 * OUT_PRICE


@pytest.mark.parametrize("model", ["resp-openai", "resp-azure"])
def test_passthrough_plain_and_stream(rproxy: Proxy, model: str) -> None:
    client = rproxy.client()
    raw = client.responses.with_raw_response.create(
        model=model,
        input="hello responses",
        metadata={"tags": ["team:resp"]},  # type: ignore[dict-item]
        extra_body={"tags": ["app:codex"]},
    )
    response = raw.parse()
    assert response.output_text == "Responses reply here."
    assert response.usage is not None and response.usage.input_tokens == 400
    assert response.usage.input_tokens_details.cached_tokens == 300
    assert response.usage.output_tokens_details.reasoning_tokens == 60
    cost = Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert cost == _token_cost()
    rproxy.wait_written()
    row = rproxy.row(raw.headers["x-request-id"])
    assert row["call_type"] == "aresponses" and row["status"] == "success" and row["spend"] == cost
    assert row["prompt_tokens"] == 400 and row["completion_tokens"] == 90
    assert row["cache_read_input_tokens"] == 300 and row["reasoning_tokens"] == 60
    assert {"app:codex", "team:resp"} <= set(row["request_tags"])
    breakdown = {k: Decimal(v) for k, v in _meta(row)["cost"]["breakdown"].items()}
    assert breakdown == {"input": 100 * IN_PRICE, "cache_read": 300 * CACHED_PRICE, "output": 90 * OUT_PRICE}

    events = list(client.responses.create(model=model, input="hello responses", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert (
        "".join(e.delta for e in events if e.type == "response.output_text.delta") == "Responses reply here."
    )
    final = events[-1].response  # type: ignore[union-attr]
    assert final.usage is not None and final.usage.input_tokens_details.cached_tokens == 300
    rproxy.wait_written()
    streamed = [
        r
        for r in rproxy.rows(model_group=model, call_type="aresponses")
        if r["request_id"] != row["request_id"]
    ]
    assert streamed[-1]["status"] == "success" and streamed[-1]["spend"] == cost
    assert streamed[-1]["reasoning_tokens"] == 60


def test_tool_calls_billed_per_call(rproxy: Proxy) -> None:
    raw = rproxy.client().responses.with_raw_response.create(
        model="resp-tools", input="search please", tools=[{"type": "web_search"}]
    )
    response = raw.parse()
    kinds = [item.type for item in response.output]
    assert kinds.count("web_search_call") == 2 and kinds.count("file_search_call") == 3
    web_fee = TOOL_FEES["web_search_call"][1] * 2
    file_fee = TOOL_FEES["file_search_call"][1] * 3
    cost = Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert cost == _token_cost() + web_fee + file_fee
    rproxy.wait_written()
    row = rproxy.row(raw.headers["x-request-id"])
    meta = _meta(row)
    assert Decimal(meta["cost"]["breakdown"]["web_search"]) == web_fee
    assert Decimal(meta["cost"]["breakdown"]["file_search"]) == file_fee
    assert meta["usage"]["web_search_requests"] == 2
    # streamed: the same usage costs the same
    events = list(rproxy.client().responses.create(model="resp-tools", input="search please", stream=True))
    assert events[-1].type == "response.completed"
    rproxy.wait_written()
    rows = rproxy.rows(model_group="resp-tools")
    assert len(rows) == 2 and {r["spend"] for r in rows} == {cost}


@pytest.mark.parametrize("model", ["resp-claude", "resp-gemini", "resp-nova"])
def test_translated_for_chat_only_providers(rproxy: Proxy, model: str) -> None:
    client = rproxy.client()
    raw = client.responses.with_raw_response.create(
        model=model,
        instructions="Be brief.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        max_output_tokens=50,
        metadata={"tags": ["team:bridge"]},  # type: ignore[dict-item]
    )
    response = raw.parse()
    assert response.object == "response" and response.status == "completed"
    assert response.output_text == "Responses reply here."
    assert response.usage is not None and response.usage.input_tokens == 400
    assert response.usage.input_tokens_details.cached_tokens == 300
    rproxy.wait_written()
    row = rproxy.row(raw.headers["x-request-id"])
    assert row["call_type"] == "aresponses" and row["prompt_tokens"] == 400
    assert row["spend"] == Decimal(raw.headers["x-ledgerlm-response-cost"]) and row["spend"] > 0
    assert _meta(row)["cost"]["breakdown"]
    with client.responses.stream(model=model, input="hi") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "Responses reply here."
    assert final.usage is not None and final.usage.input_tokens == 400
    assert final.usage.output_tokens == response.usage.output_tokens


def test_stored_responses_retrieve_items_delete(rproxy: Proxy) -> None:
    client = rproxy.client()
    created = client.responses.create(model="resp-openai", input="keep me")
    raw = client.responses.with_raw_response.retrieve(created.id)
    again = raw.parse()
    assert again.id == created.id and again.output_text == "Responses reply here."
    rproxy.wait_written()
    row = rproxy.row(raw.headers["x-request-id"])  # a lookup is a call of the lifecycle: one $0 row
    assert row["call_type"] == "aget_responses" and row["status"] == "success" and row["spend"] == 0
    items = client.responses.input_items.list(created.id)
    assert items.data and items.data[0].type == "message"
    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    key = rproxy.new_key()
    mine = client.responses.create(model="resp-openai", input="private")
    with pytest.raises(openai.NotFoundError):
        rproxy.client(key).responses.retrieve(mine.id)  # another key never reads it


def test_responses_errors(rproxy: Proxy) -> None:
    client = rproxy.client()
    with pytest.raises(openai.AuthenticationError):
        rproxy.client("sk-wrong").responses.create(model="resp-openai", input="x")
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="no-such-model", input="x")
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="resp-openai", input="")
    with pytest.raises(openai.BadRequestError):  # a built-in tool cannot be bridged to a chat API
        client.responses.create(model="resp-claude", input="x", tools=[{"type": "web_search"}])
    status, body, _ = rproxy.request(
        "POST", "/responses", {"model": "resp-openai", "input": "no v1"}, key=MASTER_KEY
    )
    assert status == 200 and body["object"] == "response"
