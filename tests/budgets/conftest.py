"""Backends under test: the in-process one, and two independent ``RedisBudgets`` instances sharing one
Redis (two proxies) under a unique key prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.budgets.backend import BudgetBackend
from ledgerlm.budgets.memory import MemoryBudgets
from ledgerlm.budgets.redis_backend import RedisBudgets
from ledgerlm.budgets.types import EntityRef
from ledgerlm.store.engine import create_engine
from ledgerlm.store.migrate import migrate


@dataclass
class FakeDatabaseSpend:
    """The database's record of settled spend per entity (what a real loader reads from the store)."""

    spend: dict[EntityRef, Decimal] = field(default_factory=dict)
    loads: int = 0

    async def __call__(self, refs: Sequence[EntityRef]) -> Mapping[EntityRef, Decimal]:
        self.loads += 1
        return {ref: self.spend.get(ref, Decimal(0)) for ref in refs}


@dataclass
class Pair:
    """Two backends that must behave as one budget (the same object twice for memory)."""

    first: BudgetBackend
    second: BudgetBackend
    database: FakeDatabaseSpend
    prefix: str | None = None
    client: Redis | None = None


@pytest.fixture(params=["memory", "redis"])
async def pair(request: pytest.FixtureRequest) -> AsyncIterator[Pair]:
    database = FakeDatabaseSpend()
    if request.param == "memory":
        backend = MemoryBudgets(loader=database)
        yield Pair(backend, backend, database)
        return
    url = request.getfixturevalue("redis_url")
    prefix = "{ledgerlm-test-" + uuid.uuid4().hex + "}"
    first = RedisBudgets(url=url, prefix=prefix, loader=database)
    second = RedisBudgets(url=url, prefix=prefix, loader=database)
    await first.start()
    await second.start()
    client = Redis.from_url(url)
    try:
        yield Pair(first, second, database, prefix, client)
    finally:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()
        await first.close()
        await second.close()


@dataclass(frozen=True)
class Database:
    """A migrated database: ``url`` plus the PostgreSQL schema (``search_path``) or ``None``."""

    kind: str
    url: str
    search_path: str | None = None


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated SQLite file, or a fresh PostgreSQL schema dropped afterwards (one per test module)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("budgets") / "ledgerlm.db"
        db = Database("sqlite", f"sqlite:///{path}")
        migrate(db.url)
        yield db
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"ledgerlm_budgets_{uuid.uuid4().hex[:10]}"
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
    eng = create_engine(database.url, search_path=database.search_path)
    try:
        yield eng
    finally:
        await eng.dispose()


def uid(prefix: str = "") -> str:
    """A unique id for test data (other engineers' tests share the PostgreSQL server)."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"
