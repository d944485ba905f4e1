"""The proxy's link to the store: database engine, spend spool + writer, key lookups.

* ``start()``: create the async engine, run migrations (unless disabled), claim a spool slot, start the
  spend writer (which replays whatever the spool holds from before a crash) and the maintenance loop
  (``store.retention``: daily partitions ahead on PostgreSQL, spend log retention when configured).
* ``append(record)``: the spend row into the spool (sync, one append); called by the per-request sink.
* ``ready()``: ``(ok, reason)`` for ``/health/readiness``: database reachable AND spool healthy.
* ``lookup_key(token)``: a ``KeyContext`` for a SHA-256 key hash (with its team's models and tags).

Spool slots: each proxy process claims ``<spool_dir>/slot-<n>`` with an exclusive ``flock`` on
``slot-<n>.lock`` (lowest free n). Workers of one proxy never share a spool, and a restarted proxy
reclaims (and replays) the slots of the processes it replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.proxy.auth import KeyContext
from ledgerlm.record import CallRecord

__all__ = ["StoreLink", "claim_spool_slot"]

log = logging.getLogger("ledgerlm.proxy")

READINESS_TIMEOUT_S = 2.0


def claim_spool_slot(spool_dir: Path, max_slots: int = 256) -> tuple[Path, int]:
    """Lock the lowest free ``slot-<n>`` under ``spool_dir``; returns (its directory, the lock fd).

    Raises ``OSError`` when the directory is unusable or every slot is taken.
    """
    spool_dir.mkdir(parents=True, exist_ok=True)
    for n in range(max_slots):
        fd = os.open(spool_dir / f"slot-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        slot = spool_dir / f"slot-{n}"
        slot.mkdir(exist_ok=True)
        return slot, fd
    raise OSError(f"all {max_slots} spool slots under {spool_dir} are in use")


def _tags_of(row: dict[str, Any], *, with_column: bool) -> list[str]:
    tags: list[str] = []
    if with_column:
        tags.extend(t for t in row.get("tags") or [] if isinstance(t, str))
    metadata = row.get("metadata") or {}
    tags.extend(t for t in metadata.get("tags") or [] if isinstance(t, str))
    return list(dict.fromkeys(tags))


def key_context(
    row: dict[str, Any], team: dict[str, Any] | None, user: dict[str, Any] | None = None
) -> KeyContext:
    """A ``KeyContext`` from a ``verification_tokens`` row, its team row and its user row."""
    team = team or {}
    user = user or {}
    return KeyContext(
        user_role=user.get("user_role"),
        user_organization_id=user.get("organization_id"),
        user_max_budget=user.get("max_budget"),
        user_models=list(user.get("models") or []),
        token=row["token"],
        key_alias=row.get("key_alias"),
        key_name=row.get("key_name"),
        user_id=row.get("user_id"),
        team_id=row.get("team_id"),
        org_id=row.get("organization_id") or team.get("organization_id"),
        models=list(row.get("models") or []),
        team_models=list(team.get("models") or []),
        tags=_tags_of(row, with_column=False),
        team_tags=_tags_of(team, with_column=True),
        metadata=dict(row.get("metadata") or {}),
        team_metadata=dict(team.get("metadata") or {}),
        expires=row.get("expires"),
        blocked=bool(row.get("blocked")) or bool(team.get("blocked")),
        spend=row.get("spend"),
        max_budget=row.get("max_budget"),
        soft_budget=row.get("soft_budget"),
        budget_duration=row.get("budget_duration"),
        tpm_limit=row.get("tpm_limit"),
        rpm_limit=row.get("rpm_limit"),
        max_parallel_requests=row.get("max_parallel_requests"),
        team_alias=team.get("team_alias"),
        team_spend=team.get("spend"),
        team_max_budget=team.get("max_budget"),
        team_tpm_limit=team.get("tpm_limit"),
        team_rpm_limit=team.get("rpm_limit"),
        team_blocked=bool(team.get("blocked")),
        user_email=user.get("user_email"),
        user_spend=user.get("spend"),
    )


class StoreLink:
    """See the module docstring. ``engine`` is available after ``start()``."""

    def __init__(
        self,
        *,
        database_url: str,
        spool_dir: Path,
        store_prompts: bool,
        fsync: bool = False,
        migrate: bool = True,
    ) -> None:
        self.database_url = database_url
        self.spool_dir = spool_dir
        self.store_prompts = store_prompts
        self.fsync = fsync
        self.migrate = migrate
        self._engine: AsyncEngine | None = None
        self.spool: Any = None
        self.writer: Any = None
        self._lock_fd: int | None = None
        self._from_record: Any = None
        self.spool_ok = True
        self.spool_reason: str | None = None
        self._watch: asyncio.Task[None] | None = None
        self.writer_max_lag_s = 30.0  # general_settings.spend_writer_max_lag_s
        self.on_anomaly: Any = None  # the writer's hook for flagged rows (proxy.ops_alerts)
        self.retention: Any = None  # store.retention.RetentionPolicy (general_settings), None: defaults
        self.maintenance: Any = None  # store.retention.MaintenanceLoop: partitions, weekly rollups, retention

    @property
    def engine(self) -> AsyncEngine:
        """The async engine (after ``start()``)."""
        if self._engine is None:
            raise RuntimeError("the store is not started")
        return self._engine

    async def start(self) -> None:
        """Connect, migrate, claim a spool slot and start the spend writer (replays the spool)."""
        from ledgerlm.store import engine as store_engine
        from ledgerlm.store.migrate import migrate_async
        from ledgerlm.store.spend_log import SpendLog
        from ledgerlm.store.spool import Spool
        from ledgerlm.store.writer import SpendWriter

        self._engine = store_engine.create_engine(self.database_url)
        if self.migrate:
            await migrate_async(self._engine)
        slot, self._lock_fd = claim_spool_slot(self.spool_dir)
        self.spool = Spool(slot, fsync=self.fsync)
        self._from_record = SpendLog.from_record
        self.writer = SpendWriter(self._engine, self.spool)
        self.writer.on_anomaly = self.on_anomaly
        await self.writer.start()
        self._watch = asyncio.create_task(self._watch_spool(), name="ledgerlm-spool-health")
        self._start_maintenance()

    def _start_maintenance(self) -> None:
        """Partitions ahead (PostgreSQL), the weekly rollups of ended weeks, spend log retention."""
        from ledgerlm.store.retention import MaintenanceLoop, RetentionPolicy

        self.maintenance = MaintenanceLoop(lambda: self.engine, self.retention or RetentionPolicy())
        self.maintenance.start()

    async def stop(self) -> None:
        """Drain the writer (best effort), close the spool and the engine, release the slot."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        if self.maintenance is not None:
            await self.maintenance.stop()
            self.maintenance = None
        if self.writer is not None:
            await self.writer.stop()
        if self.spool is not None and hasattr(self.spool, "close"):
            self.spool.close()
        if self._engine is not None:
            await self._engine.dispose()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def append(self, record: CallRecord) -> None:
        """Spool the spend row of ``record`` (before the response is sent). A failing disk marks the
        spool unhealthy (readiness 503; new requests refused with ``reject_when_spool_unhealthy``) and is
        logged; the response already paid for upstream is still served."""
        try:
            self.spool.append(self._from_record(record, store_prompts=self.store_prompts))
        except OSError as exc:
            self._mark(False, f"spool append failed: {exc}")
            log.error("spend row %s NOT spooled: %s", record.id, exc)

    def _mark(self, ok: bool, reason: str | None) -> None:
        if ok != self.spool_ok:
            if ok:
                log.warning("spend spool healthy again")
            else:
                log.error("spend spool unhealthy: %s", reason)
        self.spool_ok, self.spool_reason = ok, reason

    async def _watch_spool(self, interval_s: float = 1.0) -> None:
        """Probe the spool every ``interval_s`` seconds so requests can check one flag."""
        while True:
            await asyncio.sleep(interval_s)
            self._mark(*self.spool_health())

    async def ping(self) -> bool:
        """``SELECT 1`` within ``READINESS_TIMEOUT_S`` seconds."""
        try:
            async with asyncio.timeout(READINESS_TIMEOUT_S), self.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        except Exception as exc:
            log.warning("readiness: database unreachable: %s", type(exc).__name__)
            return False
        return True

    def writer_health(self) -> tuple[bool, str | None]:
        """``(healthy, reason)`` of the spend writer: unhealthy when it is not running, or when rows
        have waited with no successful write for more than ``writer_max_lag_s`` seconds."""
        writer = self.writer
        if writer is None or not writer.running:
            return False, "spend writer not running"
        stalled = writer.stalled_s
        if stalled > self.writer_max_lag_s:
            why = f"; last error: {writer.last_error}" if writer.last_error else ""
            return False, f"spend writer behind: {writer.queue_depth} rows waiting for {stalled:.1f}s{why}"
        return True, None

    def spool_health(self) -> tuple[bool, str | None]:
        """``(healthy, reason)`` of the spool (a probe write in its directory)."""
        if self.spool is None:
            return False, "spool not started"
        reason = self.spool.check()
        return reason is None, reason

    async def lookup_key(self, token: str) -> KeyContext | None:
        """The key with SHA-256 hash ``token``, its team and its user (role), or None."""
        from ledgerlm.store import keys, teams, users

        row = await keys.get_key(self.engine, token)
        if row is None:
            return None
        team = await teams.get_team(self.engine, row["team_id"]) if row.get("team_id") else None
        user = await users.get_user(self.engine, row["user_id"]) if row.get("user_id") else None
        return key_context(row, team, user)
