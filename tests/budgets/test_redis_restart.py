"""Redis-only: after a restart (simulated by deleting every key of the prefix, the marker included) the
counters are rebuilt from the database, and Redis holds money as integer strings."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from decimal import Decimal

import pytest

from ledgerlm.budgets.types import AdmitPlan, BudgetCheck, EntityRef

from .conftest import Pair

KEY = EntityRef("key", "k-restart")
NOW = 1_800_000_000.0


async def test_counters_rebuilt_after_restart(pair: Pair) -> None:
    if pair.client is None:
        pytest.skip("Redis-only behaviour")
    first = AdmitPlan(uuid.uuid4().hex, 600_000_000_000_000, (BudgetCheck(KEY, 10**15),))
    assert (await pair.first.admit(first, NOW)).ok
    await pair.first.settle(first.reservation_id, 600_000_000_000_123, 0, NOW)
    raw = await pair.client.get(f"{pair.prefix}:sp:{KEY.slug}")
    assert raw == b"600000000000123"  # integer nano-USD string, never a float
    # the spend writer recorded the settled cost; then Redis loses everything
    pair.database.spend[KEY] = Decimal("600000.000000123")
    keys = [k async for k in pair.client.scan_iter(match=pair.prefix + "*")]
    await pair.client.delete(*keys)
    loads = pair.database.loads
    retry = AdmitPlan(uuid.uuid4().hex, 500_000_000_000_000, (BudgetCheck(KEY, 10**15),))
    result = await pair.second.admit(retry, NOW)
    assert (result.outcome, result.spend_nano) == ("budget", 600_000_000_000_123)
    assert pair.database.loads == loads + 1
    assert await pair.client.get(f"{pair.prefix}:epoch") is not None


async def test_no_instance_admits_until_holds_are_restored(pair: Pair) -> None:
    """Issue 14, hole 5: B has 3 calls in flight and is slow to notice a Redis restart (its epoch
    watcher paused); A admits at once. Before: A rebuilt without B's holds and admitted 5 more where 2
    fit (+60% of the budget). Now the rebuild's quiet window refuses budgeted admits until B restored its
    holds; afterwards A admits exactly what is left."""
    if pair.client is None:
        pytest.skip("Redis-only behaviour")
    from ledgerlm.budgets.redis_backend import RESTORE_WINDOW_S, CountersRebuilding, RedisBudgets

    assert isinstance(pair.first, RedisBudgets) and isinstance(pair.second, RedisBudgets)
    ref = EntityRef("key", "k-" + uuid.uuid4().hex[:8])
    one, fits = 10**9, 5  # nano-USD per call; the budget fits five calls

    def plan() -> AdmitPlan:
        return AdmitPlan(uuid.uuid4().hex, one, (BudgetCheck(ref, one * fits),))

    now = time.time()
    assert all([(await pair.second.admit(plan(), now)).ok for _ in range(3)])  # B's calls in flight
    watcher = pair.second._watcher
    assert watcher is not None
    watcher.cancel()  # B is slow to notice the restart (a stalled instance)
    keys = [k async for k in pair.client.scan_iter(match=pair.prefix + "*")]
    await pair.client.delete(*keys)  # the restart: every counter and hold is gone
    at_once = 0
    for _ in range(fits):
        with contextlib.suppress(CountersRebuilding):
            at_once += (await pair.first.admit(plan(), time.time())).ok
    pair.second._watcher = asyncio.create_task(pair.second._watch_epoch())  # B notices, restores
    rs = f"{pair.prefix}:rs:{ref.slug}"
    for _ in range(100):
        if int(await pair.client.get(rs) or 0) >= 3 * one:
            break
        await asyncio.sleep(0.05)
    after = [(await pair.first.admit(plan(), time.time() + RESTORE_WINDOW_S)).ok for _ in range(fits)]
    assert 3 + at_once + sum(after) == fits, (at_once, after)  # never more than the budget
