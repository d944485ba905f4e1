"""Internal users (``users``, LiteLLM ``/user/new``): ``user_alias``, ``user_email``, ``user_role``
(``proxy_admin``, ``internal_user``, ...), ``organization_id``, ``models``, ``teams`` (list of team ids),
``max_budget``/``soft_budget`` (USD), ``budget_duration``, ``budget_reset_at``, rate limits, ``metadata``.
``password_hash`` (``/login`` with a username and password; migration 0011) is never returned
by these functions: only ``login_row`` reads it. ``spend`` (USD) is the user's PERSONAL spend
(issue 7 item 6): calls made with the user's keys that belong to no team. Team-key calls count
toward the team and the key instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import _crud
from ledgerlm.store._crud import Row
from ledgerlm.store.tables import users


async def create_user(engine: AsyncEngine, user_id: str, fields: Mapping[str, Any] | None = None) -> Row:
    """Create user ``user_id`` with ``fields`` (see module docstring); returns the stored row.

    Raises ``ValueError`` for an unknown field, ``AlreadyExistsError`` when it exists.
    """
    return _public(await _crud.create(engine, users, {**(fields or {}), "user_id": user_id}))


def _public(row: Row) -> Row:
    """The row without its password hash."""
    row.pop("password_hash", None)
    return row


def _maybe(row: Row | None) -> Row | None:
    return None if row is None else _public(row)


async def login_row(engine: AsyncEngine, name: str) -> Row | None:
    """``{user_id, user_role, password_hash}`` of the user whose ``user_id`` or ``user_email`` is
    ``name`` (the id wins), or ``None``. The only reader of ``password_hash``."""
    columns = (users.c.user_id, users.c.user_role, users.c.password_hash)
    statement = sa.select(*columns).where(sa.or_(users.c.user_id == name, users.c.user_email == name))
    async with engine.connect() as conn:
        rows = [dict(row) for row in (await conn.execute(statement.limit(2))).mappings()]
    rows.sort(key=lambda row: row["user_id"] != name)
    return rows[0] if rows else None


async def get_user(engine: AsyncEngine, user_id: str) -> Row | None:
    """The user row, or ``None``."""
    return _maybe(await _crud.get(engine, users, user_id))


async def get_users(engine: AsyncEngine, ids: list[str]) -> dict[str, Row]:
    """The user rows for ``ids``, keyed by id (unknown ids absent)."""
    return {key: _public(row) for key, row in (await _crud.get_many(engine, users, ids)).items()}


async def update_user(engine: AsyncEngine, user_id: str, changes: Mapping[str, Any]) -> Row | None:
    """Apply ``changes`` and return the row, or ``None`` when it does not exist."""
    return _maybe(await _crud.update(engine, users, user_id, changes))


async def delete_user(engine: AsyncEngine, user_id: str) -> bool:
    """Delete the user; ``True`` when it existed. Spend log rows and daily aggregates are kept."""
    return await _crud.delete(engine, users, user_id)


async def list_users(
    engine: AsyncEngine,
    *,
    user_email: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    """User rows, oldest first, paginated."""
    rows = await _crud.list_rows(engine, users, where={"user_email": user_email}, limit=limit, offset=offset)
    return [_public(row) for row in rows]
