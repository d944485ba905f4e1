"""Each routing strategy's choice under load: ``Router.run`` over real engine calls to simulator
instances (distinct deployments), state in memory and in Redis."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from ledgerlm import engine
from ledgerlm.engine import CallOptions
from ledgerlm.providers.base import Deployment
from ledgerlm.routing import Attempt, Entry, ModelGroups, RequestOptions, Router, router_settings
from ledgerlm.routing.state import MemoryState, RedisState
from ledgerlm.simulator import Simulator
from ledgerlm.types import CallContext

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[Simulator, Simulator]]:
    knobs = {"fast": {"completion_tokens": 3}, "slow": {"latency_ms": 150, "completion_tokens": 3}}
    with Simulator(models=dict(knobs)) as a, Simulator(models=dict(knobs)) as b:
        yield a, b


def _entry(sim: Simulator, ident: str, model: str, **fields: Any) -> Entry:
    price = fields.pop("price", None)
    deployment = Deployment(
        "openai", model, api_base=f"{sim.url}/v1", api_key="sk", deployment_id=ident, model_group="g"
    )
    if price is not None:
        from ledgerlm.pricing import compile_price

        custom = {"input_cost_per_token": price, "output_cost_per_token": price}
        deployment = dataclasses.replace(deployment, price=compile_price("openai", model, custom=custom))
    return Entry(deployment, model_name="g", **fields)


async def _call(spec: Attempt) -> Any:
    ctx = CallContext(request_id=str(uuid.uuid4()))
    return await engine.chat(
        spec.deployment,
        {"messages": MESSAGES},
        CallOptions(ctx, timeout=spec.timeout, num_retries=spec.max_retries),
    )


async def _serve(router: Router, n: int, *, concurrent: bool = False) -> Counter[str]:
    async def one() -> str:
        _, info = await router.run("g", _call, RequestOptions())
        assert info.entry is not None
        return info.entry.id

    if concurrent:
        return Counter(await asyncio.gather(*(one() for _ in range(n))))
    return Counter([await one() for _ in range(n)])


def _router(entries: list[Entry], strategy: str, state: Any = None) -> Router:
    return Router(
        ModelGroups(entries), router_settings({"routing_strategy": strategy}), state or MemoryState()
    )


async def test_simple_shuffle_follows_weights(sims: tuple[Simulator, Simulator]) -> None:
    a, b = sims
    router = _router([_entry(a, "a", "fast", weight=1), _entry(b, "b", "fast", weight=9)], "simple-shuffle")
    picks = Counter([(await router.pick("g")).id for _ in range(1000)])
    assert picks["b"] > 800 and picks["a"] > 30


async def test_least_busy_avoids_the_deployment_with_calls_in_flight(
    sims: tuple[Simulator, Simulator],
) -> None:
    a, b = sims
    router = _router([_entry(a, "a", "slow"), _entry(b, "b", "fast")], "least-busy")
    await router.state.begin("a")  # one call in flight on a
    picks = Counter([(await router.pick("g")).id for _ in range(50)])
    assert picks == Counter({"b": 50})
    await router.state.end("a", None, 0)


async def test_latency_based_prefers_the_faster_deployment(sims: tuple[Simulator, Simulator]) -> None:
    a, b = sims
    router = _router([_entry(a, "a", "slow"), _entry(b, "b", "fast")], "latency-based-routing")
    await _serve(router, 2)  # untried deployments are tried first: one call each
    assert (await _serve(router, 10))["b"] == 10


async def test_usage_based_v2_respects_rpm(sims: tuple[Simulator, Simulator]) -> None:
    a, b = sims
    router = _router(
        [_entry(a, "a", "fast", rpm=2), _entry(b, "b", "fast", rpm=1000)], "usage-based-routing-v2"
    )
    picks = await _serve(router, 12, concurrent=True)
    assert picks["a"] <= 2 and picks["b"] >= 10


async def test_cost_based_picks_the_cheapest(sims: tuple[Simulator, Simulator]) -> None:
    a, b = sims
    entries = [_entry(a, "a", "fast", price="0.00001"), _entry(b, "b", "fast", price="0.000001")]
    assert await _serve(_router(entries, "cost-based-routing"), 8) == Counter({"b": 8})


async def test_redis_state_is_shared_between_routers(
    sims: tuple[Simulator, Simulator], redis_url: str
) -> None:
    a, b = sims
    prefix = f"ledgerlm:test:{uuid.uuid4().hex[:8]}"
    one = _router(
        [_entry(a, "a", "fast"), _entry(b, "b", "fast")], "least-busy", RedisState(redis_url, prefix=prefix)
    )
    two = _router(
        [_entry(a, "a", "fast"), _entry(b, "b", "fast")], "least-busy", RedisState(redis_url, prefix=prefix)
    )
    await one.state.begin("a")
    assert {(await two.pick("g")).id for _ in range(20)} == {"b"}, (
        "router two sees router one's call in flight"
    )
    await one.state.cool("b", 5)
    await one.state.end("a", 0.01, 10)
    assert {(await two.pick("g")).id for _ in range(20)} == {"a"}, "router two sees b cooling down"
    stats = await two.stats(two.groups.resolve("g").entries)
    assert stats["a"].rpm == 1 and stats["a"].tpm == 10 and stats["b"].cooldown_s > 4
    await one.aclose()
    await two.aclose()


async def test_unreachable_redis_state_never_fails_a_call(sims: tuple[Simulator, Simulator]) -> None:
    a, b = sims
    router = _router(
        [_entry(a, "a", "fast"), _entry(b, "b", "fast")],
        "least-busy",
        RedisState("redis://127.0.0.1:1/0", timeout_s=0.2),
    )
    picks = await _serve(router, 5)
    assert sum(picks.values()) == 5, "every call answered without the shared state"
    await router.aclose()


async def test_retry_wait_honours_retry_after_when_no_other_deployment(
    sims: tuple[Simulator, Simulator],
) -> None:
    from ledgerlm.errors import RateLimitError

    a, b = sims
    limited = RateLimitError("slow down", retry_after=7.0)
    single = Router(ModelGroups([_entry(a, "a", "fast")]), router_settings({"retry_after": 0.5}))
    entry = single.groups.resolve("g").entries[0]
    assert await single._delay("g", entry, limited, 0) == 7.0, "the provider's Retry-After"
    pair = _router([_entry(a, "a", "fast"), _entry(b, "b", "fast")], "simple-shuffle")
    first = pair.groups.resolve("g").entries[0]
    assert await pair._delay("g", first, limited, 0) == 0.0, "another healthy deployment: retry at once"
