"""The report of one month: what ``ledgerlm period close`` freezes and ``period report`` prints.

``await period_report_data(conn, "2026-11")`` -> a JSON-ready dict (amounts as decimal strings, USD):

* ``period``, ``start`` / ``end`` (ISO UTC, end exclusive);
* ``totals``: ``rows`` (spend rows whose ``startTime`` is in the month), ``unpriced_rows``,
  ``spend`` (their original cost), ``adjustments`` (count and ``adjustment_spend``: deltas of the
  adjustments that LANDED in the month, including corrections of earlier closed months), ``total``;
* ``by_team``, ``by_key``, ``by_model``, ``by_tag``, ``by_day``: ``{group: {"spend", "adjustments",
  "total"}}`` (groups without a value are ``""``; ``by_model`` uses the model group, else the model).

Computed with SQL aggregates (the spend rows are never loaded); keys are sorted so the canonical text
is the same for the same ledger.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ledgerlm.ledger.periods import period_bounds
from ledgerlm.store.coltypes import money_str, to_decimal
from ledgerlm.store.tables import spend_adjustments, spend_log_tags, spend_logs

__all__ = ["period_report_data"]

_DIMENSIONS = ("team", "key", "model", "day")


def _utc_day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)


def _groups(table: sa.Table, time_column: Any, dialect: str) -> dict[str, Any]:
    c = table.c
    return {
        "team": sa.func.coalesce(c.team_id, ""),
        "key": sa.func.coalesce(c.api_key, ""),
        "model": sa.func.coalesce(c.model_group, c.model),
        "day": _utc_day(time_column, dialect),
    }


async def _sums(conn: AsyncConnection, amount: Any, groups: dict[str, Any], where: Any) -> dict[str, Any]:
    out: dict[str, dict[str, Decimal]] = {}
    for name, group in groups.items():
        statement = sa.select(group.label("g"), sa.func.sum(amount)).where(where).group_by(group)
        out[name] = {str(g): to_decimal(total or 0) for g, total in await conn.execute(statement)}
    return out


async def _tag_sums(
    conn: AsyncConnection, start: Any, end: Any, period: str
) -> tuple[dict[str, Decimal], ...]:
    c = spend_logs.c
    joined = spend_logs.join(spend_log_tags, spend_log_tags.c.request_id == c.request_id)
    statement = (
        sa.select(spend_log_tags.c.tag, sa.func.sum(c.spend))
        .select_from(joined)
        .where(c.startTime >= start, c.startTime < end)
        .group_by(spend_log_tags.c.tag)
    )
    spend = {str(tag): to_decimal(total or 0) for tag, total in await conn.execute(statement)}
    adjusted: dict[str, Decimal] = defaultdict(Decimal)
    a = spend_adjustments.c
    result = await conn.stream(sa.select(a.request_tags, a.delta).where(a.period == period))
    async for tags, delta in result:
        for tag in tags or []:
            adjusted[str(tag)] += delta
    return spend, dict(adjusted)


def _merge(spend: dict[str, Decimal], adjusted: dict[str, Decimal]) -> dict[str, dict[str, str | None]]:
    out: dict[str, dict[str, str | None]] = {}
    for group in sorted(set(spend) | set(adjusted)):
        base, delta = spend.get(group, Decimal(0)), adjusted.get(group, Decimal(0))
        out[group] = {
            "spend": money_str(base),
            "adjustments": money_str(delta),
            "total": money_str(base + delta),
        }
    return out


async def period_report_data(conn: AsyncConnection, period: str) -> dict[str, Any]:
    """The report of ``period`` (see the module docstring)."""
    start, end = period_bounds(period)
    dialect = conn.dialect.name
    c, a = spend_logs.c, spend_adjustments.c
    in_month = sa.and_(c.startTime >= start, c.startTime < end)
    landed = a.period == period
    counts = sa.select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(c.spend), 0), sa.func.count() - sa.func.count(c.spend)
    ).where(in_month)
    rows, spend, unpriced = (await conn.execute(counts)).one()
    adjustment = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(a.delta), 0)).where(landed)
    adjustments, delta = (await conn.execute(adjustment)).one()
    spend, delta = to_decimal(spend), to_decimal(delta)
    base = await _sums(conn, c.spend, _groups(spend_logs, c.startTime, dialect), in_month)
    moved = await _sums(conn, a.delta, _groups(spend_adjustments, a.charge_time, dialect), landed)
    tag_spend, tag_moved = await _tag_sums(conn, start, end, period)
    report: dict[str, Any] = {
        "period": period,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "totals": {
            "rows": int(rows),
            "unpriced_rows": int(unpriced),
            "spend": money_str(spend),
            "adjustments": int(adjustments),
            "adjustment_spend": money_str(delta),
            "total": money_str(spend + delta),
        },
        "by_tag": _merge(tag_spend, tag_moved),
    }
    for name in _DIMENSIONS:
        report[f"by_{name}"] = _merge(base[name], moved[name])
    return report
