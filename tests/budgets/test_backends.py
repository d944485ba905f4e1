"""Counter backends: atomic all-or-nothing admission, settle, release, leases, reloads, rate counters."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from ledgerlm.budgets.types import AdmitPlan, BudgetCheck, EntityRef, RateCheck

from .conftest import Pair

KEY = EntityRef("key", "k-hash")
TEAM = EntityRef("team", "team-a")
NOW = 1_800_000_000.0


def plan(
    amount: int, *checks: BudgetCheck, rates: tuple[RateCheck, ...] = (), lease: float = 600
) -> AdmitPlan:
    return AdmitPlan(uuid.uuid4().hex, amount, tuple(checks), rates, (), lease)


async def test_fifty_concurrent_admit_exactly_five(pair: Pair) -> None:
    plans = [plan(200, BudgetCheck(KEY, 1000)) for _ in range(50)]
    backends = [pair.first, pair.second]
    results = await asyncio.gather(*(backends[i % 2].admit(p, NOW) for i, p in enumerate(plans)))
    admitted = [p for p, r in zip(plans, results, strict=True) if r.ok]
    assert len(admitted) == 5
    assert {r.outcome for r in results if not r.ok} == {"budget"}
    assert await pair.first.spend(KEY) == (0, 1000)
    for p in admitted:
        assert await pair.second.settle(p.reservation_id, 150, 0, NOW)
    assert await pair.first.spend(KEY) == (750, 0)
    # 250 left: one more request of 200 fits, the next does not
    assert (await pair.first.admit(plan(200, BudgetCheck(KEY, 1000)), NOW)).ok
    assert not (await pair.second.admit(plan(200, BudgetCheck(KEY, 1000)), NOW)).ok


async def test_all_or_nothing_across_budgets(pair: Pair) -> None:
    first = await pair.first.admit(plan(100, BudgetCheck(KEY, 1000), BudgetCheck(TEAM, 150)), NOW)
    assert first.ok
    second = await pair.second.admit(plan(100, BudgetCheck(KEY, 1000), BudgetCheck(TEAM, 150)), NOW)
    assert (second.outcome, second.ref, second.limit, second.reserved_nano) == ("budget", TEAM, 150, 100)
    # the key's reservation was not taken by the rejected admission
    assert await pair.first.spend(KEY) == (0, 100)


async def test_release_and_double_settle(pair: Pair) -> None:
    p = plan(400, BudgetCheck(KEY, 1000))
    assert (await pair.first.admit(p, NOW)).ok
    assert await pair.second.release(p.reservation_id)
    assert not await pair.first.release(p.reservation_id)
    assert not await pair.first.settle(p.reservation_id, 10, 0, NOW)
    assert await pair.first.spend(KEY) == (0, 0)


async def test_spend_loaded_from_database_once(pair: Pair) -> None:
    pair.database.spend[KEY] = Decimal("0.000000900")
    result = await pair.first.admit(plan(200, BudgetCheck(KEY, 1000)), NOW)
    assert (result.outcome, result.spend_nano) == ("budget", 900)
    pair.database.spend[KEY] = Decimal(0)  # later database changes do not reload a loaded counter
    assert not (await pair.second.admit(plan(200, BudgetCheck(KEY, 1000)), NOW)).ok
    assert (await pair.first.admit(plan(100, BudgetCheck(KEY, 1000)), NOW)).ok


async def test_expired_lease_is_reclaimed_but_late_settle_counts(pair: Pair) -> None:
    stuck = plan(800, BudgetCheck(KEY, 1000), lease=30)
    assert (await pair.first.admit(stuck, NOW)).ok
    assert not (await pair.second.admit(plan(800, BudgetCheck(KEY, 1000)), NOW + 10)).ok
    later = plan(100, BudgetCheck(KEY, 1000))
    assert (await pair.second.admit(later, NOW + 31)).ok  # the crashed instance's hold is gone
    assert await pair.first.spend(KEY) == (0, 100)
    assert await pair.first.settle(stuck.reservation_id, 300, 0, NOW + 40)
    assert await pair.first.spend(KEY) == (300, 100)


async def test_rate_limits_rpm_parallel_tpm(pair: Pair) -> None:
    rates = (RateCheck(KEY, rpm=3, tpm=None, parallel=2),)
    a, b, c = (plan(0, rates=rates) for _ in range(3))
    assert (await pair.first.admit(a, NOW)).ok
    ok_b = await pair.second.admit(b, NOW)
    assert ok_b.ok and ok_b.rates[0].rpm_used == 2
    blocked = await pair.first.admit(c, NOW)
    assert (blocked.outcome, blocked.count) == ("parallel", 2)
    await pair.first.settle(a.reservation_id, 0, 10, NOW)
    assert (await pair.second.admit(c, NOW)).ok
    over = await pair.first.admit(plan(0, rates=rates), NOW)
    assert (over.outcome, over.limit, over.count) == ("rpm", 3, 3)
    await pair.second.release(b.reservation_id)
    assert (await pair.first.admit(plan(0, rates=rates), NOW + 60)).ok  # next window
    tokens = (RateCheck(TEAM, tpm=100),)
    t = plan(0, rates=tokens)
    assert (await pair.first.admit(t, NOW)).ok
    await pair.second.settle(t.reservation_id, 0, 100, NOW)
    limited = await pair.first.admit(plan(0, rates=tokens), NOW)
    assert (limited.outcome, limited.count) == ("tpm", 100)
    assert limited.rates[0].tpm_used == 100


async def test_reset_keeps_open_reservations(pair: Pair) -> None:
    done, open_ = plan(500, BudgetCheck(KEY, 1000)), plan(300, BudgetCheck(KEY, 1000))
    assert (await pair.first.admit(done, NOW)).ok and (await pair.first.admit(open_, NOW)).ok
    await pair.first.settle(done.reservation_id, 500, 0, NOW)
    await pair.second.reset_spend(KEY)
    assert await pair.first.spend(KEY) == (0, 300)


async def test_mark_once(pair: Pair) -> None:
    assert await pair.first.mark_once("alert:x", 60)
    assert not await pair.second.mark_once("alert:x", 60)


async def test_counter_of_another_period_reloads_from_database(pair: Pair) -> None:
    """A reset made by another instance (new ``budget_reset_at``) reaches this instance's counter."""
    pair.database.spend[KEY] = Decimal("0.0000009")
    old = plan(200, BudgetCheck(KEY, 1000, "2026-01-01T00:00:00+00:00"))
    assert not (await pair.first.admit(old, NOW)).ok
    pair.database.spend[KEY] = Decimal(0)  # the database was reset; the counter still says 900
    assert not (await pair.second.admit(plan(200, BudgetCheck(KEY, 1000, old.budgets[0].period)), NOW)).ok
    new = plan(200, BudgetCheck(KEY, 1000, "2026-01-02T00:00:00+00:00"))
    assert (await pair.second.admit(new, NOW)).ok
    assert await pair.first.spend(KEY) == (0, 200)
