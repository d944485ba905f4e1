"""The spend log queries are served by indexes (PostgreSQL plans), so they stay fast at millions of rows."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store.spend_queries import LogFilter
from ledgerlm.store.tables import spend_logs

from .factories import Database

_TODAY = datetime.now(UTC).date()  # days with partitions (PostgreSQL, migration 0017)
CASES = [
    (LogFilter(api_key="k" * 64), "ix_spend_logs_api_key_startTime"),
    (LogFilter(team_id="team-x"), "ix_spend_logs_team_id_startTime"),
    (LogFilter(user_id="user-x"), "ix_spend_logs_user_startTime"),
    (LogFilter(end_user="cust-x"), "ix_spend_logs_end_user_startTime"),
    (LogFilter(status="failure", start=_TODAY), "ix_spend_logs_failed_startTime"),
    (LogFilter(start=_TODAY, end=_TODAY + timedelta(days=1)), "ix_spend_logs_startTime"),
    (LogFilter(tags=["env:prod"]), "ix_spend_log_tags_tag_startTime"),
    (LogFilter(model="gpt-4o"), "ix_spend_logs_model_group_startTime"),
    (LogFilter(model="gpt-4o"), "ix_spend_logs_model_startTime"),
]


@pytest.mark.parametrize(("filters", "index"), CASES)
async def test_log_filters_use_their_index(
    database: Database, engine: AsyncEngine, filters: LogFilter, index: str
) -> None:
    if database.kind != "postgresql":
        pytest.skip("plans are checked on PostgreSQL (SQLite has the same indexes)")
    statement = (
        sa.select(spend_logs.c.request_id)
        .where(*filters.conditions())
        .order_by(spend_logs.c.startTime.desc())
        .limit(100)
    )
    sql = statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny test tables: force the choice
        plan = "\n".join((await conn.exec_driver_sql(f"EXPLAIN {sql}")).scalars())
        used = set(re.findall(r'(?:using|Index Scan on) "?([^" ]+)"?', plan))
        # spend_logs is partitioned by day (migration 0017): a partition's index names its parent's
        parents = await conn.execute(
            sa.text(
                "SELECT p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE c.relname = ANY(:names)"
            ),
            {"names": sorted(used)},
        )
        used |= set(parents.scalars())
    assert index in used, plan
