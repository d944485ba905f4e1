"""Two concurrent calls carrying the same client request id (``x-request-id``) hold SEPARATE
reservations: reservations are keyed by a server-made id, so settling or releasing one never touches
the other. Memory and Redis backends (``pair``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

from ledgerlm.budgets.reservations import Budgets
from ledgerlm.budgets.types import EntityLimits, EntityRef

from .conftest import Pair
from .prices import LinearPrice

PRICE = LinearPrice(Decimal("0.000001"), Decimal("0.000004"))
BODY = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


async def test_same_request_id_two_reservations(pair: Pair) -> None:
    reset = datetime(2026, 12, 1, tzinfo=UTC)
    key = EntityLimits(EntityRef("key", "shared-rid"), max_budget=Decimal(1), budget_reset_at=reset)
    engines = [Budgets(pair.first), Budgets(pair.second)]
    first, second = await asyncio.gather(
        *(engine.reserve([key], price=PRICE, body=BODY, request_id="same-id-1") for engine in engines)
    )
    assert first.held and second.held and first.id != second.id
    assert first.request_id == second.request_id == "same-id-1"
    _, reserved = await pair.first.spend(key.ref)
    assert reserved > 0
    await engines[0].settle(first, Decimal("0.0001"), tokens=10)
    spend, still_reserved = await pair.first.spend(key.ref)
    assert Decimal(spend) / 10**9 == Decimal("0.0001") and 0 < still_reserved < reserved  # second still held
    await engines[1].settle(second, Decimal("0.0002"), tokens=20)
    spend, reserved_after = await pair.first.spend(key.ref)
    assert Decimal(spend) / 10**9 == Decimal("0.0003") and reserved_after == 0
