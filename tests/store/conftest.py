"""Store test fixtures: every store test runs on SQLite AND on the machine's PostgreSQL.

``database`` is parametrized (``sqlite`` / ``postgresql``): a migrated SQLite file, or a fresh schema
(``ledgerlm_test_<random>``) in the ``test`` database, one per test module, dropped afterwards. Tests
share the module's database, so they use unique ids (``uid()``) for everything they count.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store.migrate import migrate

from .factories import Database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("store") / "ledgerlm.db"
        db = Database("sqlite", f"sqlite:///{path}")
        migrate(db.url)
        yield db
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"ledgerlm_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        db = Database("postgresql", url, schema)
        migrate(db.url, search_path=schema)
        yield db
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    eng = database.engine()
    try:
        yield eng
    finally:
        await eng.dispose()
