"""Teams (``teams``, LiteLLM ``/team/new``): ``team_alias``, ``organization_id``, ``models``,
``tags`` (request tags added to every call of the team's keys), ``members`` (list of
``{"user_id", "role"}``), ``metadata`` (dict; ``metadata["tags"]`` also accepted by the proxy),
``max_budget``/``soft_budget`` (USD), ``budget_duration``, ``budget_reset_at``, ``tpm_limit``,
``rpm_limit``, ``max_parallel_requests``, ``blocked``. ``spend`` (USD) is maintained by the spend writer:
every call made with a key of the team.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import _crud
from ledgerlm.store._crud import Row
from ledgerlm.store.tables import teams


async def create_team(engine: AsyncEngine, team_id: str, fields: Mapping[str, Any] | None = None) -> Row:
    """Create team ``team_id`` with ``fields`` (see module docstring); returns the stored row.

    Raises ``ValueError`` for an unknown field, ``AlreadyExistsError`` when it exists.
    """
    return await _crud.create(engine, teams, {**(fields or {}), "team_id": team_id})


async def get_team(engine: AsyncEngine, team_id: str) -> Row | None:
    """The team row, or ``None``."""
    return await _crud.get(engine, teams, team_id)


async def get_teams(engine: AsyncEngine, ids: list[str]) -> dict[str, Row]:
    """The team rows for ``ids``, keyed by id (unknown ids absent)."""
    return await _crud.get_many(engine, teams, ids)


async def update_team(engine: AsyncEngine, team_id: str, changes: Mapping[str, Any]) -> Row | None:
    """Apply ``changes`` and return the row, or ``None`` when it does not exist."""
    return await _crud.update(engine, teams, team_id, changes)


async def delete_team(engine: AsyncEngine, team_id: str) -> bool:
    """Delete the team; ``True`` when it existed. Spend log rows and daily aggregates are kept."""
    return await _crud.delete(engine, teams, team_id)


async def list_teams(
    engine: AsyncEngine,
    *,
    organization_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    """Team rows, oldest first, paginated."""
    return await _crud.list_rows(
        engine, teams, where={"organization_id": organization_id}, limit=limit, offset=offset
    )
