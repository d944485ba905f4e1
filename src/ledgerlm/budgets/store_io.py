"""The database side of budgets: which entities apply to a request (the attribution rule), their limits,
and their settled spend for rebuilding counters.

Attribution (issue 7 item 6), the same rule the spend writer uses for ``spend`` totals
(``ledgerlm.store.ingest.total_deltas``):

* the key always; its team when the key belongs to one; the key's user as a member of that team
  (``team_member``, id ``<team_id>/<user_id>``) when the team gives the member ``max_budget_in_team``
  (LiteLLM's member budget; its spend is the member's spend on the team's keys);
* the user's personal budget only for personal keys (keys without a team): team-key spend counts toward
  the team and the key, never toward the user;
* the end user (``user`` body field / ``x-litellm-end-user-id``) whichever key carried the request;
* every request tag registered with limits (``/tag/new`` or config ``budget_settings.tags``);
* the global proxy budget (config), and the deployment's ``rpm``/``tpm`` (config ``litellm_params``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.budgets.durations import Duration, add_months, parse_duration
from ledgerlm.budgets.types import EntityKind, EntityLimits, EntityRef
from ledgerlm.store import tables
from ledgerlm.store.coltypes import Money
from ledgerlm.types import CallContext

__all__ = [
    "ENTITY_TABLES",
    "GlobalBudget",
    "StoreLimits",
    "StoreSpendLoader",
    "applicable_refs",
    "row_limits",
]

ENTITY_TABLES: dict[str, tuple[sa.Table, str]] = {
    "key": (tables.verification_tokens, "token"),
    "user": (tables.users, "user_id"),
    "team": (tables.teams, "team_id"),
    "end_user": (tables.end_users, "user_id"),
    "tag": (tables.tags, "tag_name"),
}
"""Entity kind -> (table, primary-key column). Each table has the budget and rate-limit columns."""


def applicable_refs(ctx: CallContext) -> list[EntityRef]:
    """The entities whose budgets and limits apply to a request, by the attribution rule above."""
    refs: list[EntityRef] = []
    if ctx.key_hash:
        refs.append(EntityRef("key", ctx.key_hash))
    if ctx.user_id and not ctx.team_id:
        refs.append(EntityRef("user", ctx.user_id))
    if ctx.team_id:
        refs.append(EntityRef("team", ctx.team_id))
        if ctx.user_id:
            refs.append(EntityRef("team_member", f"{ctx.team_id}/{ctx.user_id}"))
    if ctx.end_user:
        refs.append(EntityRef("end_user", ctx.end_user))
    refs.extend(EntityRef("tag", tag) for tag in dict.fromkeys(ctx.request_tags))
    return refs


def row_limits(ref: EntityRef, row: Mapping[str, Any]) -> EntityLimits:
    """``EntityLimits`` from a store row (missing columns: no limit)."""
    return EntityLimits(
        ref=ref,
        max_budget=_decimal(row.get("max_budget")),
        soft_budget=_decimal(row.get("soft_budget")),
        budget_duration=row.get("budget_duration"),
        budget_reset_at=row.get("budget_reset_at"),
        rpm_limit=row.get("rpm_limit"),
        tpm_limit=row.get("tpm_limit"),
        max_parallel_requests=row.get("max_parallel_requests"),
        alias=row.get("key_alias") or row.get("team_alias") or row.get("user_alias") or row.get("alias"),
        blocked=bool(row.get("blocked")),
    )


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True, slots=True)
class GlobalBudget:
    """The proxy-wide budget from the config (LiteLLM ``litellm_settings.max_budget`` /
    ``budget_duration``). Periods are aligned: fixed durations to multiples since the UNIX epoch,
    months to the first day of a month (UTC); its spend is summed from ``spend_logs`` of the period."""

    max_budget: Decimal | None
    budget_duration: str | None = None
    soft_budget: Decimal | None = None

    def period(self, now: datetime) -> tuple[datetime, datetime | None]:
        """``(start, end)`` of the period containing ``now`` (no duration: ``(epoch, None)``)."""
        if not self.budget_duration:
            return datetime(1970, 1, 1, tzinfo=UTC), None
        duration: Duration = parse_duration(self.budget_duration)
        seconds = duration.fixed_seconds
        if seconds is not None:
            start_s = int(now.timestamp()) // seconds * seconds
            return datetime.fromtimestamp(start_s, UTC), datetime.fromtimestamp(start_s + seconds, UTC)
        months = (now.year * 12 + now.month - 1) // duration.count * duration.count
        start = datetime(months // 12, months % 12 + 1, 1, tzinfo=UTC)
        return start, add_months(start, duration.count)

    def limits(self, now: datetime) -> EntityLimits:
        _, end = self.period(now)
        return EntityLimits(
            EntityRef("global", "proxy"),
            max_budget=self.max_budget,
            soft_budget=self.soft_budget,
            budget_duration=self.budget_duration,
            budget_reset_at=end,
        )


BREAKER_DEADLINES = 5
"""After a failed lookup, the last known limits serve at once for this many deadlines (no call waits)."""


class StoreLimits:
    """Limits of the entities that apply to a request, read from the store with a short cache.

    ``cache_ttl_s``: seconds a row's limits are reused (management updates reach admission within it;
    ``invalidate()`` drops the cache at once). ``extra`` gives config-defined entities (tag budgets).
    ``io_timeout_s``: deadline of the lookup (seconds; past it the last limits known are used, else the
    lookup raises ``TimeoutError``: a silent partition never hangs a request).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        cache_ttl_s: float = 1.0,
        global_budget: GlobalBudget | None = None,
        extra: Mapping[EntityRef, EntityLimits] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.cache_ttl_s = cache_ttl_s
        self.global_budget = global_budget
        self.extra = dict(extra or {})
        self.io_timeout_s = 5.0
        self._down_until = 0.0  # after a failed lookup, known limits serve at once until then
        self._clock = clock
        self._cache: dict[EntityRef, tuple[float, EntityLimits | None]] = {}

    def invalidate(self) -> None:
        """Forget every cached row (after a management update or a reset)."""
        self._cache.clear()

    async def entities(self, ctx: CallContext, deployment: EntityLimits | None = None) -> list[EntityLimits]:
        """Every entity with a limit that applies to ``ctx`` (see the attribution rule)."""
        refs = applicable_refs(ctx)
        found = await self._lookup(refs)
        out = [limits for limits in (found.get(ref) for ref in refs) if limits is not None]
        if self.global_budget is not None and self.global_budget.max_budget is not None:
            out.append(self.global_budget.limits(datetime.now(UTC)))
        if deployment is not None and deployment.has_rate_limit:
            out.append(deployment)
        return [e for e in out if e.has_budget or e.has_rate_limit or e.alerts_apply or e.blocked]

    async def _lookup(self, refs: Sequence[EntityRef]) -> dict[EntityRef, EntityLimits | None]:
        now = self._clock()
        found: dict[EntityRef, EntityLimits | None] = {}
        missing: dict[str, list[EntityRef]] = {}
        for ref in refs:
            cached = self._cache.get(ref)
            if cached is not None and cached[0] > now:
                found[ref] = cached[1]
            elif ref.kind in ENTITY_TABLES or ref.kind == "team_member":
                missing.setdefault(ref.kind, []).append(ref)
        if not missing:  # (proxy engineer E) no database round trip when everything is cached
            return found
        stale = [ref for wanted in missing.values() for ref in wanted]
        if now < self._down_until and all(ref in self._cache for ref in stale):
            found.update({ref: self._cache[ref][1] for ref in stale})  # the store just failed: no wait
            return found
        try:
            async with asyncio.timeout(self.io_timeout_s), self.engine.connect() as conn:
                for kind, wanted in missing.items():
                    if kind == "team_member":
                        for ref, limits in (await member_limits(conn, wanted)).items():
                            found[ref] = limits
                            self._cache[ref] = (now + self.cache_ttl_s, limits)
                        continue
                    table, pk = ENTITY_TABLES[kind]
                    rows = await conn.execute(sa.select(table).where(table.c[pk].in_([r.id for r in wanted])))
                    by_id = {row[pk]: dict(row) for row in rows.mappings()}
                    for ref in wanted:
                        row = by_id.get(ref.id)
                        limits = row_limits(ref, row) if row is not None else self.extra.get(ref)
                        found[ref] = limits
                        self._cache[ref] = (now + self.cache_ttl_s, limits)
        except Exception:
            # (proxy engineer E) database unreachable: keep admitting with the last limits known for
            # these entities (the proxy keeps answering during an outage); never seen: re-raise.
            self._down_until = self._clock() + BREAKER_DEADLINES * self.io_timeout_s
            if any(ref not in self._cache for ref in stale):
                raise
            for ref in stale:
                found[ref] = self._cache[ref][1]
        return found


async def member_limits(conn: Any, refs: Sequence[EntityRef]) -> dict[EntityRef, EntityLimits | None]:
    """``team_member`` limits: the ``max_budget_in_team`` (USD, no period) of the member entry in the
    team's ``members`` (``/team/member_add|member_update``); ``None`` when the member has none."""
    teams = tables.teams
    team_ids = list({ref.id.split("/", 1)[0] for ref in refs})
    query = sa.select(teams.c.team_id, teams.c.members).where(teams.c.team_id.in_(team_ids))
    rows = await conn.execute(query)
    members = {row.team_id: row.members or [] for row in rows}
    out: dict[EntityRef, EntityLimits | None] = {}
    for ref in refs:
        team_id, _, user_id = ref.id.partition("/")
        entry = next((m for m in members.get(team_id, []) if m.get("user_id") == user_id), None)
        budget = None if entry is None else entry.get("max_budget_in_team")
        limit = None if budget is None else Decimal(str(budget))
        out[ref] = None if limit is None else EntityLimits(ref, max_budget=limit, alias=user_id)
    return out


async def member_spend(conn: Any, ref: EntityRef) -> Decimal:
    """A team member's spend in the team: ``SUM(spend_logs.spend)`` of the team's calls by the user."""
    team_id, _, user_id = ref.id.partition("/")
    logs = tables.spend_logs
    total = sa.func.coalesce(sa.func.sum(logs.c.spend), 0, type_=Money())
    query = sa.select(total).where(logs.c.team_id == team_id, logs.c.user == user_id)
    return Decimal(str((await conn.execute(query)).scalar_one()))


class StoreSpendLoader:
    """``SpendLoader`` reading each entity's ``spend`` column (USD, current period; the reset loop zeroes
    it) and, for the global budget, ``SUM(spend_logs.spend)`` since the period start."""

    def __init__(self, engine: AsyncEngine, global_budget: GlobalBudget | None = None) -> None:
        self.engine = engine
        self.global_budget = global_budget

    async def __call__(self, refs: Sequence[EntityRef]) -> Mapping[EntityRef, Decimal]:
        out: dict[EntityRef, Decimal] = {ref: Decimal(0) for ref in refs}
        by_kind: dict[EntityKind, list[EntityRef]] = {}
        for ref in refs:
            by_kind.setdefault(ref.kind, []).append(ref)
        async with self.engine.connect() as conn:
            for kind, wanted in by_kind.items():
                if kind == "global":
                    out.update({ref: await self._global_spend(conn) for ref in wanted})
                    continue
                if kind == "team_member":
                    out.update({ref: await member_spend(conn, ref) for ref in wanted})
                    continue
                if kind not in ENTITY_TABLES:
                    continue
                table, pk = ENTITY_TABLES[kind]
                query = sa.select(table.c[pk], table.c.spend).where(table.c[pk].in_([r.id for r in wanted]))
                for ident, spend in (await conn.execute(query)).all():
                    out[EntityRef(kind, ident)] = Decimal(str(spend or 0))
        return out

    async def _global_spend(self, conn: Any) -> Decimal:
        start = datetime(1970, 1, 1, tzinfo=UTC)
        if self.global_budget is not None:
            start, _ = self.global_budget.period(datetime.now(UTC))
        logs = tables.spend_logs
        total = sa.func.coalesce(sa.func.sum(logs.c.spend), 0, type_=Money())
        query = sa.select(total).where(logs.c.startTime >= start)
        return Decimal(str((await conn.execute(query)).scalar_one()))
