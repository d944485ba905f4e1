"""Spend rows for ledger tests: calls with real usage, priced by the real pricing code (or unpriced)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.store.factories import make_record, uid

from ledgerlm.pricing import CompiledPrice
from ledgerlm.record import CostRecord, UsageRecord
from ledgerlm.store import SpendLog
from ledgerlm.store.ingest import write_rows
from ledgerlm.store.tables import spend_adjustments
from ledgerlm.types import Cost, Usage

USAGE = Usage(input_tokens=1200, output_tokens=300, cache_read_tokens=200, reasoning_tokens=100)


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def cost_record(cost: Cost) -> CostRecord:
    return CostRecord(
        total=cost.total,
        breakdown=dict(cost.breakdown),
        unpriced_reason=cost.unpriced_reason,
        source=cost.source,
        model_ref=cost.model_ref,
        tier=cost.tier,
        data_version=cost.data_version,
        price_id=cost.price_id,
    )


def usage_record(usage: Usage) -> UsageRecord:
    return UsageRecord(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        reasoning_tokens=usage.reasoning_tokens,
    )


def call(price: CompiledPrice, start: datetime, *, usage: Usage = USAGE, **fields: Any) -> dict[str, Any]:
    """The spool row of one call of ``price``'s model at ``start``, priced by ``price`` (as the engine
    would: ``price.cost(usage, at=start)``)."""
    cost = price.cost(usage, at=start)
    record = make_record(
        id=uid("req-"),
        model=price.model,
        model_group=fields.pop("model_group", price.model),
        provider=price.provider,
        start_time=start.timestamp(),
        end_time=start.timestamp() + 1.5,
        usage=usage_record(usage),
        cost=cost_record(cost),
        **fields,
    )
    return SpendLog.from_record(record, store_prompts=False)


async def ingest(engine: AsyncEngine, rows: list[dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        await write_rows(conn, rows)


async def adjustments(engine: AsyncEngine, *request_ids: str) -> list[dict[str, Any]]:
    a = spend_adjustments.c
    statement = (
        sa.select(spend_adjustments).where(a.request_id.in_(request_ids)).order_by(a.request_id, a.seq)
    )
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(statement)).mappings()]


def total(*amounts: Decimal | None) -> Decimal:
    return sum((a or Decimal(0) for a in amounts), Decimal(0))
