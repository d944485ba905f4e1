"""The tag reports served by the proxy and the CLI (database in, JSON-ready dicts out; money ``Decimal``).

* ``dimension_report``: the allocated spend of one dimension (``group_by=tag:<dimension>``): rows per
  value plus ``unallocated``, each with ``spend`` (exact) and ``spend_cents``; ``total`` equals the
  ``/global/spend/report`` total of the same range, and the rows sum to it (``adds_up``).
* ``drift_report``: ``{from, to, dimensions: [...], alerts: [...]}`` (``ledgerlm.tags.drift``).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store.spend_queries import LogFilter
from ledgerlm.tags import queries
from ledgerlm.tags.allocation import allocate, with_cents
from ledgerlm.tags.drift import dimension_drift, dimensions_in, untagged_alerts
from ledgerlm.tags.policy import Policies

__all__ = ["dimension_report", "drift_report"]

log = logging.getLogger("ledgerlm.tags")


async def dimension_report(
    engine: AsyncEngine,
    dimension: str,
    policies: Policies,
    filters: LogFilter,
) -> dict[str, Any]:
    """``{"group_by": "tag:D", "dimension", "semantics": "allocated", "data": rows, "total": row,
    "adds_up": bool}`` over the calls ``filters`` selects (dates, the caller's scope)."""
    calls = await queries.call_tags(engine, filters)
    policy = policies.get(dimension)
    rows = allocate(calls, dimension, policy.weight if policy is not None else None)
    total = await queries.global_total(engine, filters)
    allocated = sum((row["spend"] for row in rows), Decimal(0))
    total["spend_cents"] = with_cents(rows, total["spend"])
    if allocated != total["spend"]:  # the rollups and the rows disagree: say so, never hide it
        log.warning(
            "tag allocation of %r: rows sum to %s, global total %s", dimension, allocated, total["spend"]
        )
    return {
        "group_by": f"tag:{dimension}",
        "dimension": dimension,
        "semantics": "allocated",
        "data": rows,
        "total": {"group": "total", **total},
        "adds_up": allocated == total["spend"],
    }


async def drift_report(
    engine: AsyncEngine,
    policies: Policies,
    filters: LogFilter,
    *,
    dimension: str | None = None,
    threshold: Decimal = Decimal("0.2"),
) -> dict[str, Any]:
    """The drift report of the calls ``filters`` selects (one dimension, or every governed and seen one);
    an untagged share above ``threshold`` is logged as a warning and listed in ``alerts``."""
    start, end = filters.start, filters.end
    calls = await queries.call_tags(engine, filters)
    dims = [dimension] if dimension else dimensions_in(calls, policies)
    earlier = await queries.earlier_values(engine, start, dims)
    entries = [dimension_drift(calls, d, earlier[d], policies) for d in dims]
    alerts = untagged_alerts(entries, threshold)
    for alert in alerts:
        log.warning(
            "tag drift alert: dimension %r untagged share %s above %s",
            alert["dimension"],
            alert["untagged_share"],
            threshold,
        )
    return {
        "from": start.isoformat() if start else None,
        "to": end.isoformat() if end else None,
        "dimensions": entries,
        "alerts": alerts,
    }
