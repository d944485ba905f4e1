"""Store test fixtures: every store test runs on SQLite AND on the machine's PostgreSQL.

``database`` is parametrized (``sqlite`` / ``postgresql``): a migrated SQLite file, or a fresh schema
(``ledgerlm_test_<random>``) in the ``test`` database, one per test module, dropped afterwards. Tests
share the module's database, so they use unique ids (``uid()``) for everything they count.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.record import CallRecord, CostRecord, UsageRecord
from ledgerlm.store.engine import create_engine
from ledgerlm.store.migrate import migrate


@dataclass(frozen=True)
class Database:
    """A migrated test database: ``url`` plus the PostgreSQL ``search_path`` (schema) or ``None``."""

    kind: str
    url: str
    search_path: str | None = None

    def engine(self, **kwargs: Any) -> AsyncEngine:
        return create_engine(self.url, search_path=self.search_path, **kwargs)


def uid(prefix: str = "") -> str:
    """A unique id for test data (tests of several engineers share the PostgreSQL server)."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


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


def make_record(**overrides: Any) -> CallRecord:
    """A realistic successful ``CallRecord`` (gpt-4o-mini prices: $0.15 / $0.60 per million tokens)."""
    fields: dict[str, Any] = {
        "id": uid("req-"),
        "call_type": "acompletion",
        "status": "success",
        "requested_model": "gpt-4o-mini",
        "model": "gpt-4o-mini-2024-07-18",
        "model_group": "gpt-4o-mini",
        "deployment_id": "dep-1",
        "provider": "openai",
        "api_base": "http://127.0.0.1:1/v1",
        "start_time": 1_764_410_000.25,
        "end_time": 1_764_410_001.5,
        "latency_s": 1.25,
        "usage": UsageRecord(input_tokens=1000, output_tokens=200, total_tokens=1200, cache_read_tokens=100),
        "cost": CostRecord(
            total="0.0002865",
            breakdown={"input": "0.000135", "cache_read": "0.0000075", "output": "0.00012"},
            source="catalog",
            model_ref="gpt-4o-mini",
            data_version="genai-prices test",
        ),
        "request_tags": ["env:test"],
        "messages": [{"role": "user", "content": "hello"}],
        "response": {"choices": [{"message": {"content": "hi"}}]},
    }
    fields.update(overrides)
    return CallRecord(**fields)
