"""Deployment priority (``order``), ``max_parallel_requests``, tag-based routing and budget-based
routing: the router over real engine calls to simulator instances (memory and Redis state), and the
proxy with the openai client (tags from the body, budgets from the ledger's costs)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.routing.harness import RoutedProxy, deployment
from tests.routing.test_strategies import _call, _entry

from ledgerlm.errors import BadRequestError, ConfigError, RateLimitError
from ledgerlm.routing import ModelGroups, RequestOptions, Router, router_settings
from ledgerlm.routing.budget_limits import parse_budget
from ledgerlm.routing.state import MemoryState, RedisState
from ledgerlm.simulator import Simulator

PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[Simulator, Simulator]]:
    knobs = {"fast": {"completion_tokens": 3}, "slow": {"latency_ms": 200, "completion_tokens": 3}}
    with Simulator(models=dict(knobs)) as a, Simulator(models=dict(knobs)) as b:
        yield a, b


def _router(entries: list[Any], settings: dict[str, Any] | None = None, state: Any = None) -> Router:
    return Router(ModelGroups(entries), router_settings(settings or {}), state or MemoryState())


async def test_order_uses_the_lowest_until_it_is_out(sims: tuple[Simulator, Simulator]) -> None:
    a, b = sims
    router = _router([_entry(a, "first", "fast", order=1), _entry(b, "second", "fast", order=2)])
    assert Counter([(await router.pick("g")).id for _ in range(30)]) == Counter({"first": 30})
    assert (await router.pick("g", exclude=frozenset({"first"}))).id == "second", "a retry moves on"
    await router.state.cool("first", 30)
    assert (await router.pick("g")).id == "second", "order 2 only while order 1 cools down"


async def test_unordered_deployments_only_when_no_ordered_one_is_left(
    sims: tuple[Simulator, Simulator],
) -> None:
    a, b = sims
    router = _router([_entry(a, "plain", "fast"), _entry(b, "ranked", "fast", order=5)])
    assert {(await router.pick("g")).id for _ in range(20)} == {"ranked"}


async def test_max_parallel_requests_queues_attempts(sims: tuple[Simulator, Simulator]) -> None:
    a, _ = sims
    router = _router([_entry(a, "only", "slow", max_parallel_requests=1)])
    started = time.perf_counter()
    await asyncio.gather(*(router.run("g", _call, RequestOptions()) for _ in range(3)))
    assert time.perf_counter() - started >= 0.55, "three 200 ms calls, one at a time"
    router = _router([_entry(a, "only", "slow")], {"default_max_parallel_requests": 3})
    started = time.perf_counter()
    await asyncio.gather(*(router.run("g", _call, RequestOptions()) for _ in range(3)))
    assert time.perf_counter() - started < 0.55, "three slots: in parallel"


async def test_tag_filtering(sims: tuple[Simulator, Simulator]) -> None:
    a, b = sims
    free, paid = _entry(a, "free", "fast"), _entry(b, "paid", "fast")
    free.deployment.tags[:] = ["free"]
    paid.deployment.tags[:] = ["paid", "default"]
    router = _router([free, paid], {"enable_tag_filtering": True})
    assert {(await router.pick("g", tags=["free"])).id for _ in range(20)} == {"free"}
    assert {(await router.pick("g")).id for _ in range(20)} == {"paid"}, "untagged: the default ones"
    assert {(await router.pick("g", tags=["other"])).id for _ in range(20)} == {"paid"}
    strict = _router([free, _entry(b, "none", "fast")], {"enable_tag_filtering": True})
    with pytest.raises(BadRequestError) as caught:
        await strict.pick("g", tags=["other"])
    assert caught.value.code == "no_deployments_with_tag_routing"
    off = _router([free, paid])
    assert {(await off.pick("g", tags=["free"])).id for _ in range(40)} == {"free", "paid"}


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_budget_routing_skips_deployments_over_budget(
    sims: tuple[Simulator, Simulator], redis_url: str, backend: str
) -> None:
    a, b = sims
    capped = _entry(a, f"capped-{uuid.uuid4().hex[:6]}", "fast", budget=parse_budget("0.001", "1h", "x"))
    other = _entry(b, f"other-{uuid.uuid4().hex[:6]}", "fast", order=2)
    capped.order = 1
    state = RedisState(redis_url, prefix=f"t-{uuid.uuid4().hex[:8]}") if backend == "redis" else None
    settings = {"provider_budget_config": {"openai": {"budget_limit": 0.01, "time_period": "1d"}}}
    router = _router([capped, other], settings, state)
    try:
        assert (await router.pick("g")).id == capped.id
        router.spent(capped.id, Decimal("0.001"))
        await asyncio.sleep(0.05)  # counted in the background
        assert (await router.pick("g")).id == other.id, "the capped deployment spent its budget"
        router.spent(other.id, Decimal("0.009"))
        await asyncio.sleep(0.05)
        with pytest.raises(RateLimitError) as caught:
            await router.pick("g")
        assert caught.value.code == "no_deployments_available" and caught.value.retry_after
    finally:
        await router.state.close()


def test_bad_routing_limits_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"provider_budget_config\.openai"):
        router_settings({"provider_budget_config": {"openai": {"budget_limit": 1}}})
    with pytest.raises(ConfigError, match="default_max_parallel_requests"):
        router_settings({"default_max_parallel_requests": 0})
    with pytest.raises(ConfigError, match="max_budget"):
        parse_budget("lots", "1d", "model_list[0].litellm_params.max_budget")


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RoutedProxy, dict[str, Simulator]]]:
    with Simulator() as free, Simulator() as paid, Simulator() as fallback:
        model_list = [
            deployment("g", free.url, "m", tags=["free"], **PRICES),
            deployment("g", paid.url, "m", tags=["paid"], **PRICES),
            deployment("g", fallback.url, "m", tags=["default"], **PRICES),
            deployment("capped", free.url, "m", order=1, max_budget=0.000001, budget_duration="1h", **PRICES),
            deployment("capped", paid.url, "m", order=2, **PRICES),
        ]
        running = RoutedProxy(
            tmp_path_factory.mktemp("tags"), model_list, router_settings={"enable_tag_filtering": True}
        )
        yield running, {"free": free, "paid": paid, "default": fallback}
        running.close()


def _served_by(sims: dict[str, Simulator], before: dict[str, int]) -> set[str]:
    return {name for name, sim in sims.items() if len(sim.requests) > before[name]}


def test_proxy_routes_by_request_tags(tagged: tuple[RoutedProxy, dict[str, Simulator]]) -> None:
    proxy, sims = tagged
    for tags, expected in ((["paid"], "paid"), (["free"], "free"), (None, "default")):
        before = {n: len(s.requests) for n, s in sims.items()}
        for _ in range(4):
            proxy.chat("g", **({"tags": tags} if tags else {}))
        assert _served_by(sims, before) == {expected}, tags
    before = {n: len(s.requests) for n, s in sims.items()}
    proxy.client().chat.completions.create(
        model="g", messages=[{"role": "user", "content": "x"}], extra_headers={"x-litellm-tags": "paid"}
    )
    assert _served_by(sims, before) == {"paid"}, "tags from the x-litellm-tags header"


def test_proxy_budget_routing_moves_to_the_next_order(
    tagged: tuple[RoutedProxy, dict[str, Simulator]],
) -> None:
    proxy, sims = tagged
    before = {n: len(s.requests) for n, s in sims.items()}
    first = proxy.chat("capped")
    assert _served_by(sims, before) == {"free"} and first.headers["x-litellm-model-group"] == "capped"
    time.sleep(0.1)  # the spend is counted in the background
    before = {n: len(s.requests) for n, s in sims.items()}
    for _ in range(3):
        proxy.chat("capped")
    assert _served_by(sims, before) == {"paid"}, "the order-1 deployment is over its max_budget"


def test_proxy_rejects_a_bad_max_parallel_requests(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"max_parallel_requests"):
        RoutedProxy(tmp_path, [deployment("g", "http://127.0.0.1:9", "m", max_parallel_requests=0)])


def test_two_instances_share_budget_spend_through_redis(tmp_path: Path, redis_url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    with Simulator() as first, Simulator() as second:
        model_list = [
            deployment(
                "b", first.url, "m", order=1, max_budget=0.000001, info={"id": f"one-{suffix}"}, **PRICES
            ),
            deployment("b", second.url, "m", order=2, info={"id": f"two-{suffix}"}, **PRICES),
        ]
        settings = {"redis_url": redis_url}
        database_url = f"sqlite:///{tmp_path}/ledger.db"
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        one = RoutedProxy(tmp_path / "one", model_list, router_settings=settings, database_url=database_url)
        two = RoutedProxy(tmp_path / "two", model_list, router_settings=settings, database_url=database_url)
        try:
            assert two.chat("b").headers["x-litellm-model-id"] == f"one-{suffix}"
            time.sleep(0.2)  # the spend reaches Redis in the background
            for _ in range(3):
                assert one.chat("b").headers["x-litellm-model-id"] == f"two-{suffix}"
            assert len(first.requests) == 1, "instance one saw instance two's spend"
        finally:
            one.close()
            two.close()
