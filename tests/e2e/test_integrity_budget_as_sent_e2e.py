"""Issue 14, hole 1: a budget reservation is computed from the request AS SENT upstream.

A key whose budget fits 100 output tokens. Every request below asks for 10 output tokens at the top
level (on main, the only field the estimate read) but raises what is sent upstream some other way:
``extra_body.max_tokens``, ``extra_body.n``, ``max_completion_tokens`` beside ``max_tokens``,
``best_of``, ``reasoning_effort`` on an Anthropic-routed model (our translation raises ``max_tokens`` to
the thinking budget + 4096) and a native ``/v1/messages`` body. Each is refused with 422 (LiteLLM's
budget refusal) ``budget_exceeded`` before anything reaches the simulator; the honest request is
admitted. Real proxy, the official ``openai`` and ``anthropic`` clients, the simulator, SQLite and PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import openai
import pytest
from tests.e2e.conftest import SIM_KEY, Proxy

from ledgerlm.simulator import Simulator

OUTPUT_PRICE = Decimal("0.00001")
BUDGET = OUTPUT_PRICE * 100  # 100 output tokens; input is free
MESSAGES = [{"role": "user", "content": "hi"}]


def _models(sim_url: str) -> list[dict[str, Any]]:
    priced = {"input_cost_per_token": "0", "output_cost_per_token": str(OUTPUT_PRICE)}
    openai_params = {"model": "openai/sim-metered", "api_base": f"{sim_url}/v1", "api_key": SIM_KEY}
    claude_params = {"model": "anthropic/claude-sim", "api_base": sim_url, "api_key": "sk-ant-up"}
    return [
        {"model_name": "metered", "litellm_params": {**openai_params, **priced}},
        {"model_name": "claude-metered", "litellm_params": {**claude_params, **priced}},
    ]


@pytest.fixture(scope="module")
def proxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    simulator.models["sim-metered"] = {"completion_tokens": 10}
    simulator.models["claude-sim"] = {"completion_tokens": 10}
    started: Proxy = proxy_factory(database_url, model_list=_models(simulator.url))
    return started


@pytest.fixture(scope="module")
def key(proxy: Proxy) -> str:
    return proxy.new_key(max_budget=str(BUDGET), key_alias="as-sent")


def _chat(proxy: Proxy, key: str, model: str = "metered", **extra: Any) -> tuple[int, dict[str, Any]]:
    client = proxy.client(key)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=model,
            messages=MESSAGES,  # type: ignore[arg-type]
            **{"max_tokens": 10, **extra},
        )
    except openai.APIStatusError as err:
        return err.status_code, err.response.json()
    finally:
        client.close()
    return raw.status_code, raw.parse().model_dump()


@pytest.mark.parametrize(
    "extra",
    [
        # the client's extra_body= merges at the top level: these send a literal "extra_body" field
        {"extra_body": {"extra_body": {"max_tokens": 1000}}},
        {"extra_body": {"extra_body": {"n": 20}}},
        {"n": 20},
        {"extra_body": {"best_of": 20}},
        {"max_completion_tokens": 10, "max_tokens": 1000},
        {"extra_body": {"extra_body": {"max_completion_tokens": 1000}}},
    ],
    ids=["extra_body.max_tokens", "extra_body.n", "n", "best_of", "both-limits", "extra_body.mct"],
)
def test_output_raised_upstream_is_reserved(
    proxy: Proxy, key: str, simulator: Simulator, extra: dict[str, Any]
) -> None:
    before = len(simulator.requests)
    status, body = _chat(proxy, key, **extra)
    assert status == 422, body  # LiteLLM's budget refusal (issue 17)
    assert body["error"]["type"] == "budget_exceeded"
    assert len(simulator.requests) == before  # nothing reached the upstream


def test_reasoning_effort_translated_for_anthropic_is_reserved(proxy: Proxy, key: str) -> None:
    status, body = _chat(proxy, key, model="claude-metered", reasoning_effort="low")
    assert status == 422, body  # LiteLLM's budget refusal (issue 17)
    assert body["error"]["type"] == "budget_exceeded"


def test_native_messages_body_is_reserved_as_sent(proxy: Proxy, key: str) -> None:
    client = anthropic.Anthropic(base_url=proxy.url, api_key=key, max_retries=0)
    try:
        with pytest.raises(anthropic.UnprocessableEntityError) as caught:  # 422 (issue 17)
            client.messages.create(
                model="claude-metered",
                max_tokens=2000,
                thinking={"type": "enabled", "budget_tokens": 1024},
                messages=[{"role": "user", "content": "hi"}],
            )
        assert "budget" in str(caught.value)
    finally:
        client.close()


def test_honest_request_within_budget_is_admitted(proxy: Proxy, key: str) -> None:
    status, body = _chat(proxy, key)
    assert status == 200, body
    assert body["usage"]["completion_tokens"] == 10
    assert body["choices"][0]["message"]["role"] == "assistant"
