"""End users / customers (``end_users``, LiteLLM ``/customer/new``), identified by the request's
``user`` field or the ``x-litellm-end-user-id`` header: ``alias``, ``max_budget``/``soft_budget`` (USD),
``budget_duration``, ``budget_reset_at``, ``allowed_model_region``, ``default_model``, ``blocked``,
``metadata``. ``spend`` (USD) counts every call made for the end user, whichever key carried it; the
spend writer creates the row on an end user's first call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import _crud
from ledgerlm.store._crud import Row
from ledgerlm.store.tables import end_users


async def create_customer(engine: AsyncEngine, user_id: str, fields: Mapping[str, Any] | None = None) -> Row:
    """Create customer ``user_id`` with ``fields`` (see module docstring); returns the stored row.

    Raises ``ValueError`` for an unknown field, ``AlreadyExistsError`` when it exists.
    """
    return await _crud.create(engine, end_users, {**(fields or {}), "user_id": user_id})


async def get_customer(engine: AsyncEngine, user_id: str) -> Row | None:
    """The customer row, or ``None``."""
    return await _crud.get(engine, end_users, user_id)


async def get_customers(engine: AsyncEngine, ids: list[str]) -> dict[str, Row]:
    """The customer rows for ``ids``, keyed by id (unknown ids absent)."""
    return await _crud.get_many(engine, end_users, ids)


async def update_customer(engine: AsyncEngine, user_id: str, changes: Mapping[str, Any]) -> Row | None:
    """Apply ``changes`` and return the row, or ``None`` when it does not exist."""
    return await _crud.update(engine, end_users, user_id, changes)


async def delete_customer(engine: AsyncEngine, user_id: str) -> bool:
    """Delete the customer; ``True`` when it existed. Spend log rows and daily aggregates are kept."""
    return await _crud.delete(engine, end_users, user_id)


async def list_customers(
    engine: AsyncEngine,
    *,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    """Customer rows, oldest first, paginated."""
    return await _crud.list_rows(engine, end_users, where={}, limit=limit, offset=offset)
