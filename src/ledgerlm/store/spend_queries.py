"""Spend queries behind ``GET /spend/logs``, ``GET /spend/tags``, ``GET /global/spend/report`` and
``ledgerlm spend report``.

* ``query_logs(engine, LogFilter(...), limit, offset)`` / ``count_logs``: spend log rows, newest first.
* ``spend_per_tag(engine, start, end)``: spend (USD) and request counts per request tag.
* ``spend_report(engine, group_by, start, end)``: totals grouped by ``team``, ``customer``,
  ``api_key``, ``user``, ``tag``, ``model`` or ``day``.

Dates are UTC calendar days, ``start`` and ``end`` INCLUSIVE. Reports and per-tag spend are served from
the daily aggregate tables; when ``restrict_api_key`` is set (a non-admin caller sees only its own
key's spend) they are computed from that key's rows instead. Amounts are ``Decimal`` USD; unpriced
calls count in ``api_requests``/``unpriced_requests`` and add nothing to ``spend``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.record import ATTEMPT_MARK
from ledgerlm.store import rollup_deltas
from ledgerlm.store.coltypes import to_decimal
from ledgerlm.store.tables import (
    COUNTER_COLUMNS,
    DAILY_TOTAL_TABLES,
    TOKEN_COLUMNS,
    end_users,
    spend_log_tags,
    spend_logs,
    teams,
    verification_tokens,
)

Row = dict[str, Any]
GroupBy = Literal["team", "customer", "api_key", "user", "tag", "model", "day"]
GROUP_BY_VALUES: tuple[str, ...] = ("team", "customer", "api_key", "user", "tag", "model", "day")

_DAILY_KIND = {"team": "team", "customer": "end_user", "api_key": "key", "user": "user", "tag": "tag"}
_LABELS: dict[str, tuple[sa.Table, str, str]] = {
    "team": (teams, "team_id", "team_alias"),
    "api_key": (verification_tokens, "token", "key_alias"),
    "customer": (end_users, "user_id", "alias"),
}


def day_bounds(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """``[start 00:00 UTC, end + 1 day 00:00 UTC)`` for inclusive UTC dates (either may be ``None``)."""
    low = None if start is None else datetime.combine(start, time(), UTC)
    high = None if end is None else datetime.combine(end + timedelta(days=1), time(), UTC)
    return low, high


@dataclass(frozen=True)
class LogFilter:
    """Filters of ``GET /spend/logs`` (all optional, combined with AND).

    ``tags``: rows carrying ANY of them. ``model``: the model group or the provider model name.
    ``start``/``end``: inclusive UTC dates. ``restrict_api_key``: a key hash the caller is limited to.
    """

    request_id: str | None = None
    api_key: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    end_user: str | None = None
    tags: Sequence[str] = ()
    model: str | None = None
    status: str | None = None
    start: date | None = None
    end: date | None = None
    restrict_api_key: str | None = None

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        c = spend_logs.c
        out: list[sa.ColumnElement[bool]] = []
        equal = {
            "request_id": self.request_id,
            "api_key": self.api_key,
            "user": self.user_id,
            "team_id": self.team_id,
            "end_user": self.end_user,
            "status": self.status,
        }
        out.extend(c[name] == value for name, value in equal.items() if value is not None)
        if self.restrict_api_key is not None:
            out.append(c.api_key == self.restrict_api_key)
        if self.model is not None:
            out.append(sa.or_(c.model_group == self.model, c.model == self.model))
        low, high = day_bounds(self.start, self.end)
        if self.tags:
            # correlated on (request_id, startTime): the newest-first scan of spend_logs probes the tag
            # table's primary key, in the ONE partition of the row's day (PostgreSQL, migration 0017)
            t = spend_log_tags.c
            bounds = [*([t.startTime >= low] if low else []), *([t.startTime < high] if high else [])]
            out.append(
                sa.exists().where(
                    t.request_id == c.request_id,
                    t.startTime == c.startTime,
                    t.tag.in_(list(self.tags)),
                    *bounds,
                )
            )
        if low is not None:
            out.append(c.startTime >= low)
        if high is not None:
            out.append(c.startTime < high)
        return out


async def query_logs(
    engine: AsyncEngine, filters: LogFilter, *, limit: int = 100, offset: int = 0
) -> list[Row]:
    """Spend log rows matching ``filters``, newest first (``startTime`` desc, then ``request_id``)."""
    statement = (
        sa.select(spend_logs)
        .where(*filters.conditions())
        .order_by(spend_logs.c.startTime.desc(), spend_logs.c.request_id)
        .limit(limit)
        .offset(offset)
    )
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(statement)).mappings()]


async def count_logs(engine: AsyncEngine, filters: LogFilter) -> int:
    """How many spend log rows match ``filters`` (for pagination)."""
    statement = sa.select(sa.func.count()).select_from(spend_logs).where(*filters.conditions())
    async with engine.connect() as conn:
        return int((await conn.execute(statement)).scalar_one())


def _sums(source: Any) -> list[sa.ColumnElement[Any]]:
    """``spend`` and every counter summed over ``source`` (a table or subquery), 0 when empty."""
    return [
        sa.func.coalesce(sa.func.sum(source.c.spend), 0).label("spend"),
        *(sa.func.coalesce(sa.func.sum(source.c[name]), 0).label(name) for name in COUNTER_COLUMNS),
    ]


def _daily_statement(group_by: str, start: date | None, end: date | None) -> sa.Select[Any]:
    rollup = DAILY_TOTAL_TABLES[_DAILY_KIND.get(group_by, "model")]  # the day x entity rollups (narrowest)
    table = rollup_deltas.readable(rollup)  # with the deltas not folded yet
    if group_by == "day":
        group = table.c.date
    elif group_by == "model":
        group = table.c.model
    else:
        group = table.c[list(rollup.primary_key.columns)[1].name]
    statement = sa.select(group.label("group"), *_sums(table)).group_by(group)
    if start is not None:
        statement = statement.where(table.c.date >= start)
    if end is not None:
        statement = statement.where(table.c.date <= end)
    return statement


def _utc_day(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.cast(sa.func.timezone("UTC", column), sa.Date)
    return sa.func.date(column)  # SQLite stores naive UTC text


def _rows_statement(group_by: str, filters: LogFilter, dialect: str) -> sa.Select[Any]:
    """The same report computed from spend log rows (used when restricted to one key)."""
    c = spend_logs.c
    groups: dict[str, Any] = {
        "team": c.team_id,
        "customer": c.end_user,
        "api_key": c.api_key,
        "user": c.user,
        "model": sa.func.coalesce(c.model_group, c.model),
        "day": _utc_day(c.startTime, dialect),
        "tag": spend_log_tags.c.tag,
    }
    request = sa.not_(c.request_id.contains(ATTEMPT_MARK, autoescape=True))  # attempt rows: spend only
    counters: dict[str, Any] = {
        "api_requests": sa.case((request, 1), else_=0),
        "successful_requests": sa.case((sa.and_(request, c.status == "success"), 1), else_=0),
        "failed_requests": sa.case((sa.and_(request, c.status == "failure"), 1), else_=0),
        "unpriced_requests": sa.case((sa.and_(request, c.spend.is_(None)), 1), else_=0),
        **{name: c[name] for name in TOKEN_COLUMNS},
    }
    source: Any = spend_logs
    if group_by == "tag":
        source = spend_logs.join(spend_log_tags, spend_log_tags.c.request_id == c.request_id)
    inner = (
        sa.select(groups[group_by].label("g"), c.spend, *(v.label(k) for k, v in counters.items()))
        .select_from(source)
        .where(*filters.conditions())
        .subquery()
    )
    group = inner.c.g
    return sa.select(group.label("group"), *_sums(inner)).where(group.is_not(None)).group_by(group)


async def spend_report(
    engine: AsyncEngine,
    group_by: GroupBy,
    *,
    start: date | None = None,
    end: date | None = None,
    restrict_api_key: str | None = None,
) -> list[Row]:
    """Totals per group over ``[start, end]`` (inclusive UTC dates), highest spend first.

    Each row: ``group`` (the team id, end user, key hash, user id, tag, model or ``date``), ``label``
    (team alias, key alias or masked key, customer alias; else ``None``), ``spend`` (``Decimal`` USD),
    ``api_requests``, ``successful_requests``, ``failed_requests``, ``unpriced_requests`` and token sums.
    Raises ``ValueError`` for an unknown ``group_by``.
    """
    if group_by not in GROUP_BY_VALUES:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY_VALUES)}")
    if restrict_api_key is None:
        statement = _daily_statement(group_by, start, end)
    else:
        filters = LogFilter(start=start, end=end, restrict_api_key=restrict_api_key)
        statement = _rows_statement(group_by, filters, engine.dialect.name)
    async with engine.connect() as conn:
        rows = [dict(row) for row in (await conn.execute(statement)).mappings()]
        await _add_labels(conn, group_by, rows)
    for row in rows:
        row["spend"] = to_decimal(row["spend"] or 0)
        row.update({name: int(row[name] or 0) for name in COUNTER_COLUMNS})
        if group_by == "day" and isinstance(row["group"], str):
            row["group"] = date.fromisoformat(row["group"])
    rows.sort(key=lambda row: (-row["spend"], str(row["group"])))
    return rows


async def spend_report_where(engine: AsyncEngine, group_by: GroupBy, filters: LogFilter) -> list[Row]:
    """``spend_report`` computed from the spend log rows matching ``filters`` (a caller limited to its
    own user's calls); same row shape."""
    statement = _rows_statement(group_by, filters, engine.dialect.name)
    async with engine.connect() as conn:
        rows = [dict(row) for row in (await conn.execute(statement)).mappings()]
        await _add_labels(conn, group_by, rows)
    for row in rows:
        row["spend"] = to_decimal(row["spend"] or 0)
        row.update({name: int(row[name] or 0) for name in COUNTER_COLUMNS})
        if group_by == "day" and isinstance(row["group"], str):
            row["group"] = date.fromisoformat(row["group"])
    rows.sort(key=lambda row: (-row["spend"], str(row["group"])))
    return rows


async def _add_labels(conn: Any, group_by: str, rows: list[Row]) -> None:
    for row in rows:
        row["label"] = None
    if group_by not in _LABELS or not rows:
        return
    table, key, label = _LABELS[group_by]
    columns = [table.c[key], table.c[label]]
    if group_by == "api_key":
        columns.append(table.c.key_name)
    ids = [row["group"] for row in rows]
    result = await conn.execute(sa.select(*columns).where(table.c[key].in_(ids)))
    found = {item[0]: (item[1] or (item[2] if len(item) > 2 else None)) for item in result}
    for row in rows:
        row["label"] = found.get(row["group"])


async def spend_per_tag(
    engine: AsyncEngine,
    *,
    start: date | None = None,
    end: date | None = None,
    restrict_api_key: str | None = None,
) -> list[Row]:
    """Spend and request counts per request tag (``spend_report(group_by="tag")`` rows)."""
    return await spend_report(engine, "tag", start=start, end=end, restrict_api_key=restrict_api_key)
