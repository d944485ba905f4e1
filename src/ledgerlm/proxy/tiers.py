"""Budget tiers applied to their holders: a key, user or end user created or updated with ``budget_id``
takes the tier's limits (``TIER_FIELDS``) wherever the body sets none, copied onto its row (admission
reads the row; ``/budget/update`` copies changes to every holder, ``ledgerlm.proxy.entities.budgets``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledgerlm.budgets.durations import with_reset_time
from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.state import ProxyState
from ledgerlm.store import _crud, tables

__all__ = ["TIER_FIELDS", "apply_tier", "get_tier"]

TIER_FIELDS = (
    "max_budget",
    "soft_budget",
    "budget_duration",
    "tpm_limit",
    "rpm_limit",
    "max_parallel_requests",
)


async def get_tier(state: ProxyState, budget_id: str) -> dict[str, Any]:
    """The tier row, or a 400 naming ``budget_id`` (used where a body references a tier)."""
    row = await _crud.get(state.store.engine, tables.budgets, budget_id)
    if row is None:
        raise BadRequestError(
            f"budget {budget_id!r} does not exist", param="budget_id", code="budget_not_found"
        )
    return row


async def apply_tier(state: ProxyState, table: sa.Table, fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` with the limits of ``fields["budget_id"]`` filled in where the caller set none."""
    budget_id = fields.get("budget_id")
    if not budget_id:
        return fields
    tier = await get_tier(state, budget_id)
    out = dict(fields)
    for name in TIER_FIELDS:
        if name in table.c and out.get(name) is None and tier.get(name) is not None:
            out[name] = tier[name]
            if name == "budget_duration":
                with_reset_time(out)
    return out
