"""Queries behind the dashboard (``/ui``): overview totals from the daily rollups, keyset-paginated logs.

* ``overview(engine, OverviewQuery(...))``: totals, a per-day series and the top groups of one
  dimension for ``[start, end]`` (inclusive UTC dates), read ONLY from the daily rollup tables (kept
  by the spend writer in the same transaction as the rows), each time the narrowest one: day x entity
  (``DAILY_TOTAL_TABLES``) for totals and the daily chart; groups by entity read the FULL ISO weeks of
  the range from the week x entity tables (``WEEKLY_TOTAL_TABLES``, built for ended weeks by
  ``store.weekly``) and the other days from the daily ones (``week_tiers``); the per-model split
  (``DAILY_TABLES``) only for a restricted caller's "model" groups. So its cost grows with weeks x
  entities, never with calls.
* ``log_page(engine, LogFilter, Visible, limit, cursor)``: spend log rows newest first
  (``startTime`` desc, ``request_id`` asc) after an opaque ``cursor`` (keyset pagination on the
  ``startTime`` and ``(entity, startTime)`` indexes; never ``OFFSET``), and the next cursor.

``Visible`` narrows every query to what a caller may read (teams, users, keys; ``everything`` for
admins). Amounts are ``Decimal`` USD; unpriced calls count in ``unpriced_requests``, never as $0.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import rollup_deltas, weekly
from ledgerlm.store.coltypes import to_decimal
from ledgerlm.store.spend_queries import LogFilter
from ledgerlm.store.tables import (
    COUNTER_COLUMNS,
    DAILY_TABLES,
    DAILY_TOTAL_TABLES,
    WEEKLY_TOTAL_TABLES,
    spend_adjustments,
    spend_log_ids,
    spend_logs,
    verification_tokens,
)

Row = dict[str, Any]
DIMENSIONS: tuple[str, ...] = ("team", "key", "user", "end_user", "model", "provider", "tag")
_ENTITY = {"team": "team_id", "key": "api_key", "user": "user_id", "end_user": "end_user", "tag": "tag"}
_ENTITY.update({"model": "model", "provider": "custom_llm_provider"})


@dataclass(frozen=True)
class Visible:
    """What a caller may read: ``everything``, or rows of these teams, users or key hashes."""

    everything: bool = False
    team_ids: frozenset[str] = field(default_factory=frozenset)
    user_ids: frozenset[str] = field(default_factory=frozenset)
    key_hashes: frozenset[str] = field(default_factory=frozenset)

    def base(self) -> tuple[str, frozenset[str]] | None:
        """The rollup kind and ids that hold ALL of a restricted caller's spend (``None``: everything)."""
        if self.everything:
            return None
        if self.team_ids:
            return "team", self.team_ids
        if self.user_ids:
            return "user", self.user_ids
        return "key", self.key_hashes

    def log_conditions(self) -> list[sa.ColumnElement[bool]]:
        """Row conditions for ``spend_logs`` (empty for everything; an impossible one for nobody)."""
        if self.everything:
            return []
        c = spend_logs.c
        parts = [
            *([c.team_id.in_(sorted(self.team_ids))] if self.team_ids else []),
            *([c.user.in_(sorted(self.user_ids))] if self.user_ids else []),
            *([c.api_key.in_(sorted(self.key_hashes))] if self.key_hashes else []),
        ]
        return [sa.or_(*parts)] if parts else [sa.false()]


@dataclass(frozen=True)
class OverviewQuery:
    """``dimension`` (one of ``DIMENSIONS``), inclusive UTC ``start``/``end``, ``visible``, ``top``."""

    dimension: str
    start: date
    end: date
    visible: Visible
    top: int = 50


def _sums(table: Any) -> list[sa.ColumnElement[Any]]:
    return [
        sa.func.coalesce(sa.func.sum(table.c.spend), 0).label("spend"),
        *(sa.func.coalesce(sa.func.sum(table.c[name]), 0).label(name) for name in COUNTER_COLUMNS),
    ]


def _entity(source: Any) -> sa.ColumnElement[Any]:
    """The entity column of a rollup or of its ``rollup_deltas.readable`` view (the second column)."""
    return list(source.c)[1]  # type: ignore[no-any-return]


def _restricted(
    query: OverviewQuery, table: Any, kind: str, period: tuple[date, date] | None = None
) -> list[sa.ColumnElement[bool]]:
    """Date range (``period``, default the query's) and visibility conditions on rollup ``table`` (of
    kind ``kind``; a table or its ``rollup_deltas.readable`` view)."""
    low, high = period or (query.start, query.end)
    out = [table.c.date >= low, table.c.date <= high]
    base = query.visible.base()
    if base is None or base[0] == kind:
        ids = () if base is None else sorted(base[1])
        return [*out, _entity(table).in_(ids)] if base is not None else out
    ids = sorted(base[1])
    owner = verification_tokens.c.team_id if base[0] == "team" else verification_tokens.c.user_id
    return [*out, _entity(table).in_(sa.select(verification_tokens.c.token).where(owner.in_(ids)))]


def dimension_source(dimension: str, visible: Visible) -> tuple[sa.Table, str, str] | None:
    """The NARROWEST rollup table for ``dimension`` under ``visible``: ``(table, group column, kind
    of the table's entity)``; ``None`` when the rollups cannot answer it for a restricted caller (e.g.
    tags of one team's calls). Per-entity groups read the day x entity tables (``DAILY_TOTAL_TABLES``,
    no model split); only "model" for a restricted caller needs its entity's per-model split."""
    base = visible.base()
    if base is None:
        if dimension == "provider":
            return DAILY_TABLES["provider"], _ENTITY["provider"], "provider"
        return DAILY_TOTAL_TABLES[dimension], _ENTITY[dimension], dimension
    if dimension == "model":
        return DAILY_TABLES[base[0]], "model", base[0]
    if dimension in (base[0], "key"):
        return DAILY_TOTAL_TABLES[dimension], _ENTITY[dimension], dimension
    return None


def _totals_table(visible: Visible) -> tuple[sa.Table, str]:
    base = visible.base()
    return (DAILY_TOTAL_TABLES["model"], "model") if base is None else (DAILY_TOTAL_TABLES[base[0]], base[0])


def _clean(row: Row) -> Row:
    row["spend"] = to_decimal(row["spend"] or 0)
    row.update({name: int(row[name] or 0) for name in COUNTER_COLUMNS})
    return row


async def overview(engine: AsyncEngine, query: OverviewQuery) -> Row:
    """``{"totals": {spend, api_requests, ..., unpriced_requests}, "daily": [{date, spend, ...}],
    "groups": [{group, spend, ...}] | None}`` (``groups`` is ``None`` when the dimension is not
    available to this caller). Raises ``ValueError`` for an unknown dimension."""
    if query.dimension not in DIMENSIONS:
        raise ValueError(f"dimension must be one of {', '.join(DIMENSIONS)}")
    rollup, kind = _totals_table(query.visible)
    table = rollup_deltas.readable(rollup)  # with the deltas not folded yet
    where = _restricted(query, table, kind)
    daily = sa.select(table.c.date, *_sums(table)).where(*where).group_by(table.c.date).order_by(table.c.date)
    async with engine.connect() as conn:
        days = [_clean(dict(r)) for r in (await conn.execute(daily)).mappings()]
        groups = await _groups(conn, query)
    for day in days:
        if isinstance(day["date"], str):
            day["date"] = date.fromisoformat(day["date"])
    return {"totals": _total(days), "daily": days, "groups": groups}


def _total(days: list[Row]) -> Row:
    """The period's totals: the sum of its days (exact: ``Decimal`` and ``int``; one query fewer)."""
    names = ("spend", *COUNTER_COLUMNS)
    return {name: sum((day[name] for day in days), Decimal(0) if name == "spend" else 0) for name in names}


def week_tiers(
    start: date, end: date, built_through: date | None
) -> tuple[list[tuple[date, date]], tuple[date, date] | None]:
    """Split inclusive ``[start, end]`` into the days read from the daily rollups and the FULL ISO weeks
    inside it that the weekly rollups hold (Monday ``<= built_through``, ``store.weekly``): ``([(first
    day, last day), ...], (first Monday, last Monday) | None)``."""
    if built_through is None:
        return [(start, end)], None
    end_weeks = min(end, built_through + timedelta(days=6))
    monday = start + timedelta(days=-start.weekday() % 7)
    last = end_weeks - timedelta(days=(end_weeks.weekday() + 1) % 7)  # the last Sunday on or before
    if monday + timedelta(days=6) > last:
        return [(start, end)], None
    edges = [(start, monday - timedelta(days=1))] if start < monday else []
    edges += [(last + timedelta(days=1), end)] if last < end else []
    return edges, (monday, last - timedelta(days=6))


def _group_parts(query: OverviewQuery, source: _Source) -> list[sa.Select[Any]]:
    """The rows to group: the daily rollup for the edge days, the weekly one for the full weeks
    (when the kind has one), each restricted to what the caller may read."""
    table, column, kind = source.table, source.column, source.kind
    by_week = WEEKLY_TOTAL_TABLES.get(kind) if table is DAILY_TOTAL_TABLES.get(kind) else None
    edges, weeks = (
        week_tiers(query.start, query.end, source.weeks_through) if by_week is not None else ([], None)
    )
    if by_week is None or weeks is None:
        edges = [(query.start, query.end)]
    parts = []
    # the weekly rows' dates are Mondays, a pending delta's its day: the weeks are read by day range
    full_weeks = [(weeks[0], weeks[1] + timedelta(days=6))] if weeks else []
    for stored, periods in ((table, edges), (by_week, full_weeks)):
        for period in periods:
            assert stored is not None
            rollup = rollup_deltas.readable(stored)
            counters = [rollup.c.spend, *(rollup.c[name] for name in COUNTER_COLUMNS)]
            where = _restricted(query, rollup, kind, period)
            parts.append(sa.select(rollup.c[column].label("group"), *counters).where(*where))
    return parts


def _union(parts: list[sa.Select[Any]]) -> Any:
    return (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()


class _Source(NamedTuple):
    """A dimension's rollup (``dimension_source``) and how far its weekly rollup is built."""

    table: sa.Table
    column: str
    kind: str
    weeks_through: date | None


async def _groups(conn: Any, query: OverviewQuery) -> list[Row] | None:
    """The top ``query.top`` groups by spend (ties by group), every sum of each, in one query."""
    rollup = dimension_source(query.dimension, query.visible)
    if rollup is None:
        return None
    # read before the groups: the watermark only moves forward, and a week below it is complete
    source = _Source(*rollup, weeks_through=await weekly.built_through(conn))
    rows = _union(_group_parts(query, source))
    sums = _sums(rows)
    statement = sa.select(rows.c.group, *sums).group_by(rows.c.group).order_by(sums[0].desc(), rows.c.group)
    return [_clean(dict(row)) for row in (await conn.execute(statement.limit(query.top))).mappings()]


# -- logs ------------------------------------------------------------------------------------------

LIST_COLUMNS: tuple[str, ...] = (
    "request_id",
    "startTime",
    "status",
    "spend",
    "model",
    "model_group",
    "custom_llm_provider",
    "api_key",
    "team_id",
    "user",
    "end_user",
    "request_tags",
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "call_type",
)


def encode_cursor(row: Row) -> str:
    """An opaque cursor after ``row`` (its ``startTime`` and ``request_id``)."""
    value = orjson.dumps([row["startTime"].isoformat(), row["request_id"]])
    return base64.urlsafe_b64encode(value).decode("ascii")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """``(startTime, request_id)`` of a cursor; ``ValueError`` when it is not one of ours."""
    try:
        moment, request_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return datetime.fromisoformat(moment), str(request_id)
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        raise ValueError("invalid cursor") from exc


async def log_page(
    engine: AsyncEngine, filters: LogFilter, visible: Visible, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Row], str | None]:
    """One page of rows (``LIST_COLUMNS``) newest first, and the cursor of the next page (``None``
    at the end). Raises ``ValueError`` for a bad cursor."""
    c = spend_logs.c
    conditions = [*filters.conditions(), *visible.log_conditions()]
    if cursor is not None:
        moment, request_id = decode_cursor(cursor)
        conditions.append(
            sa.or_(c.startTime < moment, sa.and_(c.startTime == moment, c.request_id > request_id))
        )
    statement = (
        sa.select(*(c[name] for name in LIST_COLUMNS))
        .where(*conditions)
        .order_by(c.startTime.desc(), c.request_id)
        .limit(limit + 1)
    )
    async with engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(statement)).mappings()]
    following = encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], following


async def log_row(engine: AsyncEngine, request_id: str, visible: Visible) -> Row | None:
    """The full spend log row ``request_id`` when ``visible`` may read it, else ``None``."""
    statement = sa.select(spend_logs).where(spend_logs.c.request_id == request_id, *visible.log_conditions())
    if engine.dialect.name == "postgresql":  # its day from spend_log_ids: only that partition is read
        day = sa.select(spend_log_ids.c.startTime).where(spend_log_ids.c.request_id == request_id)
        statement = statement.where(spend_logs.c.startTime == day.scalar_subquery())
    async with engine.connect() as conn:
        found = (await conn.execute(statement)).mappings().first()
    return None if found is None else dict(found)


ADJUSTMENT_COLUMNS: tuple[str, ...] = (
    "seq",
    "kind",
    "period",
    "charge_time",
    "old_price_id",
    "new_price_id",
    "old_spend",
    "new_spend",
    "delta",
    "reason",
    "actor",
    "corrects_period",
)


async def adjustments_of(engine: AsyncEngine, request_id: str) -> list[Row]:
    """The adjustments (re-pricing, back-fill; ``spend_adjustments``) recorded against one call, in order."""
    c = spend_adjustments.c
    statement = sa.select(*(c[name] for name in ADJUSTMENT_COLUMNS)).where(c.request_id == request_id)
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(statement.order_by(c.seq))).mappings()]
