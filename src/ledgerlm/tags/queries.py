"""Reading the spend log for allocation and drift (``spend_logs`` + ``spend_log_tags``).

* ``call_tags(engine, start, end, restrict_api_key)``: the spend rows of the inclusive UTC day range,
  grouped IN THE DATABASE by stored tags, team and the tag policy record (kept in the row's
  ``metadata.request_metadata.tag_policy``): one ``CallTags`` per group, so a month of calls with a few
  hundred tag combinations is a few hundred rows here.
* ``earlier_values(engine, before, dimensions)``: every value each dimension had before ``before``.
* ``global_total(engine, start, end, restrict_api_key)``: the total of ``/global/spend/report``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
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
    """The policy record from its JSON text (``None``, ``"null"`` and non-objects: ``{}``)."""
    try:
        while isinstance(value, str | bytes):  # PostgreSQL: the text; SQLite may quote it once more
            value = orjson.loads(value)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _grouped(filters: LogFilter, dialect: str) -> sa.Select[Any]:
    """Spend rows grouped by what allocation and drift read (tags, team, policy record): one row per
    distinct combination, with its spend sum and its call and unpriced counts."""
    c = spend_logs.c
    record: Any = c["metadata"]["request_metadata"][RECORD_KEY]
    tags: Any = c.request_tags
    if dialect == "postgresql":  # json (not jsonb) has no equality: group on the text
        record = sa.cast(record, sa.Text)
    return (
        sa.select(
            tags.label("tags"),
            c.team_id,
            record.label("record"),
            sa.func.sum(c.spend).label("spend"),
            sa.func.count().label("calls"),
            sa.func.count(c.spend).label("priced"),
        )
        .where(*filters.conditions())
        .group_by(tags, c.team_id, record)
    )


async def call_tags(
    engine: AsyncEngine,
    start: date | None = None,
    end: date | None = None,
    restrict_api_key: str | None = None,
) -> list[CallTags]:
    """The spend rows of ``[start, end]`` as ``CallTags``, grouped in the database by identical tags,
    team and policy record (``calls``/``unpriced`` count the rows of each group)."""
    filters = LogFilter(start=start, end=end, restrict_api_key=restrict_api_key)
    out: list[CallTags] = []
    async with engine.connect() as conn:
        result = await conn.stream(_grouped(filters, engine.dialect.name).execution_options(yield_per=5000))
        async for row in result:
            tags = row.tags if isinstance(row.tags, list) else []
            spend = None if row.priced == 0 else to_decimal(row.spend)
            unpriced = int(row.calls) - int(row.priced)
            calls, record = int(row.calls), _record(row.record)
            out.append(
                CallTags(
                    spend, [str(t) for t in tags], row.team_id, record=record, calls=calls, unpriced=unpriced
                )
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
