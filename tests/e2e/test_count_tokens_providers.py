"""``POST /v1/messages/count_tokens`` on Bedrock (CountTokens, Converse and InvokeModel inputs), Gemini
(``models.countTokens``), Vertex AI Gemini (``:countTokens``) and Claude on Vertex
(``count-tokens:rawPredict``), with the official ``anthropic`` client against the simulator: the count
comes from the provider, the spend row is a free ``acount_tokens`` call (``$0``, one free ``request``
in the breakdown, no billed tokens, tags kept), and a key with no budget left may still count."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import pytest
from tests.e2e.conftest import Proxy, model_list

from ledgerlm.simulator import Simulator
from ledgerlm.simulator.bedrock import SIM_ACCESS_KEY_ID, SIM_SECRET_ACCESS_KEY
from ledgerlm.simulator.knobs import count_prompt_tokens, count_text_tokens

AWS = {
    "aws_access_key_id": SIM_ACCESS_KEY_ID,
    "aws_secret_access_key": SIM_SECRET_ACCESS_KEY,
    "aws_region_name": "us-east-1",
}
VERTEX = {"vertex_project": "sim-project", "vertex_location": "us-east5", "api_key": "ya29.sim"}
MESSAGES: Any = [{"role": "user", "content": "count these words for me please"}]
SYSTEM = "You are terse."


def _entries(sim_url: str) -> list[dict[str, Any]]:
    def entry(name: str, model: str, **params: Any) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": model, "api_base": sim_url, **params}}

    return [
        entry("ct-converse", "bedrock/anthropic.claude-count-converse-v1:0", **AWS),
        entry("ct-invoke", "bedrock/invoke/anthropic.claude-count-invoke-v1:0", **AWS),
        entry("ct-gemini", "gemini/gemini-count-studio", api_key="AIza-sim"),
        entry("ct-vertex", "vertex_ai/gemini-count-vertex", **VERTEX),
        entry("ct-vertex-claude", "vertex_ai/claude-count-vertex@20250514", **VERTEX),
    ]


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield f"sqlite:///{tmp_path_factory.mktemp('db')}/ledgerlm.db"


@pytest.fixture(scope="module")
def ctproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    return proxy_factory(database_url, model_list=model_list(simulator.url) + _entries(simulator.url))


def _expected() -> int:
    return count_prompt_tokens(MESSAGES) + count_text_tokens(SYSTEM)


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    meta = row["metadata"]
    return json.loads(meta) if isinstance(meta, str) else dict(meta)


@pytest.mark.parametrize(
    ("model", "path", "wire_model"),
    [
        ("ct-converse", "/model/anthropic.claude-count-converse-v1:0/count-tokens", None),
        ("ct-invoke", "/model/anthropic.claude-count-invoke-v1:0/count-tokens", None),
        ("ct-gemini", "/v1beta/models/gemini-count-studio:countTokens", None),
        (
            "ct-vertex",
            "/v1/projects/sim-project/locations/us-east5/publishers/google/models/gemini-count-vertex:countTokens",
            None,
        ),
        (
            "ct-vertex-claude",
            "/v1/projects/sim-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict",
            "claude-count-vertex@20250514",
        ),
    ],
)
def test_count_tokens_on_provider_apis(
    ctproxy: Proxy, simulator: Simulator, model: str, path: str, wire_model: str | None
) -> None:
    key = ctproxy.new_key(max_budget=0)  # no budget: a count is never admitted against it
    client = anthropic.Anthropic(base_url=ctproxy.url, api_key=key, max_retries=0, timeout=30)
    try:
        raw = client.messages.with_raw_response.count_tokens(
            model=model, messages=MESSAGES, system=SYSTEM, extra_body={"tags": ["app:count"]}
        )
    finally:
        client.close()
    assert raw.parse().input_tokens == _expected()
    sent = [r for r in simulator.requests if r.path.endswith(path.rsplit("/", 1)[-1])]
    assert sent and sent[-1].path == path, [r.path for r in simulator.requests[-3:]]
    if wire_model is not None:
        assert sent[-1].json["model"] == wire_model
    ctproxy.wait_written()
    row = ctproxy.row(raw.headers["x-request-id"])
    assert row["call_type"] == "acount_tokens" and row["status"] == "success"
    assert row["spend"] == 0 and row["prompt_tokens"] == 0 and row["completion_tokens"] == 0
    assert {k: Decimal(v) for k, v in _meta(row)["cost"]["breakdown"].items()} == {"request": Decimal(0)}
    assert "app:count" in row["request_tags"]


def test_bedrock_count_body_formats(ctproxy: Proxy, simulator: Simulator) -> None:
    client = anthropic.Anthropic(base_url=ctproxy.url, api_key="sk-e2e-master-key", max_retries=0, timeout=30)
    try:
        client.messages.count_tokens(model="ct-converse", messages=MESSAGES, system=SYSTEM)
        converse = simulator.requests[-1].json["input"]["converse"]
        client.messages.count_tokens(model="ct-invoke", messages=MESSAGES, system=SYSTEM)
        invoke = simulator.requests[-1].json["input"]["invokeModel"]
    finally:
        client.close()
    assert converse["messages"][0]["content"] == [{"text": MESSAGES[0]["content"]}]
    assert converse["system"] == [{"text": SYSTEM}]
    decoded = json.loads(base64.b64decode(invoke["body"]))
    assert decoded["anthropic_version"] == "bedrock-2023-05-31" and decoded["messages"] == MESSAGES
    assert "model" not in decoded and decoded["max_tokens"] >= 1
