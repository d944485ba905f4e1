"""LiteLLM's SDK helpers with LiteLLM's arguments (issue 17): ``get_model_info`` (its dict keys),
``register_model`` (``model_cost`` dict, and a JSON file) pricing later calls and cost helpers,
``token_counter`` (an estimate), and per-call custom prices on ``completion`` (real HTTP against the
simulator)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

import ledgerlm
from ledgerlm.errors import BadRequestError, ConfigError
from ledgerlm.simulator import Simulator

HI = [{"role": "user", "content": "Hello there"}]


def _name() -> str:
    return f"my-model-{uuid.uuid4().hex[:8]}"


def test_get_model_info_has_litellm_keys() -> None:
    info = ledgerlm.get_model_info(model="gpt-4o-mini")
    for key in ("max_tokens", "max_input_tokens", "max_output_tokens", "litellm_provider", "mode"):
        assert key in info
    assert info["litellm_provider"] == "openai" and info["mode"] == "chat" and info["key"] == "gpt-4o-mini"
    assert isinstance(info["input_cost_per_token"], Decimal) and info["input_cost_per_token"] > 0
    assert info["output_cost_per_token"] > info["input_cost_per_token"]
    assert isinstance(info["max_input_tokens"], int) and info["max_input_tokens"] >= 128_000
    assert "supports_function_calling" in info and "supports_vision" in info
    assert (
        ledgerlm.get_model_info("text-embedding-3-small", custom_llm_provider="openai")["mode"] == "embedding"
    )
    same = ledgerlm.get_model_info(model="openai/gpt-4o-mini")
    assert same["input_cost_per_token"] == info["input_cost_per_token"]
    with pytest.raises(ValueError, match="isn't mapped"):
        ledgerlm.get_model_info(model="no-such-model-xyz", custom_llm_provider="openai")


def test_register_model_prices_later_calls() -> None:
    name = _name()
    with pytest.raises(ValueError):
        ledgerlm.cost_per_token(
            model=name, prompt_tokens=10, completion_tokens=10, custom_llm_provider="openai"
        )
    entry = {
        "max_tokens": 4096,
        "input_cost_per_token": 0.000002,
        "output_cost_per_token": "0.000004",
        "litellm_provider": "openai",
        "mode": "chat",
        "supports_function_calling": True,
    }
    ledgerlm.register_model({name: entry})
    prompt, completion = ledgerlm.cost_per_token(
        model=f"openai/{name}", prompt_tokens=10, completion_tokens=5
    )
    assert (prompt, completion) == (Decimal("0.00002"), Decimal("0.00002"))
    info = ledgerlm.get_model_info(model=name, custom_llm_provider="openai")
    assert info["max_tokens"] == 4096 and info["supports_function_calling"] is True
    assert info["input_cost_per_token"] == Decimal("0.000002") and info["mode"] == "chat"
    body = {"model": name, "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    assert ledgerlm.completion_cost(completion_response=body, custom_llm_provider="openai").total == Decimal(
        "0.00004"
    )
    with pytest.raises(ConfigError):
        ledgerlm.register_model({_name(): {"input_cost_per_token": -1}})


def test_register_model_from_a_json_file(tmp_path: Path) -> None:
    name = _name()
    path = tmp_path / "prices.json"
    path.write_bytes(
        orjson.dumps({"sample_spec": {"max_tokens": "doc"}, name: {"input_cost_per_token": 1e-6}})
    )
    registered = ledgerlm.register_model(str(path))
    assert list(registered) == [name]
    assert ledgerlm.cost_per_token(model=name, prompt_tokens=3, custom_llm_provider="openai")[0] == Decimal(
        "0.000003"
    )


def test_token_counter_estimates() -> None:
    assert ledgerlm.token_counter(model="gpt-4o-mini", text="x" * 40) == 10
    counted = ledgerlm.token_counter(model="gpt-4o-mini", messages=[{"role": "user", "content": "x" * 8}])
    assert counted == 3 + 3 + 2
    parts = [{"role": "user", "content": [{"type": "text", "text": "abcd"}]}]
    assert ledgerlm.token_counter(messages=parts) == 3 + 3 + 1
    with pytest.raises(ValueError):
        ledgerlm.token_counter(model="gpt-4o-mini")


def test_per_call_custom_prices_price_that_call() -> None:
    with Simulator() as sim:
        base = f"{sim.url}/v1"
        plain = ledgerlm.completion("openai/gpt-4o-mini", HI, api_base=base, api_key="sk-sim")
        priced = ledgerlm.completion(
            "openai/gpt-4o-mini",
            HI,
            api_base=base,
            api_key="sk-sim",
            input_cost_per_token=0.001,
            output_cost_per_token="0.002",
        )
        sent = sim.requests[-1].json
        with pytest.raises(BadRequestError):
            ledgerlm.completion(
                "openai/gpt-4o-mini", HI, api_base=base, api_key="sk-sim", input_cost_per_token=-1
            )
    assert "input_cost_per_token" not in sent and "output_cost_per_token" not in sent
    usage = priced.ledger.usage
    want = Decimal("0.001") * usage.input_tokens + Decimal("0.002") * usage.output_tokens
    assert priced.ledger.response_cost == want
    assert plain.ledger.response_cost != want


def test_per_call_price_per_second_prices_by_duration() -> None:
    """LiteLLM's per-call ``input_cost_per_second`` prices the call by its duration (the ``second``
    category), is never sent upstream, and a bad value is a 400 naming it."""
    with Simulator(models={"gpt-4o-mini": {"latency_ms": 200}}) as sim:
        base = f"{sim.url}/v1"
        priced = ledgerlm.completion(
            "openai/gpt-4o-mini", HI, api_base=base, api_key="sk-sim", input_cost_per_second=0.5
        )
        sent = sim.requests[-1].json
        with pytest.raises(BadRequestError, match="cost_per_second"):
            ledgerlm.completion(
                "openai/gpt-4o-mini", HI, api_base=base, api_key="sk-sim", input_cost_per_second="lots"
            )
    assert "input_cost_per_second" not in sent
    cost = priced.ledger.cost
    seconds = Decimal(str(priced.ledger.usage.raw["ledgerlm_units"]["second"]))
    assert seconds >= Decimal("0.2")  # the simulator waited 200 ms before answering
    assert cost.breakdown == {"second": Decimal("0.5") * seconds}
    assert priced.ledger.response_cost == Decimal("0.5") * seconds
