"""Reading the spend log for allocation and drift (``spend_logs`` + ``spend_log_tags``).

* ``call_tags(engine, start, end, restrict_api_key)``: one ``CallTags`` per spend row in the inclusive
  UTC day range (spend, stored tags, team, status and the tag policy record kept in the row's
  ``metadata.request_metadata.tag_policy``), streamed from the database.
* ``earlier_values(engine, before, dimensions)``: every value each dimension had before ``before``.
* ``global_total(engine, start, end, restrict_api_key)``: the total of ``/global/spend/report``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import spend_queries
from ledgerlm.store.coltypes import to_decimal
from ledgerlm.store.spend_queries import LogFilter, day_bounds
from ledgerlm.store.tables import spend_log_tags, spend_logs
from ledgerlm.tags.allocation import CallTags
from ledgerlm.tags.dimensions import split_tag
from ledgerlm.tags.enforce import RECORD_KEY

__all__ = ["call_tags", "earlier_values", "global_total"]


def _record(value: Any) -> dict[str, Any]:
    if isinstance(value, str):  # SQLite json_extract returns the object as text
        import orjson

        value = orjson.loads(value)
    return value if isinstance(value, dict) else {}


async def call_tags(
    engine: AsyncEngine,
    start: date | None = None,
    end: date | None = None,
    restrict_api_key: str | None = None,
) -> list[CallTags]:
    """Every spend row of ``[start, end]`` (see the module docstring)."""
    c = spend_logs.c
    record = c["metadata"]["request_metadata"][RECORD_KEY]
    filters = LogFilter(start=start, end=end, restrict_api_key=restrict_api_key)
    statement = sa.select(c.spend, c.request_tags, c.team_id, c.status, record.label("record")).where(
        *filters.conditions()
    )
    out: list[CallTags] = []
    async with engine.connect() as conn:
        result = await conn.stream(statement.execution_options(yield_per=5000))
        async for row in result:
            tags = row.request_tags if isinstance(row.request_tags, list) else []
            out.append(
                CallTags(row.spend, [str(t) for t in tags], row.team_id, row.status, _record(row.record))
            )
    return out


async def earlier_values(
    engine: AsyncEngine, before: date | None, dimensions: Iterable[str]
) -> dict[str, set[str]]:
    """``{dimension: {values seen before the day ``before``}}`` (empty when ``before`` is None)."""
    dims = list(dimensions)
    out: dict[str, set[str]] = {d: set() for d in dims}
    if before is None or not dims:
        return out
    low, _ = day_bounds(before, None)
    t = spend_log_tags.c
    like = sa.or_(*(t.tag.like(f"{d}{sep}%") for d in dims for sep in (":", "=")))
    statement = sa.select(t.tag).where(t.startTime < low, like).distinct()
    async with engine.connect() as conn:
        for (tag,) in await conn.execute(statement):
            parts = split_tag(tag)
            if parts is not None and parts[0] in out:
                out[parts[0]].add(parts[1])
    return out


async def global_total(
    engine: AsyncEngine,
    start: date | None = None,
    end: date | None = None,
    restrict_api_key: str | None = None,
) -> dict[str, Any]:
    """``{"spend": Decimal USD, "api_requests", "unpriced_requests"}``: the sum of every
    ``/global/spend/report`` day row over the range (every call counts in exactly one day)."""
    rows = await spend_queries.spend_report(
        engine, "day", start=start, end=end, restrict_api_key=restrict_api_key
    )
    return {
        "spend": to_decimal(sum((r["spend"] for r in rows), Decimal(0))),
        "api_requests": sum(r["api_requests"] for r in rows),
        "unpriced_requests": sum(r["unpriced_requests"] for r in rows),
    }
