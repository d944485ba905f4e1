"""Limits, attribution and spend loading from the real store (SQLite and PostgreSQL), scheduled resets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.budgets.memory import MemoryBudgets
from ledgerlm.budgets.resets import reset_due
from ledgerlm.budgets.store_io import GlobalBudget, StoreLimits, StoreSpendLoader, applicable_refs
from ledgerlm.budgets.types import AdmitPlan, BudgetCheck, EntityRef
from ledgerlm.store import tables
from ledgerlm.types import CallContext

from .conftest import uid


async def insert(engine: AsyncEngine, table: sa.Table, **values: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(table.insert().values(**values))


def test_attribution_rule() -> None:
    team_key = CallContext(
        "r", key_hash="h", user_id="alice", team_id="t", end_user="cust", request_tags=["a"]
    )
    assert applicable_refs(team_key) == [
        EntityRef("key", "h"),
        EntityRef("team", "t"),
        EntityRef("team_member", "t/alice"),  # limited only with max_budget_in_team
        EntityRef("end_user", "cust"),
        EntityRef("tag", "a"),
    ]
    personal = CallContext("r", key_hash="h", user_id="alice", request_tags=["a", "a"])
    assert applicable_refs(personal) == [
        EntityRef("key", "h"),
        EntityRef("user", "alice"),
        EntityRef("tag", "a"),
    ]


async def test_limits_and_spend_from_store(engine: AsyncEngine) -> None:
    key, user, team, tag = uid("k"), uid("u"), uid("t"), uid("tag-")
    await insert(engine, tables.users, user_id=user, max_budget=Decimal("2"), spend=Decimal("0.5"))
    await insert(engine, tables.teams, team_id=team, max_budget=Decimal("10"), rpm_limit=60)
    await insert(
        engine,
        tables.verification_tokens,
        token=key,
        team_id=team,
        user_id=user,
        spend=Decimal("1.25"),
        max_budget=Decimal("3"),
        soft_budget=Decimal("1"),
    )
    await insert(engine, tables.tags, tag_name=tag, max_budget=Decimal("4"), budget_duration="1d")
    limits = StoreLimits(engine, global_budget=GlobalBudget(Decimal("100"), "1d"))
    ctx = CallContext("r", key_hash=key, user_id=user, team_id=team, request_tags=[tag, "unregistered"])
    found = {e.ref: e for e in await limits.entities(ctx)}
    # team key: the user's personal budget does not apply
    assert set(found) == {
        EntityRef("key", key),
        EntityRef("team", team),
        EntityRef("tag", tag),
        EntityRef("global", "proxy"),
    }
    assert found[EntityRef("key", key)].soft_budget == Decimal("1")
    assert found[EntityRef("team", team)].rpm_limit == 60
    assert found[EntityRef("global", "proxy")].budget_reset_at is not None
    loader = StoreSpendLoader(engine)
    spend = await loader([EntityRef("key", key), EntityRef("user", user), EntityRef("team", "missing")])
    assert spend == {
        EntityRef("key", key): Decimal("1.25"),
        EntityRef("user", user): Decimal("0.5"),
        EntityRef("team", "missing"): Decimal(0),
    }


async def test_reset_due_zeroes_spend_sets_next_reset_and_counter(engine: AsyncEngine) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    due, later, fresh = uid("t"), uid("t"), uid("t")
    await insert(
        engine,
        tables.teams,
        team_id=due,
        max_budget=Decimal(1),
        spend=Decimal("0.9"),
        budget_duration="1h",
        budget_reset_at=now - timedelta(minutes=5),
    )
    await insert(
        engine,
        tables.teams,
        team_id=later,
        max_budget=Decimal(1),
        spend=Decimal("0.9"),
        budget_duration="1h",
        budget_reset_at=now + timedelta(minutes=5),
    )
    await insert(engine, tables.teams, team_id=fresh, spend=Decimal("0.3"), budget_duration="1d")
    backend = MemoryBudgets(loader=StoreSpendLoader(engine))
    ref = EntityRef("team", due)
    assert not (await backend.admit(AdmitPlan("x", 200_000_000, (BudgetCheck(ref, 10**9),)), 0.0)).ok
    done = await reset_due(engine, backend, now)
    assert ref in done and EntityRef("team", later) not in done
    async with engine.connect() as conn:
        rows = {r.team_id: r for r in (await conn.execute(sa.select(tables.teams))).all()}
    assert rows[due].spend == Decimal(0)
    assert rows[due].budget_reset_at == now - timedelta(minutes=5) + timedelta(hours=1)
    assert rows[later].spend == Decimal("0.9")
    assert rows[fresh].spend == Decimal("0.3")  # first reset time set, nothing reset
    assert rows[fresh].budget_reset_at == now + timedelta(days=1)
    assert (await backend.admit(AdmitPlan("y", 200_000_000, (BudgetCheck(ref, 10**9),)), 0.0)).ok
    # a second pass (another instance) finds nothing to reset
    assert ref not in await reset_due(engine, backend, now)
