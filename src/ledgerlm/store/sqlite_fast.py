"""SQLite fast path for ``ingest``: rows and tag rows go in through the driver's ``executemany``.

SQLAlchemy's typed multi-row ``INSERT`` costs tens of microseconds per row in Python; here each row is
converted once into the exact values SQLAlchemy would store (``Money`` as integer 1e-10 USD,
``UTCDateTime`` as naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` text, JSON as text, booleans as 0/1), bulk
loaded into a temporary staging table, and moved with ``INSERT ... SELECT ... ON CONFLICT (request_id)
DO NOTHING RETURNING request_id``. Totals and daily aggregates stay in ``ingest`` (Python).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ledgerlm.store.coltypes import MONEY_SCALE, to_decimal
from ledgerlm.store.engine import json_dumps
from ledgerlm.store.tables import spend_logs

COLUMNS: tuple[str, ...] = tuple(column.name for column in spend_logs.c)
# named after the column list: a connection's temporary table made before a migration added a column
# is never reused with the new columns
STAGING = f"ledgerlm_spend_staging_{zlib.crc32(' '.join(COLUMNS).encode()):08x}"
_QUOTED = ", ".join(f'"{name}"' for name in COLUMNS)
_MARKS = ", ".join("?" for _ in COLUMNS)
_JSON = frozenset({"request_tags", "metadata", "messages", "response"})
_TIMES = frozenset({"startTime", "endTime", "completionStartTime"})
_CREATE_STAGING = f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} AS SELECT * FROM spend_logs WHERE 0"
_INSERT_TAGS = (
    'INSERT INTO spend_log_tags (request_id, tag, "startTime") VALUES (?, ?, ?) ON CONFLICT DO NOTHING'
)


_JSON_POSITIONS = tuple(index for index, name in enumerate(COLUMNS) if name in _JSON)
_TIME_POSITIONS = tuple(index for index, name in enumerate(COLUMNS) if name in _TIMES)
_SPEND = COLUMNS.index("spend")
_CACHE_HIT = COLUMNS.index("cache_hit")


def stored_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite ``DATETIME`` stores for ``value`` (naive UTC, microseconds)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _record(row: Mapping[str, Any]) -> tuple[Any, ...]:
    values = [row[name] for name in COLUMNS]
    for index in _JSON_POSITIONS:
        if values[index] is not None:
            values[index] = json_dumps(values[index])
    for index in _TIME_POSITIONS:
        if values[index] is not None:
            values[index] = stored_time(values[index])
    if values[_SPEND] is not None:
        values[_SPEND] = int(to_decimal(values[_SPEND]).scaleb(MONEY_SCALE))
    values[_CACHE_HIT] = int(bool(values[_CACHE_HIT]))
    return tuple(values)


def records(params: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """Driver tuples (column order ``COLUMNS``) for DB-form rows (``SpendLog.to_params``)."""
    return [_record(row) for row in params]


async def insert_rows(conn: AsyncConnection, rows: Sequence[tuple[Any, ...]]) -> set[str]:
    """Insert driver tuples into ``spend_logs``; the ``request_id``s actually inserted."""
    await conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} AS SELECT * FROM spend_logs WHERE 0"
    )
    await conn.exec_driver_sql(f"DELETE FROM {STAGING}")
    await conn.exec_driver_sql(f"INSERT INTO {STAGING} ({_QUOTED}) VALUES ({_MARKS})", list(rows))
    result = await conn.exec_driver_sql(
        f"INSERT INTO spend_logs ({_QUOTED}) SELECT {_QUOTED} FROM {STAGING} WHERE true "
        "ON CONFLICT (request_id) DO NOTHING RETURNING request_id"
    )
    inserted = {str(value) for value in result.scalars()}
    await conn.exec_driver_sql(f"DELETE FROM {STAGING}")
    return inserted


async def insert_tags(conn: AsyncConnection, triples: Iterable[tuple[str, str, datetime]]) -> None:
    """Insert ``(request_id, tag, startTime)`` rows of newly inserted spend rows."""
    values = [(request_id, tag, stored_time(start)) for request_id, tag, start in triples]
    if values:
        await conn.exec_driver_sql(_INSERT_TAGS, values)
