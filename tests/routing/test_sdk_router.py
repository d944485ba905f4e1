"""``ledgerlm.Router`` (the SDK face of the router) against simulator instances: load balancing,
retries and fallbacks on SDK calls, sync and async, plain and streamed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

import ledgerlm
from ledgerlm.simulator import Simulator

MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[Simulator, Simulator]]:
    with Simulator(models={"down": {"error_status": 503}}) as a, Simulator() as b:
        yield a, b


def _router(sims: tuple[Simulator, Simulator], **settings: object) -> ledgerlm.Router:
    a, b = sims
    return ledgerlm.Router(
        model_list=[
            {
                "model_name": "gpt",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": f"{a.url}/v1",
                    "api_key": "sk",
                    "weight": 1,
                },
                "model_info": {"id": "a"},
            },
            {
                "model_name": "gpt",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": f"{b.url}/v1",
                    "api_key": "sk",
                    "weight": 1,
                },
                "model_info": {"id": "b"},
            },
            {
                "model_name": "broken",
                "litellm_params": {"model": "openai/down", "api_base": f"{a.url}/v1", "api_key": "sk"},
            },
        ],
        **settings,
    )


async def test_balances_over_both_deployments(sims: tuple[Simulator, Simulator]) -> None:
    router = _router(sims)
    seen = Counter()
    for _ in range(20):
        resp = await router.acompletion(model="gpt", messages=MESSAGES)
        seen[resp.ledger.record.deployment_id] += 1
        assert resp.ledger.response_cost is not None and resp.ledger.response_cost > 0
    assert seen["a"] and seen["b"]


def test_sync_fallback_and_stream(sims: tuple[Simulator, Simulator]) -> None:
    router = _router(sims, num_retries=1, fallbacks=[{"broken": ["gpt"]}], retry_after=0)
    resp = router.completion(model="broken", messages=MESSAGES)
    assert resp.choices[0].message.content and resp.ledger.record.model_group == "gpt"
    with pytest.raises(ledgerlm.ServiceUnavailableError):
        router.completion(model="broken", messages=MESSAGES, disable_fallbacks=True, num_retries=0)
    chunks = list(router.completion(model="gpt", messages=MESSAGES, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
