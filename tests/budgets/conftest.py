"""Backends under test: the in-process one, and two independent ``RedisBudgets`` instances sharing one
Redis (two proxies) under a unique key prefix per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from ledgerlm.budgets.backend import BudgetBackend
from ledgerlm.budgets.memory import MemoryBudgets
from ledgerlm.budgets.redis_backend import RedisBudgets
from ledgerlm.budgets.types import EntityRef


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
