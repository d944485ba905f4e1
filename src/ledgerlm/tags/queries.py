"""Reading the spend log for allocation and drift (``spend_logs`` + ``spend_log_tags``).

Both read the spend rows a ``LogFilter`` selects (dates: inclusive UTC days; a caller's scope).

* ``call_tags(engine, filters)``: the spend rows as ``CallTags``.
  Rows without a tag policy record are grouped IN THE DATABASE by stored tags and team (a month of calls
  with a few hundred tag combinations is a few hundred rows here); rows with one (defaulted,
  quarantined: ``metadata.request_metadata.tag_policy``) are read one by one.
* ``earlier_values(engine, before, dimensions)``: every value each dimension had before ``before``.
* ``global_total(engine, filters)``: the total of ``/global/spend/report`` (its daily tables) for a plain
  date range; the sum of the selected rows for any other filter (a caller's scope).
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


def _record(metadata_text: str | None) -> dict[str, Any]:
    """The policy record of a row from its ``metadata`` JSON text (``{}`` when absent or unreadable).
    Parsed here, not in SQL: PostgreSQL's json operators fail on a ``\\u0000`` anywhere in the text."""
    try:
        metadata = orjson.loads(metadata_text) if metadata_text else {}
    except orjson.JSONDecodeError:
        return {}
    request_metadata = metadata.get("request_metadata") if isinstance(metadata, dict) else None
    record = request_metadata.get(RECORD_KEY) if isinstance(request_metadata, dict) else None
    return record if isinstance(record, dict) else {}


def _has_record(recorded: bool) -> sa.ColumnElement[bool]:
    """Rows whose metadata text names the policy record (a superset: ``_`` is a LIKE wildcard)."""
    text = sa.cast(spend_logs.c["metadata"], sa.Text)
    marker = f'%"{RECORD_KEY}"%'
    return text.like(marker) if recorded else sa.not_(text.like(marker))


def _grouped(filters: LogFilter) -> sa.Select[Any]:
    """Rows without a policy record, grouped by tags and team: one row per distinct combination, with
    its spend sum and its call and priced counts."""
    c = spend_logs.c
    return (
        sa.select(
            c.request_tags.label("tags"),
            c.team_id,
            sa.func.sum(c.spend).label("spend"),
            sa.func.count().label("calls"),
            sa.func.count(c.spend).label("priced"),
        )
        .where(*filters.conditions(), _has_record(False))
        .group_by(c.request_tags, c.team_id)
    )


def _recorded(filters: LogFilter) -> sa.Select[Any]:
    """Rows with a policy record (defaulted, quarantined or invalid: the few), one by one."""
    c = spend_logs.c
    metadata = sa.cast(c["metadata"], sa.Text).label("metadata_text")
    return sa.select(c.request_tags.label("tags"), c.team_id, c.spend, metadata).where(
        *filters.conditions(), _has_record(True)
    )


def _tags(value: Any) -> list[str]:
    return [str(t) for t in value] if isinstance(value, list) else []


async def call_tags(engine: AsyncEngine, filters: LogFilter) -> list[CallTags]:
    """The spend rows ``filters`` selects as ``CallTags``: rows without a policy record grouped in the
    database by identical tags and team (``calls``/``unpriced`` count each group's rows), rows with one
    read one by one."""
    out: list[CallTags] = []
    async with engine.connect() as conn:
        grouped = await conn.stream(_grouped(filters).execution_options(yield_per=5000))
        async for row in grouped:
            spend = None if row.priced == 0 else to_decimal(row.spend)
            calls, unpriced = int(row.calls), int(row.calls) - int(row.priced)
            out.append(CallTags(spend, _tags(row.tags), row.team_id, calls=calls, unpriced=unpriced))
        recorded = await conn.stream(_recorded(filters).execution_options(yield_per=5000))
        async for row in recorded:
            out.append(CallTags(row.spend, _tags(row.tags), row.team_id, record=_record(row.metadata_text)))
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


async def global_total(engine: AsyncEngine, filters: LogFilter) -> dict[str, Any]:
    """``{"spend": Decimal USD, "api_requests", "unpriced_requests"}`` of the calls ``filters`` selects:
    for a plain date range the sum of the ``/global/spend/report`` day rows (its daily tables: every call
    counts in exactly one day), else the sum of the selected spend rows."""
    if filters == LogFilter(start=filters.start, end=filters.end):
        rows = await spend_queries.spend_report(engine, "day", start=filters.start, end=filters.end)
        spend = sum((r["spend"] for r in rows), Decimal(0))
        calls, unpriced = sum(r["api_requests"] for r in rows), sum(r["unpriced_requests"] for r in rows)
    else:
        c = spend_logs.c
        statement = sa.select(sa.func.sum(c.spend), sa.func.count(), sa.func.count(c.spend)).where(
            *filters.conditions()
        )
        async with engine.connect() as conn:
            total, calls, priced = (await conn.execute(statement)).one()
        spend, unpriced = total or Decimal(0), calls - priced
    return {"spend": to_decimal(spend), "api_requests": int(calls), "unpriced_requests": int(unpriced)}
