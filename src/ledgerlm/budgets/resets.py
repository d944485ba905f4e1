"""Budget resets on schedule: zero an entity's period spend when its ``budget_reset_at`` has passed, set
the next reset time, and reset the shared counter. Spend history (``spend_logs``) and the daily tables
are never touched.

Several instances may run the loop: the database decides who resets each row (``UPDATE ... WHERE
budget_reset_at = <the time read>``; only one instance's update matches), and only that instance resets
the counter. Rows with a ``budget_duration`` but no ``budget_reset_at`` get their first reset time
(``now + duration``) without a reset. The global budget needs no reset: its counter carries its
aligned period, and a counter of an ended period is reloaded from ``spend_logs`` of the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.budgets.backend import BudgetBackend
from ledgerlm.budgets.durations import next_reset
from ledgerlm.budgets.store_io import ENTITY_TABLES
from ledgerlm.budgets.types import EntityKind, EntityRef

__all__ = ["ResetLoop", "reset_due"]

log = logging.getLogger("ledgerlm.budgets")


async def reset_due(
    engine: AsyncEngine,
    backend: BudgetBackend,
    now: datetime | None = None,
) -> list[EntityRef]:
    """Reset every entity whose period ended by ``now`` (UTC); returns the entities this call reset."""
    now = now or datetime.now(UTC)
    done: list[EntityRef] = []
    for kind in ENTITY_TABLES:
        done += await _reset_table(engine, backend, kind, now)  # type: ignore[arg-type]
    return done


async def _reset_table(
    engine: AsyncEngine, backend: BudgetBackend, kind: EntityKind, now: datetime
) -> list[EntityRef]:
    table, pk = ENTITY_TABLES[kind]
    due = sa.select(table.c[pk], table.c.budget_duration, table.c.budget_reset_at).where(
        table.c.budget_duration.is_not(None),
        sa.or_(table.c.budget_reset_at.is_(None), table.c.budget_reset_at <= now),
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(due)).all()
    done: list[EntityRef] = []
    for ident, duration, reset_at in rows:
        try:
            following = next_reset(duration, now, anchor=reset_at)
        except ValueError:
            log.warning("%s %r has an invalid budget_duration %r; not reset", kind, ident, duration)
            continue
        if await _claim(engine, table, pk, ident, reset_at, following) and reset_at is not None:
            ref = EntityRef(kind, ident)
            await backend.reset_spend(ref, 0)
            done.append(ref)
    return done


async def _claim(
    engine: AsyncEngine, table: sa.Table, pk: str, ident: str, old: datetime | None, following: datetime
) -> bool:
    """Set the next reset time (and zero ``spend`` when a period ended) if no other instance did."""
    values: dict[str, Any] = {"budget_reset_at": following}
    if old is not None:
        values["spend"] = 0
    same = table.c.budget_reset_at.is_(None) if old is None else table.c.budget_reset_at == old
    statement = table.update().where(table.c[pk] == ident, same).values(values)
    async with engine.begin() as conn:
        result = await conn.execute(statement)
    return bool(result.rowcount)


class ResetLoop:
    """Runs ``reset_due`` every ``interval_s`` seconds in the background; errors are logged, the loop
    goes on. ``on_reset`` is called with the entities reset (e.g. to drop a limits cache)."""

    def __init__(
        self,
        engine: AsyncEngine,
        backend: BudgetBackend,
        *,
        interval_s: float = 10.0,
        on_reset: Callable[[list[EntityRef]], None] | None = None,
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.interval_s = interval_s
        self.on_reset = on_reset
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> list[EntityRef]:
        """One pass (also what the loop runs)."""
        done = await reset_due(self.engine, self.backend)
        if done:
            log.info("budget reset for %d entities", len(done))
            if self.on_reset is not None:
                self.on_reset(done)
        return done

    def start(self) -> None:
        """Start the background task (call inside the running event loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop(), name="ledgerlm-budget-resets")

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("budget reset pass failed")
            await asyncio.sleep(self.interval_s)

    async def stop(self) -> None:
        """Cancel the background task and wait for it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
