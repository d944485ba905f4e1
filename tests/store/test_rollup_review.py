"""Issue 21 review findings: corner cases where the rollups (pending deltas, folds, weekly tiers) must
still equal the spend rows. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog, SpendWriter, Spool, rollup_deltas
from ledgerlm.store.dashboard import OverviewQuery, Visible, overview
from ledgerlm.store.spend_queries import spend_report

from .factories import Database, make_record
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


async def test_odd_client_strings_are_written_and_counted_once(database: Database, tmp_path: Path) -> None:
    """Over-long, multi-byte and NUL-holding user / end user / tags / model / provider values: the
    writer bounds them, writes every row (none rejected) and the rollups count each exactly once."""
    day = date(2037, 3, 4)
    odd = "ü\x00" + "é" * 300
    spool = Spool(tmp_path)
    for n in range(6):
        row = _row(day, user=f"{n % 2}{odd}", end_user=odd, team_id=None)
        row.update(model="m" * 400, model_group="", custom_llm_provider="p" * 100)
        row["request_tags"] = ["t" * 1000, "ü" * 256, "a\x00b", "t" * 1000 + "x"]
        spool.append(row)
    writer = SpendWriter(database.engine(), spool, batch_size=4, interval_s=0.01)
    await writer.start()
    await writer.stop(timeout_s=30)
    try:
        assert (writer.rows_written, writer.rows_rejected) == (6, 0)
        for step in ("as written", "folded"):
            for group_by in ("day", "user", "customer", "tag", "model"):
                found = await spend_report(writer.engine, group_by, start=day, end=day)  # type: ignore[arg-type]
                counts = sorted(row["api_requests"] for row in found)
                expected = {"user": [3, 3], "tag": [6, 6, 6]}.get(group_by, [6])
                assert counts == expected, (step, group_by, [row["group"][:20] for row in found])
            await rollup_deltas.fold(writer.engine)
    finally:
        await writer.engine.dispose()
