"""Routing strategies (``router_settings.routing_strategy``): choose one deployment among the healthy
ones of a model group, as LiteLLM's strategies do (https://docs.litellm.ai/docs/routing):

* ``simple-shuffle``: random, weighted by ``weight``, else ``rpm``, else ``tpm``, else uniform.
* ``least-busy``: fewest calls in flight.
* ``latency-based-routing``: lowest mean latency of the last calls (untried deployments first); with
  ``lowest_latency_buffer`` b, a random one within ``(1 + b) x`` the lowest.
* ``usage-based-routing-v2``: lowest tokens used this minute among those under their ``rpm``/``tpm``
  limits (the request's estimated tokens included); none left -> 429.
* ``cost-based-routing``: lowest price (input + output USD per token, from the deployment's compiled
  price; unpriced last), random among equals.

A strategy is ``pick(entries, stats, need) -> Entry``; ``stats`` maps ``Entry.id`` to ``Stats``;
``need`` is the request's estimated tokens.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

from ledgerlm.errors import RateLimitError
from ledgerlm.routing.groups import Entry
from ledgerlm.routing.state import Stats
from ledgerlm.types import Usage

__all__ = ["STRATEGY_FUNCTIONS", "Strategy", "price_per_token"]

Strategy = Callable[[Sequence[Entry], dict[str, Stats], int, float], Entry]


def _weights(entries: Sequence[Entry]) -> list[float] | None:
    for name in ("weight", "rpm", "tpm"):
        values = [getattr(e, name) for e in entries]
        if all(values):
            return [float(v) for v in values]
    return None


def simple_shuffle(entries: Sequence[Entry], stats: dict[str, Stats], need: int, buffer: float) -> Entry:
    """Weighted random choice (module docstring)."""
    if len(entries) == 1:
        return entries[0]
    weights = _weights(entries)
    if weights is None:
        return random.choice(list(entries))
    return random.choices(list(entries), weights=weights, k=1)[0]


def least_busy(entries: Sequence[Entry], stats: dict[str, Stats], need: int, buffer: float) -> Entry:
    """Fewest in flight; random among ties."""
    low = min(stats[e.id].busy for e in entries)
    return random.choice([e for e in entries if stats[e.id].busy == low])


def lowest_latency(entries: Sequence[Entry], stats: dict[str, Stats], need: int, buffer: float) -> Entry:
    """Lowest mean latency (untried first); random within the buffer."""
    untried = [e for e in entries if stats[e.id].latency_s is None]
    if untried:
        return random.choice(untried)
    latency = {e.id: float(stats[e.id].latency_s or 0.0) for e in entries}
    low = min(latency.values())
    return random.choice([e for e in entries if latency[e.id] <= low * (1.0 + buffer)])


def lowest_usage(entries: Sequence[Entry], stats: dict[str, Stats], need: int, buffer: float) -> Entry:
    """Lowest tpm this minute among deployments with room; 429 when none has room."""
    room = [
        e
        for e in entries
        if (e.rpm is None or stats[e.id].rpm + 1 <= e.rpm)
        and (e.tpm is None or stats[e.id].tpm + need <= e.tpm)
    ]
    if not room:
        raise RateLimitError(
            "no deployment has rpm/tpm room left this minute (usage-based-routing-v2)",
            code="no_deployments_available",
            retry_after=60.0,
        )
    low = min(stats[e.id].tpm for e in room)
    return random.choice([e for e in room if stats[e.id].tpm == low])


_PER_TOKEN_CACHE: dict[str, float] = {}


def price_per_token(entry: Entry) -> float:
    """Input + output USD per token of the deployment (inf when unpriced); cached per deployment."""
    key = f"{entry.id}|{entry.deployment.provider}/{entry.deployment.model}"
    cached = _PER_TOKEN_CACHE.get(key)
    if cached is not None:
        return cached
    from ledgerlm.engine import compiled_price

    try:
        cost = compiled_price(entry.deployment).cost(
            Usage(input_tokens=1_000_000, output_tokens=1_000_000), at=datetime.now(UTC)
        )
        total = cost.total
        value = float(total / Decimal(2_000_000)) if total is not None else math.inf
    except Exception:
        value = math.inf
    if len(_PER_TOKEN_CACHE) > 4096:
        _PER_TOKEN_CACHE.clear()
    _PER_TOKEN_CACHE[key] = value
    return value


def lowest_cost(entries: Sequence[Entry], stats: dict[str, Stats], need: int, buffer: float) -> Entry:
    """Cheapest per token; random among equals."""
    prices = {e.id: price_per_token(e) for e in entries}
    low = min(prices.values())
    return random.choice([e for e in entries if prices[e.id] == low])


STRATEGY_FUNCTIONS: dict[str, Strategy] = {
    "simple-shuffle": simple_shuffle,
    "least-busy": least_busy,
    "latency-based-routing": lowest_latency,
    "usage-based-routing-v2": lowest_usage,
    "cost-based-routing": lowest_cost,
}
