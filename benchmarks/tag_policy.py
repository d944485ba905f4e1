"""The proxy's tag step: microseconds per call to resolve a request's tags, without and with policies,
and the allocation of a month of grouped spend rows.

Run: ``.venv/bin/python benchmarks/tag_policy.py``. Prints microseconds per call and the ratio of the
governed step to the plain one (the plain step is what every request paid before tag policies).
"""

from __future__ import annotations

import random
import timeit
from decimal import Decimal

from ledgerlm.proxy.auth import KeyContext
from ledgerlm.proxy.tags import TagResolver
from ledgerlm.tags.allocation import CallTags, allocate
from ledgerlm.tags.policy import parse_policies

POLICIES = {
    "env": {"required": True, "allowed": ["production", "staging"], "aliases": {"prod": "production"}},
    "cost_center": {"required": True, "allowed": "^cc-[0-9]{4}$", "action": "default", "default": "cc-0000"},
    "team": {"required": True, "action": "quarantine"},
}
BODY = {"metadata": {"tags": ["feature:search", "env=prod"]}}
HEADERS = {"x-litellm-tags": "cost_center:cc-1234"}


def per_call_us(resolver: TagResolver, key: KeyContext, number: int) -> float:
    def one() -> None:
        request_tags = resolver.from_request(BODY, HEADERS)
        resolver.decide(key, request_tags, ["region:eu"], HEADERS)

    return min(timeit.repeat(one, number=number, repeat=5)) / number * 1e6


def allocation_rows_per_s(groups: int) -> float:
    rng = random.Random(1)
    calls = [
        CallTags(
            Decimal(rng.randrange(1, 10**8)) / Decimal(10**10), [f"env:v{i % 7}", f"env:v{i % 5}"], calls=40
        )
        for i in range(groups)
    ]
    seconds = min(timeit.repeat(lambda: allocate(calls, "env"), number=1, repeat=3))
    return groups / seconds


def main() -> None:
    key = KeyContext(token="h" * 64, tags=["app:web"], team_tags=["team:search"])
    plain = per_call_us(TagResolver(), key, 20_000)
    governed = per_call_us(TagResolver(policies=parse_policies(POLICIES)), key, 20_000)
    print(f"tag step, no policies:      {plain:7.2f} us/call")
    print(f"tag step, 3 policies:       {governed:7.2f} us/call  (x{governed / plain:.2f})")
    print(f"allocation of grouped rows: {allocation_rows_per_s(50_000):,.0f} groups/s (one dimension)")


if __name__ == "__main__":
    main()
