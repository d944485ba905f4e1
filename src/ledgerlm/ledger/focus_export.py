"""FOCUS export: stream the ledger (spend rows, then adjustments) as FOCUS 1.2 rows, in batches.

``focus_batches(engine, scope, batch_size=2000)`` yields lists of FOCUS rows (``focus_rows``):

1. ``ChargeCategory=Usage`` rows of every spend row whose ``startTime`` is in ``[start, end)``, oldest
   first (keyset pagination on ``(startTime, request_id)``: bounded memory whatever the range);
2. ``ChargeCategory=Adjustment`` rows of every adjustment whose ``charge_time`` is in the range (an
   adjustment correcting a closed month is charged in the open month it landed in).

``granularity``: ``call`` (one row per call per token category), or ``hour`` / ``day``: rows with the same
bucket and the same dimensions (provider, model, token type, key, team, user, end user, tags, price id,
category) summed; per-call columns (``x_RequestId``, unit prices) are null and ``x_CallCount`` counts
the calls. Rows come in a fixed order, so the same ledger exports byte for byte the same file (a
closed period's export never changes). ``BilledCost`` sums to the ledger's original + adjustments.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.ledger.focus_columns import COLUMN_NAMES
from ledgerlm.ledger.focus_rows import FocusOptions, adjustment_charge, usage_charges
from ledgerlm.store.tables import TOKEN_COLUMNS, spend_adjustments, spend_logs

__all__ = ["ExportScope", "Granularity", "focus_batches"]

Granularity = Literal["call", "hour", "day"]

_SUMMED = (
    "BilledCost",
    "EffectiveCost",
    "ListCost",
    "ContractedCost",
    "PricingQuantity",
    "ConsumedQuantity",
    "x_CallCount",
)
_PER_CALL = ("x_RequestId", "ListUnitPrice", "ContractedUnitPrice", "ChargePeriodStart", "ChargePeriodEnd")
_KEY = tuple(name for name in COLUMN_NAMES if name not in _SUMMED + _PER_CALL + ("ChargeDescription",))


@dataclass(frozen=True, slots=True)
class ExportScope:
    """``[start, end)`` (aware UTC), ``granularity``, and the ``FocusOptions``."""

    start: datetime
    end: datetime
    granularity: Granularity = "call"
    options: FocusOptions = field(default_factory=FocusOptions)


def _usage_statement(scope: ExportScope, after: tuple[Any, ...] | None, limit: int) -> sa.Select[Any]:
    c = spend_logs.c
    names = (
        "request_id", "startTime", "endTime", "spend", "price_id", "custom_llm_provider", "model",
        "model_group", "model_id", "api_key", "team_id", "user", "end_user", "request_tags", *TOKEN_COLUMNS,
    )  # fmt: skip
    where = [c.startTime >= scope.start, c.startTime < scope.end]
    if after is not None:
        where.append(sa.tuple_(c.startTime, c.request_id) > sa.tuple_(*after))
    extra = (c.metadata["usage"].label("usage"), c.metadata["cost"].label("cost"))
    statement = sa.select(*(c[n] for n in names), *extra).where(*where)
    return statement.order_by(c.startTime, c.request_id).limit(limit)


def _adjustment_statement(scope: ExportScope, after: tuple[Any, ...] | None, limit: int) -> sa.Select[Any]:
    a = spend_adjustments.c
    where = [a.charge_time >= scope.start, a.charge_time < scope.end]
    if after is not None:
        where.append(sa.tuple_(a.charge_time, a.adjustment_id) > sa.tuple_(*after))
    return sa.select(spend_adjustments).where(*where).order_by(a.charge_time, a.adjustment_id).limit(limit)


async def _pages(
    engine: AsyncEngine, build: Any, keys: tuple[str, str], limit: int
) -> AsyncIterator[list[dict[str, Any]]]:
    after: tuple[Any, ...] | None = None
    while True:
        async with engine.connect() as conn:
            page = [dict(row) for row in (await conn.execute(build(after, limit))).mappings()]
        if page:
            yield page
        if len(page) < limit:
            return
        after = (page[-1][keys[0]], page[-1][keys[1]])


class _Aggregator:
    """Sums rows of one time bucket per dimension key; emits a bucket once time moves past it."""

    def __init__(self, granularity: Granularity) -> None:
        self.step = timedelta(hours=1) if granularity == "hour" else timedelta(days=1)
        self.bucket: datetime | None = None
        self.groups: dict[tuple[Any, ...], dict[str, Any]] = {}

    def _floor(self, moment: datetime) -> datetime:
        if self.step == timedelta(hours=1):
            return moment.replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def add(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add rows (time-ordered); returns the rows of buckets now complete."""
        out: list[dict[str, Any]] = []
        for row in rows:
            bucket = self._floor(row["ChargePeriodStart"])
            if bucket != self.bucket:
                out.extend(self.flush())
                self.bucket = bucket
            key = tuple(row[name] for name in _KEY)
            group = self.groups.get(key)
            if group is None:
                self.groups[key] = self._start(row, bucket)
                continue
            for name in _SUMMED:
                if row[name] is not None:
                    group[name] = (group[name] or Decimal(0)) + row[name]
        return out

    def _start(self, row: dict[str, Any], bucket: datetime) -> dict[str, Any]:
        group = {**row, "ChargePeriodStart": bucket, "ChargePeriodEnd": bucket + self.step}
        group.update(x_RequestId=None, ListUnitPrice=None, ContractedUnitPrice=None)
        label = row["x_TokenType"] or "adjustments"
        group["ChargeDescription"] = f"{row['x_Model']} {label.replace('_', ' ')}"
        return group

    def flush(self) -> list[dict[str, Any]]:
        """The current bucket's rows, in key order; the bucket is emptied."""
        order = sorted(self.groups, key=lambda key: tuple("" if v is None else str(v) for v in key))
        rows = [self.groups[key] for key in order]
        self.groups = {}
        return rows


async def focus_batches(
    engine: AsyncEngine, scope: ExportScope, batch_size: int = 2000
) -> AsyncIterator[list[dict[str, Any]]]:
    """FOCUS rows of ``scope`` in batches (see the module docstring)."""
    options = scope.options
    usage = _pages(
        engine, lambda a, n: _usage_statement(scope, a, n), ("startTime", "request_id"), batch_size
    )
    adjustments = _pages(
        engine, lambda a, n: _adjustment_statement(scope, a, n), ("charge_time", "adjustment_id"), batch_size
    )
    for source, convert in ((usage, _usage_rows), (adjustments, _adjustment_rows)):
        aggregator = None if scope.granularity == "call" else _Aggregator(scope.granularity)
        async for page in source:
            rows = convert(page, options)
            rows = rows if aggregator is None else aggregator.add(rows)
            if rows:
                yield rows
        if aggregator is not None and (rest := aggregator.flush()):
            yield rest


def _usage_rows(page: list[dict[str, Any]], options: FocusOptions) -> list[dict[str, Any]]:
    return [charge for row in page for charge in usage_charges(row, options)]


def _adjustment_rows(page: list[dict[str, Any]], options: FocusOptions) -> list[dict[str, Any]]:
    return [adjustment_charge(row, options) for row in page]
