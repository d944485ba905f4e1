"""A request id reused by DIFFERENT calls (a client's ``x-request-id``) is written and charged for each
call; a replay of the SAME call (same ``call_uid``: spool replay, writer retry) is written once.

Runs on SQLite and PostgreSQL (``database`` fixture).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog, SpendWriter, Spool
from ledgerlm.store.tables import end_users, spend_logs

from .factories import Database, make_record, uid
from .helpers import count_rows, ingest, rows, scalar, sum_spend

ONE_CALL = Decimal("0.0002865")  # make_record's cost


def _calls(request_id: str, end_user: str, count: int) -> list[dict[str, Any]]:
    """``count`` distinct calls that all carry the client's ``request_id`` (one spool row each)."""
    return [
        SpendLog.from_record(make_record(id=request_id, end_user=end_user), store_prompts=False)
        for _ in range(count)
    ]


def _of(request_id: str) -> Any:
    return sa.or_(spend_logs.c.request_id == request_id, spend_logs.c.request_id.like(f"{request_id}~%"))


async def _customer_spend(engine: AsyncEngine, end_user: str) -> Decimal:
    return Decimal(await scalar(engine, sa.select(end_users.c.spend).where(end_users.c.user_id == end_user)))


async def test_reused_id_in_one_batch_is_charged_per_call(engine: AsyncEngine) -> None:
    request_id, customer = uid("same-"), uid("cust-")
    calls = _calls(request_id, customer, 5)
    inserted = await ingest(engine, calls)
    assert len(inserted) == 5 and request_id in inserted  # the first use keeps the client's id
    assert await count_rows(engine, _of(request_id)) == 5
    assert await sum_spend(engine, _of(request_id)) == ONE_CALL * 5
    assert await _customer_spend(engine, customer) == ONE_CALL * 5
    assert await ingest(engine, calls) == []  # a replay of the same calls: nothing new
    assert await ingest(engine, list(reversed(calls))) == []  # in any order
    assert await count_rows(engine, _of(request_id)) == 5
    assert await _customer_spend(engine, customer) == ONE_CALL * 5


async def test_reused_id_across_batches_keeps_the_client_id_in_metadata(engine: AsyncEngine) -> None:
    request_id, customer = uid("same-"), uid("cust-")
    calls = _calls(request_id, customer, 3)
    for call in calls:
        assert len(await ingest(engine, [call])) == 1
        assert await ingest(engine, [call]) == []  # writer retry of the same row
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                sa.select(spend_logs.c.request_id, spend_logs.c.call_uid, spend_logs.c.metadata).where(
                    _of(request_id)
                )
            )
        ).all()
    by_uid = {row.call_uid: row for row in stored}
    assert set(by_uid) == {call["call_uid"] for call in calls}
    assert by_uid[calls[0]["call_uid"]].request_id == request_id
    for call in calls[1:]:
        row = by_uid[call["call_uid"]]
        assert row.request_id == f"{request_id}~{call['call_uid'][:12]}"
        assert row.metadata["client_request_id"] == request_id
    assert await _customer_spend(engine, customer) == ONE_CALL * 3


async def test_rows_without_call_uid_keep_replay_semantics(engine: AsyncEngine) -> None:
    """Rows spooled before ``call_uid`` existed: a second row with the same id is a replay."""
    request_id, customer = uid("old-"), uid("cust-")
    old = [{**row, "call_uid": None} for row in _calls(request_id, customer, 2)]
    old[0].pop("call_uid")  # a spool line written by a version without the field at all
    assert await ingest(engine, old) == [request_id]
    assert await count_rows(engine, _of(request_id)) == 1
    assert await _customer_spend(engine, customer) == ONE_CALL


async def test_new_call_reusing_an_old_rows_id_is_charged(engine: AsyncEngine) -> None:
    request_id, customer = uid("mixed-"), uid("cust-")
    old, new = _calls(request_id, customer, 2)
    await ingest(engine, [{**old, "call_uid": None}])
    assert await ingest(engine, [new]) == [f"{request_id}~{new['call_uid'][:12]}"]
    assert await _customer_spend(engine, customer) == ONE_CALL * 2


async def test_writer_row_by_row_fallback_keeps_reused_id_rows(
    database: Database, engine: AsyncEngine, tmp_path: Path
) -> None:
    """A batch the database refuses falls back to one row at a time: the other calls sharing a request
    id are written too, and counted as written (not as duplicates)."""
    if database.kind != "postgresql":
        pytest.skip("the fallback is triggered by a CHECK constraint added with ALTER TABLE (PostgreSQL)")
    request_id, customer = uid("same-"), uid("cust-")
    spool = Spool(tmp_path)
    refused = rows(1)[0]
    refused["api_base"] = "http://poison.example"  # refused by the constraint below (issue 14)
    for row in [*_calls(request_id, customer, 3), refused]:
        spool.append(row)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            "ALTER TABLE spend_logs ADD CONSTRAINT no_poison_reused CHECK (api_base NOT LIKE '%poison%')"
        )
    writer = SpendWriter(engine, spool, interval_s=0.01)
    try:
        await writer.start()
        assert await writer.flush(timeout_s=30)
        await writer.stop()
    finally:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE spend_logs DROP CONSTRAINT no_poison_reused")
    # the refused row is written in its minimal form (issue 14): it still counts, nothing rejected
    assert (writer.rows_written, writer.rows_duplicate, writer.rows_rejected) == (4, 0, 0)
    assert writer.rows_minimal == 1
    assert await _customer_spend(engine, customer) == ONE_CALL * 3
