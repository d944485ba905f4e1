"""Issue 21 review findings: corner cases where the rollups (pending deltas, folds, weekly tiers) must
still equal the spend rows. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog, rollup_deltas
from ledgerlm.store.dashboard import OverviewQuery, Visible, overview
from ledgerlm.store.spend_queries import spend_report

from .factories import make_record
from .helpers import ingest

ONE_CALL = Decimal("0.0002865")  # make_record's cost


def _row(day: date, **fields: Any) -> dict[str, Any]:
    at = datetime.combine(day, time(12), UTC).timestamp()
    row = SpendLog.from_record(make_record(start_time=at, end_time=at + 1), store_prompts=False)
    row.update(fields)
    return row


async def test_a_call_without_a_model_counts_in_the_totals(engine: AsyncEngine) -> None:
    """A call that failed before routing has ``model = ""`` (``engine.record._model_fields`` with no
    deployment); it still counts in the day totals and the overview, folded or not."""
    day = date(2037, 2, 3)  # this module's only rows of that day
    await ingest(engine, [_row(day, model="", model_group=None, status="failure", spend=None)])
    await ingest(engine, [_row(day)])
    for step in ("pending", "folded"):
        [found] = await spend_report(engine, "day", start=day, end=day)
        assert (found["spend"], found["api_requests"], found["failed_requests"]) == (ONE_CALL, 2, 1), step
        result = await overview(engine, OverviewQuery("model", day, day, Visible(everything=True)))
        assert result["totals"]["api_requests"] == 2, step
        assert sum(group["api_requests"] for group in result["groups"] or []) == 2, step
        await rollup_deltas.fold(engine)
