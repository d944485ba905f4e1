"""Organizations (``organizations``, minimal): ``organization_alias``, ``models``, budget and rate
fields, ``metadata``. ``spend`` (USD) counts every call whose key or team belongs to the organization.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import _crud
from ledgerlm.store._crud import Row
from ledgerlm.store.tables import organizations


async def create_organization(
    engine: AsyncEngine, organization_id: str, fields: Mapping[str, Any] | None = None
) -> Row:
    """Create organization ``organization_id`` with ``fields`` (see module docstring); returns the stored row.

    Raises ``ValueError`` for an unknown field, ``AlreadyExistsError`` when it exists.
    """
    return await _crud.create(engine, organizations, {**(fields or {}), "organization_id": organization_id})


async def get_organization(engine: AsyncEngine, organization_id: str) -> Row | None:
    """The organization row, or ``None``."""
    return await _crud.get(engine, organizations, organization_id)


async def get_organizations(engine: AsyncEngine, ids: list[str]) -> dict[str, Row]:
    """The organization rows for ``ids``, keyed by id (unknown ids absent)."""
    return await _crud.get_many(engine, organizations, ids)


async def update_organization(
    engine: AsyncEngine, organization_id: str, changes: Mapping[str, Any]
) -> Row | None:
    """Apply ``changes`` and return the row, or ``None`` when it does not exist."""
    return await _crud.update(engine, organizations, organization_id, changes)


async def delete_organization(engine: AsyncEngine, organization_id: str) -> bool:
    """Delete the organization; ``True`` when it existed. Spend log rows and daily aggregates are kept."""
    return await _crud.delete(engine, organizations, organization_id)


async def list_organizations(
    engine: AsyncEngine,
    *,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    """Organization rows, oldest first, paginated."""
    return await _crud.list_rows(engine, organizations, where={}, limit=limit, offset=offset)
