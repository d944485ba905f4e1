"""Routing's cost per request: ``Router.run`` around a no-op attempt (no network), per strategy, with the
state in memory and in Redis, against calling the attempt directly (microseconds per request).

Run: ``.venv/bin/python benchmarks/routing.py [--quick] [--redis redis://127.0.0.1:6379/15]``. The Redis
rows are skipped when Redis does not answer. Each row: strategy, state, us/request, overhead over the
direct call. Also: a wildcard group's lookup (cached concrete deployment) and a response-cache hit
lookup (local backend).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from typing import Any

from ledgerlm.providers.base import Deployment
from ledgerlm.routing import Attempt, Entry, ModelGroups, RequestOptions, Router, router_settings
from ledgerlm.routing.cache import CacheControls, CacheSettings, ResponseCache
from ledgerlm.routing.settings import STRATEGIES
from ledgerlm.routing.state import MemoryState, RedisState


class _Result:
    usage = None


async def _attempt(spec: Attempt) -> _Result:
    return _Result()


def _groups() -> ModelGroups:
    entries = [
        Entry(
            Deployment("openai", "gpt-4o-mini", deployment_id=f"d{i}", model_group="g"),
            model_name="g",
            rpm=1_000_000,
            tpm=10**9,
        )
        for i in range(3)
    ]
    entries.append(
        Entry(Deployment("openai", "*", deployment_id="w", model_group="openai/*"), model_name="openai/*")
    )
    return ModelGroups(entries)


async def _per_request(router: Router, n: int, model: str = "g") -> float:
    options = RequestOptions()
    await router.run(model, _attempt, options)  # warm-up: prices compiled, Redis connected
    started = time.perf_counter()
    for _ in range(n):
        await router.run(model, _attempt, options)
    return (time.perf_counter() - started) / n * 1e6


async def _direct(n: int) -> float:
    entry = _groups().resolve("g").entries[0]
    spec = Attempt(entry, "g", 1, None, 0)
    started = time.perf_counter()
    for _ in range(n):
        await _attempt(spec)
    return (time.perf_counter() - started) / n * 1e6


async def _redis_ok(url: str) -> bool:
    state = RedisState(url, prefix=f"ledgerlm:bench:{uuid.uuid4().hex[:6]}")
    try:
        await state.stats(["x"])
        return True
    except Exception:
        return False
    finally:
        await state.close()


async def _cache_lookup(n: int) -> float:
    cache = ResponseCache.build(CacheSettings())
    controls = CacheControls()
    body: dict[str, Any] = {"model": "g", "messages": [{"role": "user", "content": "hello " * 50}]}
    key = cache.key("acompletion", "g", body, controls)
    await cache.store(key, {"body": {"choices": []}, "usage": {}, "cost": "0.001"}, controls)
    started = time.perf_counter()
    for _ in range(n):
        await cache.lookup(cache.key("acompletion", "g", body, controls), controls)
    return (time.perf_counter() - started) / n * 1e6


async def main(quick: bool, redis_url: str) -> None:
    n = 2_000 if quick else 20_000
    direct = await _direct(n)
    print(f"{'strategy':<24} {'state':<7} {'us/request':>11} {'overhead us':>12}")
    print(f"{'(direct call)':<24} {'-':<7} {direct:>11.1f} {0.0:>12.1f}")
    use_redis = await _redis_ok(redis_url)
    for strategy in STRATEGIES:
        for kind in ("memory", "redis") if use_redis else ("memory",):
            state: Any = (
                MemoryState()
                if kind == "memory"
                else RedisState(redis_url, prefix=f"ledgerlm:bench:{uuid.uuid4().hex[:6]}")
            )
            router = Router(_groups(), router_settings({"routing_strategy": strategy}), state)
            us = await _per_request(router, n if kind == "memory" else n // 10)
            print(f"{strategy:<24} {kind:<7} {us:>11.1f} {us - direct:>12.1f}")
            await router.aclose()
    wildcard = await _per_request(Router(_groups()), n, "openai/gpt-4.1-nano")
    print(f"{'wildcard (simple-shuffle)':<24} {'memory':<7} {wildcard:>11.1f} {wildcard - direct:>12.1f}")
    print(f"{'response cache lookup':<24} {'local':<7} {await _cache_lookup(n):>11.1f}")
    if not use_redis:
        print(f"(Redis at {redis_url} did not answer: Redis rows skipped)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()
    asyncio.run(main(args.quick, args.redis))
