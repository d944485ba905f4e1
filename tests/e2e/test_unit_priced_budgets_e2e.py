"""Per-unit endpoints under a hard budget (review of issue 15): images, moderations and rerank have no
token price, so admission used to refuse them as "unpriced" (403 ``unpriced_model``) for every key with
a ``max_budget`` although their price is known up front. Now the reservation is their worst case
(``ledgerlm.pricing.unit_worst``): a call that fits is served and settled to its cost, ``n`` images
beyond the budget are a 422 (LiteLLM's budget status) with no upstream call, and an ``n`` that is
not a positive integer is a 400 in OpenAI's error format. Official ``openai`` client against the
simulator; SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.e2e.conftest import SIM_KEY, Proxy, model_list

from ledgerlm.pricing.unit_prices import IMAGE_PRICES, PER_UNIT_PRICES
from ledgerlm.simulator import Simulator


@pytest.fixture(scope="module")
def uproxy(proxy_factory: Any, database_url: str, simulator: Simulator) -> Proxy:
    v1 = f"{simulator.url}/v1"

    def entry(name: str, model: str, base: str = v1) -> dict[str, Any]:
        return {"model_name": name, "litellm_params": {"model": model, "api_base": base, "api_key": SIM_KEY}}

    extra = [
        entry("dalle", "openai/dall-e-3"),
        entry("mod", "openai/omni-moderation-latest"),
        entry("rerank", "cohere/rerank-v3.5", simulator.url),
        entry("tts", "openai/tts-1"),
        entry("instruct", "text-completion-openai/gpt-3.5-turbo-instruct"),
    ]
    return proxy_factory(database_url, model_list=model_list(simulator.url) + extra)


def _rows(proxy: Proxy, key: str) -> list[dict[str, Any]]:
    proxy.wait_written()
    return proxy.rows(api_key=hashlib.sha256(key.encode()).hexdigest())


def test_unit_priced_calls_are_admitted_under_a_budget(uproxy: Proxy) -> None:
    key = uproxy.new_key(max_budget=1)
    client = uproxy.client(key)
    image = client.images.with_raw_response.generate(model="dalle", prompt="a ledger", n=2)
    assert len(image.parse().data or []) == 2
    moderation = client.moderations.with_raw_response.create(model="mod", input="hello")
    assert moderation.parse().results
    body = {"model": "rerank", "query": "q", "documents": ["a", "b"]}
    status, answer, _ = uproxy.request("POST", "/v1/rerank", body, key=key)
    assert status == 200 and answer["results"], answer
    rows = _rows(uproxy, key)
    assert sorted(r["call_type"] for r in rows) == ["aimage_generation", "amoderation", "arerank"]
    assert all(r["status"] == "success" for r in rows)
    spent = {r["call_type"]: r["spend"] for r in rows}
    assert spent["aimage_generation"] == 2 * IMAGE_PRICES["dall-e-3"][("standard", "1024x1024")]
    assert spent["amoderation"] == 0
    assert spent["arerank"] == PER_UNIT_PRICES["rerank-v3.5"]["search"]
    info = uproxy.ok("GET", f"/key/info?key={key}")
    assert Decimal(str(info["info"]["spend"])) == sum(spent.values())


def test_images_beyond_the_budget_are_refused_before_the_call(uproxy: Proxy) -> None:
    key = uproxy.new_key(max_budget=0.1)
    client = uproxy.client(key)
    with pytest.raises(openai.UnprocessableEntityError):
        client.images.generate(model="dalle", prompt="x", n=3)  # 3 x $0.04 > $0.10
    with pytest.raises(openai.BadRequestError) as bad:
        client.images.generate(model="dalle", prompt="x", n=-2)
    assert bad.value.body is not None and "'n'" in str(bad.value.body)
    # n as sent: a raw "extra_body" field (LiteLLM's) is merged over the body by the provider layer
    body = {"model": "dalle", "prompt": "x", "n": 1, "extra_body": {"n": 3}}
    status, answer, _ = uproxy.request("POST", "/v1/images/generations", body, key=key)
    assert status == 422 and answer["error"]["type"], answer
    rows = _rows(uproxy, key)
    assert len(rows) == 3 and all(r["status"] == "failure" and not r["spend"] for r in rows)
    info = uproxy.ok("GET", f"/key/info?key={key}")
    assert Decimal(str(info["info"]["spend"])) == 0
    # the refusals released their holds: one image ($0.04) still fits
    assert client.images.generate(model="dalle", prompt="x", n=1).data


def test_speech_reserves_its_characters(uproxy: Proxy) -> None:
    """4,000 characters of tts-1 cost $0.06: refused on a $0.001 budget (it used to reserve $0 and be
    served), while 10 characters ($0.00015) fit."""
    key = uproxy.new_key(max_budget=0.001)
    client = uproxy.client(key)
    with pytest.raises(openai.UnprocessableEntityError):
        client.audio.speech.create(model="tts", input="x" * 4000, voice="alloy")
    assert client.audio.speech.create(model="tts", input="x" * 10, voice="alloy").content
    rows = _rows(uproxy, key)
    assert sorted(r["status"] for r in rows) == ["failure", "success"]
    assert sum(r["spend"] or 0 for r in rows) == 10 * PER_UNIT_PRICES["tts-1"]["character"]


@pytest.mark.parametrize("limit", [-1, 0])
def test_responses_output_limit_below_one_is_not_a_zero_reservation(uproxy: Proxy, limit: int) -> None:
    """``max_output_tokens: -1`` (read as "no limit" by llama.cpp-style servers, answered in full by
    the simulator) used to reserve no output at all and pass a budget the call then exceeded; OpenAI
    documents an integer >= 1, so it is now refused at parse (400 naming the field), before any
    reservation or provider call (issue 15)."""
    key = uproxy.new_key(max_budget=0.0001)
    status, body, _ = uproxy.request(
        "POST", "/v1/responses", {"model": "gpt-4o-mini", "input": "hi", "max_output_tokens": limit}, key=key
    )
    assert status == 400 and body["error"]["param"] == "max_output_tokens", body
    rows = _rows(uproxy, key)
    assert len(rows) == 1 and rows[0]["status"] == "failure" and not rows[0]["spend"]


def test_completions_reserve_extra_body_choices(uproxy: Proxy) -> None:
    """``/v1/completions`` bodies have no ``messages``, so their limits were read from the client body
    only: ``extra_body: {"n": 100}`` (merged upstream) was reserved as one choice."""
    key = uproxy.new_key(max_budget=0.05)
    plain = {"model": "instruct", "prompt": "hi", "max_tokens": 1000}
    status, answer, _ = uproxy.request("POST", "/v1/completions", plain, key=key)
    assert status == 200, answer
    body = {**plain, "extra_body": {"n": 100}}
    status, answer, _ = uproxy.request("POST", "/v1/completions", body, key=key)
    assert status == 422 and "worst-case" in answer["error"]["message"], answer
    rows = _rows(uproxy, key)
    assert sorted(r["status"] for r in rows) == ["failure", "success"]
