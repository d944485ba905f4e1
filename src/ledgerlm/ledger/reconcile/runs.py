"""Stored reconciliation runs (table ``reconcile_runs``, migration 0006).

* ``insert_run(engine, result)`` -> the new run id (``rec_<uuid hex>``);
* ``list_runs(engine, provider=None, limit=50)`` -> newest first, without rows;
* ``get_run(engine, run_id)`` -> the run with its rows, or ``None``.

A run is the JSON shape of ``GET /reconcile/runs/{id}``: ``{id, provider, from, to, ledger_usd,
provider_usd, capture_rate, status, created_at, rows: [...]}``; money and rates are ``Decimal``
(stored as exact decimal text, rows as JSON text with exact numbers), dates ISO strings.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.ledger.reconcile.model import ReconcileResult, dumps
from ledgerlm.ledger.reconcile.report import parse_json
from ledgerlm.store.tables import reconcile_runs

__all__ = ["get_run", "insert_run", "list_runs"]


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


async def insert_run(engine: AsyncEngine, result: ReconcileResult) -> str:
    """Store ``result``; returns its id."""
    run_id = f"rec_{uuid.uuid4().hex}"
    values = {
        "id": run_id,
        "provider": result.provider,
        "from_date": result.start,
        "to_date": result.end,
        "ledger_usd": _text(result.ledger_usd),
        "provider_usd": _text(result.provider_usd),
        "capture_rate": _text(result.capture_rate),
        "tolerance": _text(result.tolerance),
        "status": result.status,
        "rows": dumps([row.to_json() for row in result.rows], indent=False).decode(),
    }
    async with engine.begin() as conn:
        await conn.execute(sa.insert(reconcile_runs).values(**values))
    return run_id


def _run(row: Any, *, with_rows: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "provider": row.provider,
        "from": row.from_date.isoformat(),
        "to": row.to_date.isoformat(),
        "ledger_usd": Decimal(row.ledger_usd),
        "provider_usd": Decimal(row.provider_usd),
        "capture_rate": None if row.capture_rate is None else Decimal(row.capture_rate),
        "tolerance": Decimal(row.tolerance),
        "status": row.status,
        "created_at": row.created_at.isoformat(),
    }
    if with_rows:
        out["rows"] = parse_json(row.rows)
    return out


async def list_runs(
    engine: AsyncEngine, provider: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Runs newest first (without ``rows``)."""
    c = reconcile_runs.c
    query = sa.select(reconcile_runs).order_by(c.created_at.desc(), c.id).limit(limit)
    if provider:
        query = query.where(c.provider == provider)
    async with engine.connect() as conn:
        return [_run(row, with_rows=False) for row in (await conn.execute(query)).all()]


async def get_run(engine: AsyncEngine, run_id: str) -> dict[str, Any] | None:
    """One run with its rows, or ``None``."""
    query = sa.select(reconcile_runs).where(reconcile_runs.c.id == run_id)
    async with engine.connect() as conn:
        row = (await conn.execute(query)).first()
    return None if row is None else _run(row, with_rows=True)
