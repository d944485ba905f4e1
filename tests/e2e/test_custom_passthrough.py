"""``general_settings.pass_through_endpoints`` (LiteLLM's custom pass-through routes) on the real proxy
against the simulator: the body goes to the target as it is with the entry's headers (``os.environ/``
resolved), ``auth: true`` takes virtual keys (401 without), ``include_subpath`` serves the sub-paths
(the official ``openai`` client pointed at the route), ``default_query_params``; each call logs one
row: priced from the answer's usage when it is OpenAI-shaped (plain and streamed), by
``cost_per_request`` when set, else unpriced with the reason; a target's error is relayed with a
failure row; a path ledgerlm serves itself is not mounted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy

from ledgerlm.simulator import Simulator

RATE = Decimal("0.015")


def _endpoints(sim_url: str) -> list[dict[str, Any]]:
    return [
        {
            "path": "/custom-openai",
            "target": f"{sim_url}/v1",
            "include_subpath": True,
            "auth": True,
            "headers": {"Authorization": "Bearer os.environ/PT_SIM_KEY"},
        },
        {
            "path": "/rerank-open",  # open route, unknown answer format: unpriced
            "target": f"{sim_url}/v2/rerank",
            "default_query_params": {"version": "v2"},
            "forward_headers": True,
            "headers": {"Authorization": "Bearer os.environ/PT_SIM_KEY"},
        },
        {
            "path": "/rerank-priced",
            "target": f"{sim_url}/v2/rerank",
            "auth": True,
            "cost_per_request": str(RATE),
            "headers": {"Authorization": "Bearer os.environ/PT_SIM_KEY"},
        },
        {"path": "/v1/rerank", "target": "https://api.cohere.com/v1/rerank"},  # ledgerlm serves it
    ]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('db')}/ledgerlm.db"


@pytest.fixture(scope="module")
def ptproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Iterator[Proxy]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PT_SIM_KEY", SIM_KEY)
        yield proxy_factory(
            database_url, general_settings={"pass_through_endpoints": _endpoints(simulator.url)}
        )


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta)


def _client(proxy: Proxy, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{proxy.url}/custom-openai", api_key=key, max_retries=0, timeout=30)


def test_openai_client_through_a_custom_route(ptproxy: Proxy, simulator: Simulator) -> None:
    key = ptproxy.new_key(tags=["team:pt"])
    client = _client(ptproxy, key)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_body={"tags": ["app:pt"]}
        )
        sent = simulator.requests[-1]
        streamed = list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
    finally:
        client.close()
    completion = raw.parse()
    assert sent.path == "/v1/chat/completions" and sent.headers["authorization"] == "***"
    assert sent.json["tags"] == ["app:pt"], "the body is forwarded as it is"
    ptproxy.wait_written()
    row = ptproxy.row(raw.headers["x-request-id"])
    assert row["call_type"] == "pass_through_endpoint" and row["status"] == "success"
    assert row["model_group"] == "/custom-openai" and row["model"] == "gpt-4o-mini"
    assert completion.usage is not None and row["prompt_tokens"] == completion.usage.prompt_tokens
    assert row["spend"] is not None and row["spend"] > 0
    assert row["spend"] == Decimal(raw.headers["x-ledgerlm-response-cost"])
    assert set(_meta(row)["cost"]["breakdown"]) == {"input", "output"}
    assert {"app:pt", "team:pt"} <= set(row["request_tags"]) and row["api_key"]
    assert streamed[-1].usage is not None
    rows = [r for r in ptproxy.rows(model_group="/custom-openai") if r["request_id"] != row["request_id"]]
    assert rows and rows[-1]["completion_tokens"] == streamed[-1].usage.completion_tokens
    assert rows[-1]["spend"] is not None and rows[-1]["spend"] > 0


def test_auth_route_needs_a_proxy_key(ptproxy: Proxy) -> None:
    before = ptproxy.count_rows()
    for key in (None, "sk-wrong"):
        status, body, _ = ptproxy.request("POST", "/custom-openai/chat/completions", {"model": "x"}, key=key)
        assert status == 401 and body["error"]["type"] == "authentication_error"
    status, _, _ = ptproxy.request("POST", "/rerank-priced", {"query": "q", "documents": ["a"]}, key=None)
    assert status == 401
    ptproxy.wait_written()
    assert ptproxy.count_rows() == before, "a refused key leaves no row"


def test_unknown_format_is_unpriced_and_cost_per_request_prices_it(
    ptproxy: Proxy, simulator: Simulator
) -> None:
    body = {"model": "rerank-v3.5", "query": "ledger", "documents": ["a", "b"]}
    status, answer, headers = ptproxy.request(
        "POST", "/rerank-open?top_n=1", body, key=None, headers={"x-trace": "t1"}
    )
    assert status == 200 and answer["results"]
    sent = simulator.requests[-1]
    assert sent.query == {"version": "v2", "top_n": "1"} and sent.headers["x-trace"] == "t1"
    ptproxy.wait_written()
    row = ptproxy.row(headers["x-request-id"])
    assert row["status"] == "success" and row["spend"] is None and row["api_key"] is None
    assert "cost_per_request" in _meta(row)["cost"]["unpriced_reason"]
    status, _, headers = ptproxy.request("POST", "/rerank-priced", body, key=MASTER_KEY)
    assert status == 200
    ptproxy.wait_written()
    row = ptproxy.row(headers["x-request-id"])
    assert row["spend"] == RATE and _meta(row)["cost"]["breakdown"] == {"request": str(RATE)}


def test_target_error_is_relayed_with_a_failure_row(ptproxy: Proxy) -> None:
    client = _client(ptproxy, MASTER_KEY)
    try:
        with pytest.raises(openai.InternalServerError) as failed:
            client.chat.completions.create(model="sim-broken", messages=[{"role": "user", "content": "x"}])
    finally:
        client.close()
    ptproxy.wait_written()
    row = ptproxy.row(failed.value.response.headers["x-request-id"])
    assert row["status"] == "failure" and row["model_group"] == "/custom-openai"


def test_a_path_ledgerlm_serves_is_not_mounted(ptproxy: Proxy) -> None:
    body = {"model": "nope", "query": "q", "documents": ["a"]}
    status, answer, _ = ptproxy.request("POST", "/v1/rerank", body)
    assert status == 404 and "nope" in answer["error"]["message"]  # ledgerlm's own rerank route


def test_cost_per_request_is_reserved_under_a_budget(ptproxy: Proxy) -> None:
    poor = ptproxy.new_key(max_budget=0.01)  # less than one call's cost_per_request
    body = {"query": "q", "documents": ["a"]}
    status, answer, _ = ptproxy.request("POST", "/rerank-priced", body, key=poor)
    assert status in (422, 429) and "budget" in json.dumps(answer).lower(), answer
    rich = ptproxy.new_key(max_budget=1)
    status, _, headers = ptproxy.request("POST", "/rerank-priced", body, key=rich)
    assert status == 200
    ptproxy.wait_written()
    assert ptproxy.row(headers["x-request-id"])["spend"] == RATE
