"""Generic create/get/update/delete/list on one management table (keys, teams, users, ...).

Rows go in and come out as plain ``dict``s keyed by column name: money as ``Decimal`` USD, times as
aware UTC ``datetime``, JSON columns as Python lists/dicts. Unknown field names raise ``ValueError``
(the caller maps it to HTTP 400); ``spend`` and the timestamps are managed here, not by callers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

Row = dict[str, Any]

MANAGED = frozenset({"spend", "created_at", "updated_at"})


class AlreadyExistsError(ValueError):
    """A row with this primary key exists already."""


def _primary(table: sa.Table) -> sa.Column[Any]:
    (column,) = table.primary_key.columns
    return column


def check_fields(table: sa.Table, fields: Mapping[str, Any], *, allow_managed: bool = False) -> None:
    """Raise ``ValueError`` naming any key of ``fields`` that is not a settable column of ``table``."""
    unknown = sorted(set(fields) - set(table.c.keys()))
    if unknown:
        raise ValueError(f"unknown field(s) for {table.name}: {', '.join(unknown)}")
    managed = sorted(set(fields) & MANAGED)
    if managed and not allow_managed:
        raise ValueError(f"field(s) managed by ledgerlm, not settable: {', '.join(managed)}")


async def create(engine: AsyncEngine, table: sa.Table, fields: Mapping[str, Any]) -> Row:
    """Insert one row and return it as stored. Raises ``AlreadyExistsError`` on a duplicate id."""
    check_fields(table, fields)
    now = datetime.now(UTC)
    values = {**fields, "created_at": now, "updated_at": now}
    try:
        async with engine.begin() as conn:
            result = await conn.execute(table.insert().values(values).returning(*table.c))
            return dict(result.mappings().one())
    except IntegrityError as exc:
        ident = fields.get(_primary(table).name)
        raise AlreadyExistsError(f"{table.name} {ident!r} exists already") from exc


async def get(engine: AsyncEngine, table: sa.Table, ident: str) -> Row | None:
    """The row whose primary key is ``ident``, or ``None``."""
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(table).where(_primary(table) == ident))
        row = result.mappings().first()
    return None if row is None else dict(row)


async def update(engine: AsyncEngine, table: sa.Table, ident: str, changes: Mapping[str, Any]) -> Row | None:
    """Apply ``changes`` to the row ``ident`` and return it, or ``None`` when it does not exist."""
    check_fields(table, changes)
    if _primary(table).name in changes:
        raise ValueError(f"the id of a {table.name} row cannot change")
    values = {**changes, "updated_at": datetime.now(UTC)}
    statement = table.update().where(_primary(table) == ident).values(values).returning(*table.c)
    async with engine.begin() as conn:
        row = (await conn.execute(statement)).mappings().first()
    return None if row is None else dict(row)


async def delete(engine: AsyncEngine, table: sa.Table, ident: str) -> bool:
    """Delete the row ``ident``; ``True`` when a row was deleted."""
    async with engine.begin() as conn:
        result = await conn.execute(table.delete().where(_primary(table) == ident))
    return bool(result.rowcount)


async def list_rows(
    engine: AsyncEngine,
    table: sa.Table,
    *,
    where: Mapping[str, Any] | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Row]:
    """Rows matching every ``column == value`` in ``where`` (``None`` values ignored), oldest first."""
    statement = sa.select(table)
    for name, value in (where or {}).items():
        if value is not None:
            statement = statement.where(table.c[name] == value)
    statement = statement.order_by(table.c.created_at, _primary(table)).limit(limit).offset(offset)
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(statement)).mappings()]


async def get_many(engine: AsyncEngine, table: sa.Table, idents: Sequence[str]) -> dict[str, Row]:
    """The rows whose ids are in ``idents``, keyed by id (missing ids are absent)."""
    if not idents:
        return {}
    column = _primary(table)
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(table).where(column.in_(list(idents))))
        return {row[column.name]: dict(row) for row in result.mappings()}
