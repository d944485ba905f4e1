"""Allocation adds up: every call's cost attributed exactly once per dimension, to the last quantum."""

from __future__ import annotations

import random
from decimal import Decimal

from ledgerlm.tags.allocation import QUANTUM, CallTags, allocate, split, with_cents
from ledgerlm.tags.policy import parse_policies


def test_split_evenly_sums_exactly() -> None:
    shares = split(Decimal("1"), ["c", "a", "b"])
    assert sum(shares.values()) == Decimal("1")
    # the one leftover quantum goes deterministically to the first name in order
    assert shares == {
        "a": Decimal("0.3333333334"),
        "b": Decimal("0.3333333333"),
        "c": Decimal("0.3333333333"),
    }


def test_split_by_weights() -> None:
    weights = parse_policies({"env": {"weights": {"prod": 3}}})["env"].weight
    shares = split(Decimal("0.0000000010"), ["prod", "dev"], weights)
    # 7.5 and 2.5 quanta: both rounded down, the leftover quantum breaks the tie by name ("dev")
    assert shares == {"prod": Decimal("7E-10"), "dev": Decimal("3E-10")}
    assert shares["prod"] > shares["dev"] and sum(shares.values()) == Decimal("0.0000000010")


def test_allocate_multi_valued_untagged_and_unpriced() -> None:
    calls = [
        CallTags(Decimal("0.10"), ["env:prod"]),
        CallTags(Decimal("0.07"), ["env:prod", "env=dev", "team:x"]),
        CallTags(Decimal("0.05"), ["nightly"]),
        CallTags(None, ["env:dev"]),
    ]
    rows = {r["group"]: r for r in allocate(calls, "env")}
    assert rows["prod"]["spend"] == Decimal("0.135") and rows["dev"]["spend"] == Decimal("0.035")
    assert rows["unallocated"]["spend"] == Decimal("0.05")
    assert rows["dev"]["api_requests"] == 2 and rows["dev"]["unpriced_requests"] == 1
    assert sum(r["spend"] for r in rows.values()) == Decimal("0.22")


def test_random_traffic_adds_up_to_the_quantum_and_to_the_cent() -> None:
    rng = random.Random(7)
    values = ["prod", "dev", "stage", "qa"]
    calls = []
    for _ in range(500):
        cost = Decimal(rng.randrange(1, 10**9)) * QUANTUM
        tags = [f"env:{v}" for v in rng.sample(values, rng.randrange(0, 4))]
        calls.append(CallTags(cost, tags))
    total = sum((c.spend for c in calls if c.spend is not None), Decimal(0))
    rows = allocate(calls, "env")
    assert sum(r["spend"] for r in rows) == total
    rounded = with_cents(rows, total)
    assert sum(r["spend_cents"] for r in rows) == rounded == total.quantize(Decimal("0.01"))
    assert all(r["spend_cents"] == r["spend_cents"].quantize(Decimal("0.01")) for r in rows)


def test_grouped_rows_count_every_call() -> None:
    grouped = [
        CallTags(Decimal("0.30"), ["env:a", "env:b"], calls=3, unpriced=1),
        CallTags(None, [], calls=2, unpriced=2),
    ]
    rows = {r["group"]: r for r in allocate(grouped, "env")}
    assert rows["a"]["api_requests"] == 3 and rows["a"]["unpriced_requests"] == 1
    assert rows["a"]["spend"] + rows["b"]["spend"] == Decimal("0.30")
    assert rows["unallocated"] == {
        "group": "unallocated",
        "spend": 0,
        "api_requests": 2,
        "unpriced_requests": 2,
    }
