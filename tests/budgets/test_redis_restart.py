"""Redis-only: after a restart (simulated by deleting every key of the prefix, the marker included) the
counters are rebuilt from the database, and Redis holds money as integer strings."""

from __future__ import annotations

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
