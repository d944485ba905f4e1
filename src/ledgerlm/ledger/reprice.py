"""Audited re-pricing: every spend row of a time range priced again under a price book.

``await reprice(engine, scope, book, run=None, batch_size=2000) -> RepriceDiff``:

* streams the rows of ``scope`` (``[start, end)`` by ``startTime``, optionally one model / team;
  response-cache hits excluded: they cost nothing) in batches, by keyset pagination on
  ``(startTime, request_id)``: memory stays bounded whatever the range;
* prices each row with ``RowPricer`` (the entry in force at the call's time; back-fill of unpriced
  rows) and compares with the row's CURRENT cost (original + earlier adjustments);
* a row whose cost changes becomes a ``Correction``; with ``run`` (``--apply``) each batch's
  corrections are written as adjustments in one transaction (``write_adjustments``). Without ``run``
  (dry run) nothing is written.

Running the same re-price again finds every row already at its new cost: nothing changes (a no-op).
The ``RepriceDiff`` holds the counts and the totals before and after by team, key, tag and model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.ledger.adjustments import (
    DIMENSIONS,
    Correction,
    RowState,
    RunInfo,
    row_states,
    write_adjustments,
)
from ledgerlm.ledger.row_pricing import RowPricer, StoredCall, usage_from_row
from ledgerlm.pricing.book import PriceBook
from ledgerlm.store.coltypes import to_decimal
from ledgerlm.store.tables import TOKEN_COLUMNS, spend_logs

__all__ = ["RepriceDiff", "RepriceScope", "reprice", "scan_rows"]

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class RepriceScope:
    """Which rows: ``startTime`` in ``[start, end)`` (aware UTC); ``model`` matches the model group or
    the provider model; ``team`` the team id."""

    start: datetime
    end: datetime
    model: str | None = None
    team: str | None = None


@dataclass
class RepriceDiff:
    """What a re-price changes (or changed, when applied). Amounts are USD ``Decimal``.

    ``by``: ``{"team" | "key" | "tag" | "model": {group: [before, after]}}`` over every scanned row
    (unpriced counts 0). ``unpriced_before`` / ``unpriced_after``: rows without a cost.
    """

    rows: int = 0
    changed: int = 0
    backfilled: int = 0
    written: int = 0
    before: Decimal = _ZERO
    after: Decimal = _ZERO
    unpriced_before: int = 0
    unpriced_after: int = 0
    by: dict[str, dict[str, list[Decimal]]] = field(
        default_factory=lambda: {"team": {}, "key": {}, "tag": {}, "model": {}}
    )

    def add(self, row: Mapping[str, Any], before: Decimal | None, after: Decimal | None) -> None:
        """Count one scanned row with its cost before and after."""
        self.rows += 1
        self.unpriced_before += before is None
        self.unpriced_after += after is None
        old, new = before or _ZERO, after or _ZERO
        self.before += old
        self.after += new
        groups = {
            "team": [row["team_id"] or ""],
            "key": [row["api_key"] or ""],
            "model": [row["model_group"] or row["model"]],
            "tag": [str(tag) for tag in row["request_tags"] or []],
        }
        for name, values in groups.items():
            for value in values:
                pair = self.by[name].setdefault(value, [_ZERO, _ZERO])
                pair[0] += old
                pair[1] += new


_COLUMNS = (
    "request_id", "startTime", "spend", "price_id", *(d for d in DIMENSIONS if d != "request_tags"),
    "request_tags", *TOKEN_COLUMNS,
)  # fmt: skip


def _statement(scope: RepriceScope, after: tuple[datetime, str] | None, limit: int) -> sa.Select[Any]:
    c = spend_logs.c
    where = [c.startTime >= scope.start, c.startTime < scope.end, c.cache_hit.is_(False)]
    if scope.model is not None:
        where.append(sa.or_(c.model_group == scope.model, c.model == scope.model))
    if scope.team is not None:
        where.append(c.team_id == scope.team)
    if after is not None:
        where.append(sa.tuple_(c.startTime, c.request_id) > sa.tuple_(*after))
    usage = c.metadata["usage"].label("usage")
    return (
        sa.select(*(c[name] for name in _COLUMNS), usage)
        .where(*where)
        .order_by(c.startTime, c.request_id)
        .limit(limit)
    )


async def scan_rows(
    engine: AsyncEngine, scope: RepriceScope, batch_size: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """The spend rows of ``scope`` in batches of at most ``batch_size``, oldest first."""
    after: tuple[datetime, str] | None = None
    while True:
        async with engine.connect() as conn:
            result = await conn.execute(_statement(scope, after, batch_size))
            batch = [dict(row) for row in result.mappings()]
        if not batch:
            return
        yield batch
        if len(batch) < batch_size:
            return
        after = (batch[-1]["startTime"], batch[-1]["request_id"])


def _correction(pricer: RowPricer, row: Mapping[str, Any], state: RowState) -> Correction | None:
    call = StoredCall(
        provider=row["custom_llm_provider"],
        model=row["model"],
        start=row["startTime"],
        usage=usage_from_row(row["usage"], row),
        priced=state.spend is not None,
    )
    cost = pricer.price(call)
    if cost is None or cost.total is None:
        return None
    if state.spend is not None and to_decimal(cost.total) == state.spend:
        return None
    dims = {name: row[name] for name in DIMENSIONS}
    return Correction(row["request_id"], row["startTime"], state, cost, dims)


async def reprice(
    engine: AsyncEngine,
    scope: RepriceScope,
    book: PriceBook,
    *,
    run: RunInfo | None = None,
    batch_size: int = 2000,
) -> RepriceDiff:
    """Re-price ``scope`` under ``book`` (see the module docstring); ``run`` applies it."""
    pricer = RowPricer(book)
    diff = RepriceDiff()
    async for batch in scan_rows(engine, scope, batch_size):
        async with engine.connect() as conn:
            states = await row_states(conn, batch)
        corrections = []
        for row in batch:
            state = states[row["request_id"]]
            found = _correction(pricer, row, state)
            after = state.spend if found is None else to_decimal(found.cost.total or 0)
            diff.add(row, state.spend, after)
            if found is not None:
                corrections.append(found)
                diff.changed += 1
                diff.backfilled += found.kind == "backfill"
        if run is not None and corrections:
            async with engine.begin() as conn:
                diff.written += await write_adjustments(conn, corrections, run)
    return diff
