"""Closed periods: a month (UTC, ``YYYY-MM``) that is closed never changes again.

* ``await close_period(engine, "2026-11", actor=..., now=...)`` freezes a month that has ended: its
  report (``period_report_data``: spend rows of the month plus the adjustments that landed in it,
  totals by team, key, model, tag and day) is stored as canonical JSON text with its SHA-256 in
  ``ledger_periods``. Closing twice, closing a month not yet over, or reopening: ``PeriodClosedError``
  / ``ValueError``. There is no reopen.
* ``await frozen_report(engine, period)``: the stored text of a closed period (byte for byte the same
  every time), or the report computed now for an open one.
* ``landing(original_time, closed, now)``: where an adjustment of a call lands: the call's own period
  when open, else the period of ``now`` (dated ``now``, linked to the closed period it corrects); both
  closed: ``PeriodClosedError``. ``ledgerlm.ledger.adjustments`` applies it to every adjustment.

On PostgreSQL closing and adjusting take the same transaction-level advisory lock, so an adjustment
never slips into a month being closed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledgerlm.errors import LedgerLMError
from ledgerlm.store.tables import ledger_periods

__all__ = [
    "PeriodClosedError",
    "close_period",
    "closed_periods",
    "frozen_report",
    "landing",
    "list_periods",
    "lock_periods",
    "parse_period",
    "period_bounds",
    "period_of",
]

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_LOCK_KEY = 0x4C4C4D19  # pg_advisory_xact_lock key shared by close and adjustment writes


class PeriodClosedError(LedgerLMError):
    """The period is closed: nothing may land in it (409 on the admin API)."""

    status_code = 409
    error_type = "invalid_request_error"
    default_code = "period_closed"


def parse_period(text: str) -> str:
    """``"YYYY-MM"`` validated; raises ``ValueError`` naming the expected form."""
    if not isinstance(text, str) or not _PERIOD.match(text):
        raise ValueError(f"period must be YYYY-MM (a UTC month), got {text!r}")
    return text


def period_of(moment: datetime) -> str:
    """The ``YYYY-MM`` UTC month of an aware (or naive = UTC) datetime."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{utc.year:04d}-{utc.month:02d}"


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """``[first instant, first instant of the next month)`` of ``period`` in UTC."""
    year, month = (int(part) for part in parse_period(period).split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def landing(original_time: datetime, closed: set[str], now: datetime) -> tuple[str, datetime, str | None]:
    """``(period it lands in, charge time, corrected closed period or None)`` for an adjustment."""
    own = period_of(original_time)
    if own not in closed:
        return own, original_time, None
    current = period_of(now)
    if current in closed:
        raise PeriodClosedError(f"periods {own} and {current} are closed: the adjustment cannot land")
    return current, now, own


async def lock_periods(conn: AsyncConnection) -> None:
    """Serialize closes and adjustment writes (PostgreSQL advisory lock; SQLite has one writer)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))


async def closed_periods(conn: AsyncConnection) -> set[str]:
    """Every closed ``YYYY-MM``."""
    return {row[0] for row in await conn.execute(sa.select(ledger_periods.c.period))}


def _canonical(report: Mapping[str, Any]) -> str:
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


async def close_period(
    engine: AsyncEngine, period: str, *, actor: str, note: str | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Close ``period`` (see the module docstring) -> its ``list_periods`` row."""
    from ledgerlm.ledger.period_report import period_report_data

    moment = now or datetime.now(UTC)
    _start, end = period_bounds(period)
    if moment < end:
        raise ValueError(f"period {period} has not ended yet (it ends {end.isoformat()})")
    async with engine.begin() as conn:
        await lock_periods(conn)
        if period in await closed_periods(conn):
            raise PeriodClosedError(f"period {period} is already closed")
        text = _canonical(await period_report_data(conn, period))
        row = {
            "period": period,
            "status": "closed",
            "closed_at": moment,
            "closed_by": actor,
            "note": note,
            "report": text,
            "checksum": hashlib.sha256(text.encode()).hexdigest(),
        }
        await conn.execute(ledger_periods.insert().values(**row))
    return _public(row)


def _public(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("period", "status", "closed_at", "closed_by", "note", "checksum")}


async def list_periods(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Closed periods, newest first: period, status, closed_at, closed_by, note, checksum."""
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(ledger_periods).order_by(ledger_periods.c.period.desc()))
        return [_public(dict(row)) for row in rows.mappings()]


async def frozen_report(engine: AsyncEngine, period: str) -> str:
    """The report of ``period`` as canonical JSON text: stored (closed) or computed now (open)."""
    from ledgerlm.ledger.period_report import period_report_data

    parse_period(period)
    async with engine.connect() as conn:
        stored = await conn.execute(
            sa.select(ledger_periods.c.report).where(ledger_periods.c.period == period)
        )
        text = stored.scalar()
        if text is not None:
            return str(text) if not isinstance(text, str) else text
        return _canonical(await period_report_data(conn, period))
