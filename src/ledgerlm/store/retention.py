"""Spend log retention and partition upkeep (issue 21).

``RetentionPolicy.from_settings(general_settings)`` reads:

* ``spend_log_retention_days`` (int days), or LiteLLM's ``maximum_spend_logs_retention_period``
  (``"7d"``, ``"24h"``, ``"60m"``, ``"3600s"``; LiteLLM docs, "Maximum Retention Period for Spend
  Logs"), rounded UP to whole days (a partition holds one UTC day). A spend row is deleted once its
  UTC day is more than that many days before today (``days=7`` on 2026-12-08 keeps 2026-12-01 on).
* ``spend_log_prompt_retention_days``: after that many days the stored ``messages`` / ``response``
  of a row are set to NULL (the row, its money and tokens stay).
* ``spend_log_retention_interval_s`` (default 3600; LiteLLM's ``maximum_spend_logs_retention_interval``
  is accepted too): how often ``MaintenanceLoop`` runs.

``apply(engine, policy)`` enforces it. PostgreSQL (``spend_logs`` partitioned by day, migration 0017):
whole partitions of ``spend_logs`` and ``spend_log_tags`` are DROPPED (after deleting their request ids
from ``spend_log_ids``), one day per transaction; prompts are nulled partition by partition. SQLite:
``DELETE`` / ``UPDATE`` by ``startTime``. The daily rollups and entity totals are NEVER touched: totals
and reports keep counting the deleted calls (only the per-call rows go).

``MaintenanceLoop`` (started by the proxy) creates the next days' partitions, folds the weeks that
have ended into the weekly rollups (``store.weekly.build_closed_weeks``) and applies the policy every
interval; errors are logged and retried at the next tick, never raised.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import partitions, weekly
from ledgerlm.store.tables import spend_log_tags, spend_logs
from ledgerlm.ticker import Ticker

logger = logging.getLogger(__name__)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 86400}


def duration_days(value: Any) -> int | None:
    """Whole days (rounded up, at least 1) of ``7`` / ``"7d"`` / ``"24h"`` / ``"60m"`` / ``"3600s"``;
    ``None`` for ``None``. Raises ``ValueError`` for anything else."""
    if value is None:
        return None
    found = _DURATION.match(str(value))
    if found is None or isinstance(value, bool):
        raise ValueError(f"retention must be a number of days or a duration like '7d', not {value!r}")
    seconds = float(found.group(1)) * _SECONDS[found.group(2)]
    return max(1, math.ceil(seconds / 86400))


def duration_seconds(value: Any, default: float) -> float:
    """Seconds of ``3600`` / ``"1h"`` / ``"1d"``; ``default`` for ``None``."""
    if value is None:
        return default
    found = _DURATION.match(str(value))
    if found is None:
        raise ValueError(f"interval must be seconds or a duration like '1h', not {value!r}")
    return float(found.group(1)) * _SECONDS[found.group(2) or "s"]


@dataclass(frozen=True)
class RetentionPolicy:
    """``keep_days``: spend rows; ``prompt_days``: stored prompts/responses (``None``: forever)."""

    keep_days: int | None = None
    prompt_days: int | None = None
    interval_s: float = 3600.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> RetentionPolicy:
        """From ``general_settings`` (see the module docstring); ``ValueError`` for a bad value."""
        keep = settings.get("spend_log_retention_days")
        if keep is None:
            keep = settings.get("maximum_spend_logs_retention_period")
        interval = settings.get("spend_log_retention_interval_s")
        if interval is None:
            interval = settings.get("maximum_spend_logs_retention_interval")
        return cls(
            keep_days=duration_days(keep),
            prompt_days=duration_days(settings.get("spend_log_prompt_retention_days")),
            interval_s=max(60.0, duration_seconds(interval, 3600.0)),
        )


@dataclass
class RetentionResult:
    """Days whose rows were dropped, days whose prompts were cleared (PostgreSQL), rows touched (SQLite)."""

    dropped_days: list[date] = field(default_factory=list)
    prompt_days: list[date] = field(default_factory=list)
    rows_deleted: int = 0
    prompts_cleared: int = 0


def _cutoff(today: date, days: int | None) -> date | None:
    """The first UTC day kept (``None``: keep everything)."""
    return None if days is None else today - timedelta(days=days)


async def apply(
    engine: AsyncEngine,
    policy: RetentionPolicy,
    *,
    today: date | None = None,
    cleared: set[date] | None = None,
) -> RetentionResult:
    """Enforce ``policy`` as of UTC ``today``; ``cleared``: days whose prompts were already cleared
    (skipped; updated). Rollups and totals are never touched."""
    today = today or datetime.now(UTC).date()
    keep_from = _cutoff(today, policy.keep_days)
    prompts_from = _cutoff(today, policy.prompt_days)
    if engine.dialect.name == "postgresql":
        return await _apply_partitioned(
            engine, keep_from, prompts_from, cleared if cleared is not None else set()
        )
    return await _apply_rows(engine, keep_from, prompts_from)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


_HAS_PROMPT = (
    "(messages IS NOT NULL AND messages::text <> 'null') "
    "OR (response IS NOT NULL AND response::text <> 'null')"
)


async def _apply_partitioned(
    engine: AsyncEngine, keep_from: date | None, prompts_from: date | None, cleared: set[date]
) -> RetentionResult:
    result = RetentionResult()
    async with engine.connect() as conn:
        days = await partitions.partition_days(conn, "spend_logs")
    for day in days:
        if keep_from is not None and day < keep_from:
            name = partitions.partition_name("spend_logs", day)
            async with engine.begin() as conn:
                await conn.exec_driver_sql(
                    f'DELETE FROM spend_log_ids i USING "{name}" p WHERE i.request_id = p.request_id'
                )
                for table in partitions.PARTITIONED:
                    await conn.exec_driver_sql(
                        f'DROP TABLE IF EXISTS "{partitions.partition_name(table, day)}"'
                    )
            partitions.forget(engine, [day])
            result.dropped_days.append(day)
        elif prompts_from is not None and day < prompts_from and day not in cleared:
            name = partitions.partition_name("spend_logs", day)
            async with engine.begin() as conn:
                done = await conn.exec_driver_sql(
                    f'UPDATE "{name}" SET messages = NULL, response = NULL WHERE {_HAS_PROMPT}'
                )
            cleared.add(day)
            result.prompt_days.append(day)
            result.prompts_cleared += int(done.rowcount or 0)
    return result


async def _apply_rows(
    engine: AsyncEngine, keep_from: date | None, prompts_from: date | None
) -> RetentionResult:
    result = RetentionResult()
    async with engine.begin() as conn:
        if keep_from is not None:
            low = _midnight(keep_from)
            await conn.execute(spend_log_tags.delete().where(spend_log_tags.c.startTime < low))
            deleted = await conn.execute(spend_logs.delete().where(spend_logs.c.startTime < low))
            result.rows_deleted = int(deleted.rowcount or 0)
        if prompts_from is not None:
            c = spend_logs.c
            cleared = await conn.execute(
                spend_logs.update()
                .where(
                    c.startTime < _midnight(prompts_from),
                    sa.or_(c.messages.is_not(None), c.response.is_not(None)),
                )
                .values(messages=sa.null(), response=sa.null())
            )
            result.prompts_cleared = int(cleared.rowcount or 0)
    return result


class MaintenanceLoop:
    """Every ``policy.interval_s``: create the partitions of today and the next ``ahead_days`` days,
    build the weekly rollups of ended weeks, then ``apply`` the policy. ``engine_of`` returns the
    current engine (the proxy's store)."""

    def __init__(
        self, engine_of: Callable[[], AsyncEngine], policy: RetentionPolicy, ahead_days: int = 3
    ) -> None:
        self.engine_of = engine_of
        self.policy = policy
        self.ahead_days = ahead_days
        self.last: RetentionResult | None = None
        self._cleared: set[date] = set()
        self._ticker = Ticker("spend-maintenance", self.policy.interval_s, self.run_once, logger=logger)

    async def run_once(self) -> RetentionResult:
        """One pass (errors propagate)."""
        engine = self.engine_of()
        await partitions.create_ahead(engine, self.ahead_days)
        built = await weekly.build_closed_weeks(engine)
        if built:
            logger.info("weekly rollups built for the weeks of %s", [d.isoformat() for d in built])
        self.last = await apply(engine, self.policy, cleared=self._cleared)
        if self.last.dropped_days or self.last.rows_deleted:
            logger.info(
                "spend log retention: dropped days %s, %d rows deleted",
                [d.isoformat() for d in self.last.dropped_days],
                self.last.rows_deleted,
            )
        return self.last

    def start(self) -> None:
        self._ticker.start()

    async def stop(self) -> None:
        await self._ticker.stop()
