"""The PostgreSQL writer's pending rollup deltas (``store.rollup_deltas``, issue 21): every rollup read
counts them before they are folded, a fold moves each of them exactly once (a second fold in flight
skips, a failed fold leaves them pending), and a ``SpendWriter`` folds once its spool is drained."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendWriter, Spool, rollup_deltas
from ledgerlm.store.tables import daily_model_spend
from ledgerlm.store.tables import rollup_deltas as deltas_table

from .factories import Database, uid
from .helpers import ingest, rows, scalar

ONE_CALL = Decimal("0.0002865")  # make_record's cost


@pytest.fixture(autouse=True)
def _postgres_only(database: Database) -> None:
    if database.kind != "postgresql":
        pytest.skip("SQLite upserts its rollups directly (no deltas)")


async def _model_total(engine: AsyncEngine, model: str, *, through_view: bool) -> tuple[Any, Any]:
    source = rollup_deltas.readable(daily_model_spend) if through_view else daily_model_spend
    statement = sa.select(sa.func.sum(source.c.spend), sa.func.sum(source.c.api_requests))
    async with engine.connect() as conn:
        spend, count = (await conn.execute(statement.where(source.c.model == model))).one()
    return spend, count


async def _pending(engine: AsyncEngine, model: str) -> int:
    return int(await scalar(engine, sa.select(sa.func.count()).where(deltas_table.c.model == model)))


async def test_reads_count_pending_deltas_and_a_fold_moves_them_once(engine: AsyncEngine) -> None:
    model = uid("model-")
    await ingest(engine, rows(3, model_group=model))
    await ingest(engine, rows(2, model_group=model))
    assert await _pending(engine, model) == 2  # one delta per batch and call signature
    assert await _model_total(engine, model, through_view=True) == (ONE_CALL * 5, 5)
    assert await _model_total(engine, model, through_view=False) == (None, None)  # not folded yet
    assert await rollup_deltas.fold(engine) >= 2
    assert await _pending(engine, model) == 0
    assert await _model_total(engine, model, through_view=False) == (ONE_CALL * 5, 5)
    assert await _model_total(engine, model, through_view=True) == (ONE_CALL * 5, 5)  # not twice
    await rollup_deltas.fold(engine)  # nothing left: nothing added again
    assert await _model_total(engine, model, through_view=True) == (ONE_CALL * 5, 5)


async def test_a_second_fold_skips_and_a_failed_fold_leaves_the_deltas(engine: AsyncEngine) -> None:
    model = uid("model-")
    await ingest(engine, rows(4, model_group=model))
    async with engine.connect() as conn:
        transaction = await conn.begin()
        assert await rollup_deltas.fold_in(conn) >= 1  # a fold in flight holds the fold lock ...
        assert await asyncio.wait_for(rollup_deltas.fold(engine), 5) is None  # ... another one skips
        await transaction.rollback()  # the fold fails: its deltas come back
    assert await _pending(engine, model) == 1
    assert await _model_total(engine, model, through_view=True) == (ONE_CALL * 4, 4)
    await rollup_deltas.fold(engine)
    assert await _model_total(engine, model, through_view=False) == (ONE_CALL * 4, 4)


async def test_spend_writer_folds_once_its_spool_is_drained(database: Database, tmp_path: Path) -> None:
    model = uid("model-")
    spool = Spool(tmp_path)
    for row in rows(30, model_group=model):
        spool.append(row)
    writer = SpendWriter(database.engine(), spool, batch_size=10, interval_s=0.01)
    await writer.start()
    await writer.stop(timeout_s=30)
    try:
        assert writer.rows_written == 30
        assert await _pending(writer.engine, model) == 0  # folded when the writer went idle
        assert await _model_total(writer.engine, model, through_view=False) == (ONE_CALL * 30, 30)
    finally:
        await writer.engine.dispose()
