"""Migrations: the packaged Alembic revisions create exactly the schema ``store.tables`` declares."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store.migrate import VERSION_TABLE, current_revision, head_revision, migrate_async
from ledgerlm.store.tables import metadata


def _diff(sync_connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        sync_connection, opts={"compare_type": True, "version_table": VERSION_TABLE}
    )
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_table_definitions(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        differences = await conn.run_sync(_diff)
    assert differences == []


async def test_database_is_at_head_and_upgrade_is_idempotent(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()
    await migrate_async(engine)  # a second upgrade is a no-op
    assert await current_revision(engine) == head_revision()
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(sa.inspect(sync).get_table_names()))
    assert {"spend_logs", "spend_log_tags", "daily_tag_spend", "verification_tokens", VERSION_TABLE} <= tables
