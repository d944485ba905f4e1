"""Adjustments: append-only corrections of spend rows (table ``spend_adjustments``).

A spend row is never overwritten. Re-pricing or back-filling it adds an adjustment naming the row
(``request_id``, ``seq`` 1, 2, ...), the old and new price ids, the old and new cost, ``delta`` (new -
old, USD, may be negative), who ran it (``actor``), why (``reason``) and the run (``run_id``). The row's
current cost is its ``spend`` plus the deltas of its adjustments (``row_states``).

``await write_adjustments(conn, corrections, run)`` writes a batch in the caller's transaction:

1. each adjustment lands in the period of the call when open, else in the period of ``run.booked_at``
   (dated then, ``corrects_period`` naming the closed month): ``ledgerlm.ledger.periods.landing``;
   both closed -> ``PeriodClosedError`` and nothing is written;
2. the daily aggregate tables (spend; a back-fill also takes the row out of ``unpriced_requests``) and
   the spend totals of keys, teams, organizations, users, end users and tags get the deltas, on the
   charge date, so reports (``/global/spend/report``) and budgets see original + adjustments.

``await adjusted_spend(engine, start, end, group_by=...)`` is the query other features read
(reconciliation, dashboards): original spend, adjustments and their sum per group over a time range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledgerlm.ledger.periods import closed_periods, landing, lock_periods
from ledgerlm.store import rollup_deltas, weekly
from ledgerlm.store.coltypes import to_decimal
from ledgerlm.store.ingest import _update_totals, _upsert_daily, daily_deltas, total_deltas
from ledgerlm.store.tables import TOKEN_COLUMNS, spend_adjustments, spend_logs
from ledgerlm.types import Cost

__all__ = ["Correction", "RowState", "RunInfo", "adjusted_spend", "row_states", "write_adjustments"]

DIMENSIONS: tuple[str, ...] = (
    "api_key", "team_id", "user", "organization_id", "end_user", "model", "model_group",
    "custom_llm_provider", "request_tags",
)  # fmt: skip
"""Columns an adjustment copies from its spend row (who and what it is charged to)."""


@dataclass(frozen=True, slots=True)
class RunInfo:
    """One re-pricing run: ``run_id``, ``actor`` (who), ``reason`` (why), ``booked_at`` (aware UTC)."""

    run_id: str
    actor: str
    reason: str
    booked_at: datetime


@dataclass(frozen=True, slots=True)
class RowState:
    """A row's current state: ``seq`` of its last adjustment (0: none), ``spend`` (original + deltas,
    ``None`` while unpriced) and ``price_id`` (of the last adjustment, else the row's)."""

    seq: int
    spend: Decimal | None
    price_id: str | None


@dataclass(frozen=True, slots=True)
class Correction:
    """A row to correct: its id, start time, state before, new cost, and ``dims`` (``DIMENSIONS``)."""

    request_id: str
    original_time: datetime
    before: RowState
    cost: Cost
    dims: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``backfill`` when the row was unpriced, else ``reprice``."""
        return "backfill" if self.before.spend is None else "reprice"

    @property
    def delta(self) -> Decimal:
        """New cost - current cost (USD)."""
        assert self.cost.total is not None
        return to_decimal(self.cost.total) - (self.before.spend or Decimal(0))


async def row_states(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> dict[str, RowState]:
    """Current state per ``request_id`` of spend rows given as mappings with ``request_id``,
    ``spend`` and ``price_id``."""
    a = spend_adjustments.c
    ids = [row["request_id"] for row in rows]
    statement = (
        sa.select(a.request_id, a.seq, a.new_spend, a.new_price_id, a.delta)
        .where(a.request_id.in_(ids))
        .order_by(a.request_id, a.seq)
    )
    last: dict[str, tuple[int, Decimal, str]] = {}
    for request_id, seq, _new, price_id, delta in await conn.execute(statement) if ids else []:
        previous = last.get(request_id)
        last[request_id] = (seq, (previous[1] if previous else Decimal(0)) + delta, price_id)
    out: dict[str, RowState] = {}
    for row in rows:
        found = last.get(row["request_id"])
        if found is None:
            out[row["request_id"]] = RowState(0, row["spend"], row["price_id"])
        else:
            out[row["request_id"]] = RowState(found[0], (row["spend"] or Decimal(0)) + found[1], found[2])
    return out


def _adjustment_id(request_id: str, seq: int) -> str:
    return "adj_" + hashlib.sha256(f"{request_id}|{seq}".encode()).hexdigest()[:32]


def _row(item: Correction, run: RunInfo, closed: set[str]) -> dict[str, Any]:
    period, charge_time, corrects = landing(item.original_time, closed, run.booked_at)
    seq = item.before.seq + 1
    return {
        "adjustment_id": _adjustment_id(item.request_id, seq),
        "request_id": item.request_id,
        "seq": seq,
        "kind": item.kind,
        "period": period,
        "charge_time": charge_time,
        "original_time": item.original_time,
        "corrects_period": corrects,
        "booked_at": run.booked_at,
        "old_price_id": item.before.price_id,
        "new_price_id": item.cost.price_id or "",
        "old_spend": item.before.spend,
        "new_spend": item.cost.total,
        "delta": item.delta,
        "breakdown": {k: format(v, "f") for k, v in item.cost.breakdown.items()},
        "actor": run.actor,
        "reason": run.reason,
        "run_id": run.run_id,
        **{name: item.dims.get(name) for name in DIMENSIONS},
    }


async def write_adjustments(conn: AsyncConnection, corrections: Sequence[Correction], run: RunInfo) -> int:
    """Write ``corrections`` as adjustments and move the aggregates (see the module docstring).
    Returns how many were written; raises ``PeriodClosedError`` (nothing written)."""
    if not corrections:
        return 0
    await lock_periods(conn)
    closed = await closed_periods(conn)
    rows = [_row(item, run, closed) for item in corrections]
    await conn.execute(spend_adjustments.insert(), rows)
    await _move_aggregates(conn, rows)
    return len(rows)


def _as_spend_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """An adjustment in the shape ``store.ingest``'s aggregate builders read (spend = delta)."""
    return {
        **row,
        "startTime": row["charge_time"],
        "spend": row["delta"],
        "status": "adjustment",
        "request_tags": list(row["request_tags"] or []),
        **dict.fromkeys(TOKEN_COLUMNS, 0),
    }


async def _move_aggregates(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    shaped = [_as_spend_row(row) for row in rows]
    await rollup_deltas.lock_folds(conn)  # no fold upserts the same rollup rows meanwhile
    await weekly.lock_shared(conn)  # the weekly build waits for this transaction (store.weekly)
    through = await weekly.built_through(conn)
    daily = daily_deltas(shaped, through)
    backfills = daily_deltas([row for row in shaped if row["kind"] == "backfill"], through)
    for kind, table in daily.items():
        for key, counters in table.items():
            counters["unpriced_requests"] = -backfills.get(kind, {}).get(key, {}).get("api_requests", 0)
            counters["api_requests"] = 0
        await _upsert_daily(conn, kind, table)
    await _update_totals(conn, total_deltas(shaped))


async def adjusted_spend(
    engine: AsyncEngine, start: datetime, end: datetime, *, group_by: str | None = None
) -> list[dict[str, Any]]:
    """Spend over ``[start, end)`` per group: ``{"group", "original", "adjustments", "spend"}`` (USD
    ``Decimal``), highest ``spend`` first.

    ``original``: spend rows by ``startTime``; ``adjustments``: deltas by ``charge_time``. ``group_by``:
    ``None`` (one row, group ``None``), or a column both tables have: ``team_id``, ``api_key``,
    ``user``, ``end_user``, ``organization_id``, ``model``, ``model_group``, ``custom_llm_provider``.
    Raises ``ValueError`` for another ``group_by``.
    """
    allowed = ("team_id", "api_key", "user", "end_user", "organization_id", "model", "model_group")
    if group_by is not None and group_by not in (*allowed, "custom_llm_provider"):
        raise ValueError(f"group_by must be one of {', '.join(allowed)}, custom_llm_provider or None")
    sums: dict[Any, list[Decimal]] = {}
    sources = (
        (spend_logs, spend_logs.c.spend, spend_logs.c.startTime, 0),
        (spend_adjustments, spend_adjustments.c.delta, spend_adjustments.c.charge_time, 1),
    )
    async with engine.connect() as conn:
        for table, amount, when, slot in sources:
            columns = [table.c[group_by]] if group_by else []
            statement = sa.select(*columns, sa.func.sum(amount)).where(when >= start, when < end)
            if group_by:
                statement = statement.group_by(table.c[group_by])
            for item in await conn.execute(statement):
                key = item[0] if group_by else None
                sums.setdefault(key, [Decimal(0), Decimal(0)])[slot] += to_decimal(item[-1] or 0)
    rows = [
        {"group": k, "original": v[0], "adjustments": v[1], "spend": v[0] + v[1]} for k, v in sums.items()
    ]
    return sorted(rows, key=lambda row: (-row["spend"], str(row["group"])))
