"""PostgreSQL (COPY + one SQL statement) and SQLite (Python aggregation) ingest agree exactly.

The same edge-case batch goes into a fresh database of each kind; every daily table and every entity
total must come out identical.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.record import CostRecord, ErrorRecord
from ledgerlm.store import keys, organizations, rollup_deltas, tags, teams, users
from ledgerlm.store.migrate import migrate_async
from ledgerlm.store.tables import DAILY_TABLES, end_users, verification_tokens
from ledgerlm.store.tables import organizations as orgs_table
from ledgerlm.store.tables import tags as tags_table
from ledgerlm.store.tables import teams as teams_table
from ledgerlm.store.tables import users as users_table

from .factories import Database
from .helpers import ingest, rows

KEY_A, KEY_B = keys.hash_key("sk-parity-a"), keys.hash_key("sk-parity-b")
DAY = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def _batch() -> list[dict[str, Any]]:
    at = {"start_time": DAY, "end_time": DAY + 1}
    late = {"start_time": DAY + 16 * 3600, "end_time": DAY + 16 * 3600 + 1}  # next UTC day
    return [
        *rows(
            3,
            key_hash=KEY_A,
            team_id="t1",
            organization_id="o1",
            user_id="u1",
            end_user="c1",
            request_tags=["x", "y", "x"],
            **at,
        ),
        *rows(2, key_hash=KEY_B, user_id="u1", end_user="c2", request_tags=["x"], **late),
        *rows(1, key_hash=KEY_B, user_id="u1", team_id="", end_user="", request_tags=[], **at),
        *rows(2, key_hash=KEY_A, team_id="t1", cost=CostRecord(), request_tags=["y", ""], **at),
        *rows(
            1,
            key_hash=KEY_A,
            team_id="t1",
            status="failure",
            cost=CostRecord(total="0"),
            error=ErrorRecord(type="api_error", message="boom"),
            end_user="c3",
            **late,
        ),
        *rows(2, key_hash=None, model_group=None, user_id="u2", **at),
        *rows(1, key_hash=KEY_B, cost=CostRecord(total="0.0000000001"), end_user="c1", **late),
    ]


async def _seed(engine: AsyncEngine) -> None:
    await migrate_async(engine)
    await organizations.create_organization(engine, "o1")
    await teams.create_team(engine, "t1", {"organization_id": "o1"})
    for user in ("u1", "u2"):
        await users.create_user(engine, user)
    for tag in ("x", "y"):
        await tags.create_tag(engine, tag)
    await keys.create_key(engine, KEY_A, {"team_id": "t1", "user_id": "u1"})
    await keys.create_key(engine, KEY_B, {"user_id": "u1"})


async def _snapshot(engine: AsyncEngine) -> dict[str, Any]:
    out: dict[str, Any] = {}
    await rollup_deltas.fold(engine)  # PostgreSQL: the pending rollup deltas into the tables
    async with engine.connect() as conn:
        for kind, table in DAILY_TABLES.items():
            result = await conn.execute(sa.select(table))
            out[kind] = sorted(tuple(sorted(row.items())) for row in result.mappings())
        for table, key in [
            (verification_tokens, "token"),
            (teams_table, "team_id"),
            (orgs_table, "organization_id"),
            (users_table, "user_id"),
            (tags_table, "tag_name"),
            (end_users, "user_id"),
        ]:
            result = await conn.execute(sa.select(table.c[key], table.c.spend))
            out[table.name] = sorted((row[0], row[1]) for row in result)
    return out


@pytest.fixture
async def both(tmp_path: Path, postgres_url: str) -> AsyncIterator[list[AsyncEngine]]:
    schema = f"ledgerlm_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    databases = [
        Database("sqlite", f"sqlite:///{tmp_path / 'p.db'}"),
        Database("postgresql", postgres_url, schema),
    ]
    engines = [db.engine() for db in databases]
    try:
        yield engines
    finally:
        for engine in engines:
            await engine.dispose()
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def test_sqlite_and_postgresql_ingest_agree(both: list[AsyncEngine]) -> None:
    batch = _batch()
    snapshots = []
    for engine in both:
        await _seed(engine)
        await ingest(engine, batch[:5])
        await ingest(engine, batch)  # overlapping replay: the first five are skipped
        snapshots.append(await _snapshot(engine))
    sqlite_view, postgres_view = snapshots
    assert sqlite_view == postgres_view
    assert len(sqlite_view["model"]) == 3  # day 1: the group and a bare model name; day 2: the group
    cost = Decimal("0.0002865")
    assert sqlite_view["end_users"] == [
        ("c1", cost * 3 + Decimal("0.0000000001")),
        ("c2", cost * 2),
        ("c3", Decimal("0E-10")),  # a priced failure at $0: the end user exists, spent nothing
    ]
    # personal spend only: u1's two late rows and its row with an empty team, not its team-key rows
    assert dict(sqlite_view["users"]) == {"u1": cost * 3, "u2": cost * 2}
