"""Registered request tags (``tags``, LiteLLM ``/tag/new``): ``description``, ``models``,
``max_budget``/``soft_budget`` (USD), ``budget_duration``, ``budget_reset_at``, rate limits, ``metadata``.
``spend`` (USD) counts every call carrying the tag, from the moment the tag is registered; per-tag spend
of any tag, registered or not, is in ``daily_tag_totals`` (see ``spend_queries``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import _crud
from ledgerlm.store._crud import Row
from ledgerlm.store.tables import tags


async def create_tag(engine: AsyncEngine, tag_name: str, fields: Mapping[str, Any] | None = None) -> Row:
    """Create tag ``tag_name`` with ``fields`` (see module docstring); returns the stored row.

    Raises ``ValueError`` for an unknown field, ``AlreadyExistsError`` when it exists.
    """
    return await _crud.create(engine, tags, {**(fields or {}), "tag_name": tag_name})


async def get_tag(engine: AsyncEngine, tag_name: str) -> Row | None:
    """The tag row, or ``None``."""
    return await _crud.get(engine, tags, tag_name)


async def get_tags(engine: AsyncEngine, ids: list[str]) -> dict[str, Row]:
    """The tag rows for ``ids``, keyed by id (unknown ids absent)."""
    return await _crud.get_many(engine, tags, ids)


async def update_tag(engine: AsyncEngine, tag_name: str, changes: Mapping[str, Any]) -> Row | None:
    """Apply ``changes`` and return the row, or ``None`` when it does not exist."""
    return await _crud.update(engine, tags, tag_name, changes)


async def delete_tag(engine: AsyncEngine, tag_name: str) -> bool:
    """Delete the tag; ``True`` when it existed. Spend log rows and daily aggregates are kept."""
    return await _crud.delete(engine, tags, tag_name)


async def list_tags(
    engine: AsyncEngine,
    *,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    """Tag rows, oldest first, paginated."""
    return await _crud.list_rows(engine, tags, where={}, limit=limit, offset=offset)
