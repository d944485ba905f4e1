"""PostgreSQL fast path for ``ingest.write_rows``: one binary ``COPY`` and one SQL statement per batch.

0. The partitions of the batch's UTC days are created if missing (``store.partitions``).
1. The batch is copied (binary ``COPY``) into a per-connection temporary staging table
   (``ON COMMIT DELETE ROWS``).
2. One statement with data-modifying CTEs then does everything ``ingest`` does in Python on SQLite:
   ``INSERT INTO spend_log_ids ... ON CONFLICT (request_id) DO NOTHING RETURNING request_id`` (a request
   id unique across the daily partitions), ``INSERT INTO spend_logs ... SELECT`` the rows whose id was
   new (``ON CONFLICT (request_id, "startTime") DO NOTHING``) ``RETURNING ...``, and from
   the RETURNED (newly inserted) rows only: the ``spend_log_tags`` rows, the batch's rollup aggregate
   appended to ``rollup_deltas`` (one row per call signature and per tag; folded into the rollup
   tables in bulk, ``store.rollup_deltas``) and the entity ``spend`` totals, with the same attribution
   rules (``ingest.total_deltas``).

The aggregation runs inside PostgreSQL, so a batch costs two round trips whatever its size. Everything
runs in the caller's transaction. Concurrent writers may rarely deadlock on the same totals rows; the
transaction then fails as a whole and ``SpendWriter`` retries it (idempotent).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ledgerlm.record import ATTEMPT_MARK
from ledgerlm.store import partitions, rollup_deltas
from ledgerlm.store.engine import json_dumps
from ledgerlm.store.tables import TOKEN_COLUMNS, spend_logs

COLUMNS: tuple[str, ...] = tuple(column.name for column in spend_logs.c)
# named after the column list: a connection's temporary table made before a migration added a column
# is never reused with the new columns
STAGING = f"ledgerlm_spend_staging_{zlib.crc32(' '.join(COLUMNS).encode()):08x}"
_JSON = frozenset({"request_tags", "metadata", "messages", "response"})
_QUOTED = ", ".join(f'"{name}"' for name in COLUMNS)
_RETURNED = ", ".join(
    f'"{name}"'
    for name in COLUMNS
    if name not in ("metadata", "messages", "response", "api_base", "requester_ip_address", "call_uid")
)
# an earlier attempt of a routed request (ledgerlm.record.ATTEMPT_MARK) counts spend, not a request
# (computed once per row in the ``r`` CTE as ``is_req``, then read by every rollup)
_REQUEST = f"strpos(request_id, '{ATTEMPT_MARK}') = 0"
_SUMS = ", ".join(
    [
        "COALESCE(SUM(spend), 0)",
        "COUNT(*) FILTER (WHERE is_req)",
        "COUNT(*) FILTER (WHERE is_req AND status = 'success')",
        "COUNT(*) FILTER (WHERE is_req AND status = 'failure')",
        "COUNT(*) FILTER (WHERE is_req AND spend IS NULL)",
        *(f"COALESCE(SUM({name}), 0)" for name in TOKEN_COLUMNS),
    ]
)
# totals table, its key column, the source entity expression, extra condition
_TOTALS = (
    ("verification_tokens", "token", "r", "api_key", ""),
    ("teams", "team_id", "r", "team_id", ""),
    ("organizations", "organization_id", "r", "organization_id", ""),
    ("users", "user_id", "r", '"user"', " AND COALESCE(team_id, '') = ''"),
    ("tags", "tag_name", "t", "tag", ""),
)


_SIGNATURE = ", ".join(f'"{name}"' for name in rollup_deltas.SIGNATURE)
_SIGNATURE_OF_R = 'day, api_key, "user", team_id, end_user, m, custom_llm_provider'
_DELTAS = (
    f"d_rows AS (INSERT INTO rollup_deltas ({_SIGNATURE}, {', '.join(rollup_deltas.COUNTERS)}) "
    f"SELECT {_SIGNATURE_OF_R}, {_SUMS} FROM r GROUP BY {_SIGNATURE_OF_R})",
    f"d_tags AS (INSERT INTO rollup_deltas (date, tag, {', '.join(rollup_deltas.COUNTERS)}) "
    f"SELECT day, tag, {_SUMS} FROM t GROUP BY day, tag)",
)


def _total_cte(table: str, key: str, source: str, entity: str, extra: str) -> str:
    return (
        f"s_{table} AS (UPDATE {table} SET spend = {table}.spend + x.amount FROM ("
        f"SELECT {entity} AS id, SUM(spend) AS amount FROM {source} "
        f"WHERE spend IS NOT NULL AND COALESCE({entity}, '') <> ''{extra} GROUP BY {entity}) x "
        f"WHERE {table}.{key} = x.id)"
    )


def build_statement(rollups: bool = True) -> str:
    """The ingest statement; ``rollups=False`` (benchmarks only) leaves out the rollup deltas, to
    measure what the rollups cost the writer."""
    ctes = [
        # a request id is unique across the daily partitions through spend_log_ids (migration 0017)
        f'ids AS (INSERT INTO spend_log_ids (request_id, "startTime") SELECT request_id, "startTime" '
        f"FROM {STAGING} ON CONFLICT (request_id) DO NOTHING RETURNING request_id)",
        f"ins AS (INSERT INTO spend_logs ({_QUOTED}) SELECT {_QUOTED} FROM {STAGING} "
        "WHERE request_id IN (SELECT request_id FROM ids) "
        f'ON CONFLICT (request_id, "startTime") DO NOTHING RETURNING {_RETURNED})',
        "r AS (SELECT ins.*, (\"startTime\" AT TIME ZONE 'UTC')::date AS day, "
        "date_trunc('week', \"startTime\" AT TIME ZONE 'UTC')::date AS week, "
        f"COALESCE(NULLIF(model_group, ''), model) AS m, {_REQUEST} AS is_req FROM ins)",
        "t AS (SELECT r.*, tag FROM r CROSS JOIN LATERAL jsonb_array_elements_text(r.request_tags) AS tag)",
        'tag_rows AS (INSERT INTO spend_log_tags (request_id, tag, "startTime") '
        'SELECT request_id, tag, "startTime" FROM t)',
        *(_DELTAS if rollups else ()),
        *(_total_cte(*spec) for spec in _TOTALS),
        "s_end_users AS (INSERT INTO end_users (user_id, spend) "
        "SELECT end_user, SUM(spend) FROM r WHERE spend IS NOT NULL AND COALESCE(end_user, '') <> '' "
        "GROUP BY end_user ORDER BY end_user "
        "ON CONFLICT (user_id) DO UPDATE SET spend = end_users.spend + EXCLUDED.spend)",
    ]
    return "WITH " + ",\n".join(ctes) + "\nSELECT request_id FROM ins"


INGEST_SQL = build_statement()
NO_ROLLUPS_SQL = build_statement(rollups=False)  # benchmarks only: the writer without rollups


_START = COLUMNS.index("startTime")
_JSON_POSITIONS = tuple(index for index, name in enumerate(COLUMNS) if name in _JSON)


def _record(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """One COPY tuple: JSON columns serialized (``spend`` is already an exact ``Decimal``)."""
    values = [row[name] for name in COLUMNS]
    for index in _JSON_POSITIONS:
        if values[index] is not None:
            values[index] = json_dumps(values[index])
    return tuple(values)


def records(params: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """COPY tuples (column order ``COLUMNS``) for DB-form rows (``SpendLog.to_params``): JSON columns
    as text, ``spend`` as the exact ``Decimal`` quantized by ``to_params``."""
    return [_record(row) for row in params]


async def ingest(
    conn: AsyncConnection, copy_records: Sequence[tuple[Any, ...]], ingest_sql: str = INGEST_SQL
) -> list[str]:
    """Write ``copy_records`` (see ``records``; unique request ids) with tags, daily aggregates and
    totals; returns the request ids actually inserted. ``ingest_sql``: ``build_statement(...)``."""
    # Through SQLAlchemy first: this also opens the caller's transaction on the driver connection,
    # which the temporary table (ON COMMIT DELETE ROWS) and the COPY below must run inside.
    await conn.exec_driver_sql(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} "
        "(LIKE spend_logs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    await partitions.ensure_days(conn, {record[_START].astimezone(UTC).date() for record in copy_records})
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg.Connection
    await driver.copy_records_to_table(STAGING, records=list(copy_records), columns=list(COLUMNS))
    result = await conn.exec_driver_sql(ingest_sql)
    inserted = [str(value) for value in result.scalars()]
    await conn.exec_driver_sql(f"DELETE FROM {STAGING}")
    return inserted
