"""Pending rollup deltas (PostgreSQL; issue 21): the writer's share of the rollups, folded in bulk.

Keeping ten rollup tables by one upsert per distinct entity and batch made the rollups cost the spend
writer about as much as the rows themselves. So on PostgreSQL the writer's statement
(``store.pg_copy``) inserts, in the SAME transaction as the spend rows, only its batch's aggregate into
``rollup_deltas`` (migration 0018), a table without an index or a key:

* one row per distinct call signature ``(date, api_key, user, team_id, end_user, model,
  custom_llm_provider)``, ``tag`` NULL, with the counters summed (``model``: the model group, else the
  model, as in every rollup);
* one row per ``(date, tag)`` (the other entity columns NULL).

``fold`` then moves ALL pending deltas into the rollup tables in one transaction (``DELETE ...
RETURNING`` feeding one ``INSERT ... ON CONFLICT DO UPDATE`` per rollup), so each distinct entity costs
one upsert per fold instead of one per batch; ``SpendWriter`` folds every ``FOLD_ROWS`` rows or
``FOLD_S`` seconds and whenever its spool is drained. Readers never wait for it: ``readable(table)`` is
the rollup table ``UNION ALL`` the pending deltas projected onto it, so totals ALWAYS equal the rows,
folded or not. One fold runs at a time (a transaction advisory lock; a writer finding it taken tries
again later), and what else upserts the rollups (ledger adjustments) waits for it (``lock_folds``).

SQLite (one writer, small installs) keeps upserting the rollups directly; its ``rollup_deltas`` stays
empty, and reading it costs nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledgerlm.store import weekly
from ledgerlm.store.tables import ALL_DAILY_TABLES, COUNTER_COLUMNS, rollup_deltas

__all__ = [
    "COUNTERS",
    "FOLD_LOCK_ID",
    "FOLD_ROWS",
    "FOLD_S",
    "FOLD_SQL",
    "SIGNATURE",
    "fold",
    "fold_in",
    "fold_statement",
    "lock_folds",
    "readable",
    "upsert_ctes",
]

FOLD_ROWS = 20_000
"""Spend rows written by a ``SpendWriter`` after which it folds. Larger folds cost less per row (an
entity costs one upsert per fold), but readers add up to that many pending deltas; measured in
docs/dashboard.md ("Spend writer: rollups on vs off")."""
FOLD_LOCK_ID = 0x6C6C6D66  # "llmf": one fold at a time (pg_try_advisory_xact_lock)
FOLD_S = 2.0
"""Seconds after which a ``SpendWriter`` with rows written since its last fold folds."""

SIGNATURE: tuple[str, ...] = (
    "date",
    "api_key",
    "user",
    "team_id",
    "end_user",
    "model",
    "custom_llm_provider",
)
COUNTERS: tuple[str, ...] = ("spend", *COUNTER_COLUMNS)
"""What every rollup and delta row sums: USD ``spend``, then the request and token counters."""
# rollup kind -> (the source CTE of the fold: ``k`` the deltas summed per day x key x user x team x
# model x provider (the end user left out: it is the column that makes most signatures distinct), ``r``
# the deltas themselves, ``t`` the tag rows; the entity column)
_SOURCES = {
    "key": ("k", "api_key"),
    "user": ("k", '"user"'),
    "team": ("k", "team_id"),
    "model": ("k", "m"),
    "provider": ("k", "custom_llm_provider"),
    "key_totals": ("k", "api_key"),
    "user_totals": ("k", '"user"'),
    "team_totals": ("k", "team_id"),
    "end_user_totals": ("r", "end_user"),
    "tag_totals": ("t", "tag"),
    "key_weekly": ("late_k", "api_key"),
    "user_weekly": ("late_k", '"user"'),
    "end_user_weekly": ("late", "end_user"),
}


_K = 'day, week, api_key, "user", team_id, m, custom_llm_provider'


def upsert_ctes(sums: str) -> list[str]:
    """One ``d_<kind> AS (INSERT ... ON CONFLICT DO UPDATE)`` CTE per rollup, reading CTEs ``r``
    (columns ``day``, ``week``, ``m`` and the signature's), ``k`` (``r`` summed without the end user) and
    ``t`` (``day``, ``tag``), and ``late`` / ``late_k`` (the rows of ``r`` / ``k`` of weeks already
    built, for the weekly rollups; ``store.weekly``), with ``sums`` (the ``COUNTERS`` aggregates)."""
    return [_upsert_cte(kind, sums) for kind in ALL_DAILY_TABLES]


def _upsert_cte(kind: str, sums: str) -> str:
    table = ALL_DAILY_TABLES[kind]
    keys = [column.name for column in table.primary_key.columns]
    source, entity = _SOURCES[kind]
    period = "week" if kind.endswith("_weekly") else "day"
    group = [period, entity, "m"] if "model" in keys and kind != "model" else [period, entity]
    updates = ", ".join(f"{name} = {table.name}.{name} + EXCLUDED.{name}" for name in COUNTERS)
    # every call counts in the model rollup (the overview's totals), also one without a model ("": it
    # failed before routing), as on SQLite (``ingest.daily_deltas``); other empty entities count nowhere
    present = "TRUE" if kind == "model" else f"COALESCE({entity}, '') <> ''"
    return (
        f"d_{kind} AS (INSERT INTO {table.name} ({', '.join(keys)}, {', '.join(COUNTERS)}) "
        f"SELECT {', '.join(group)}, {sums} FROM {source} WHERE {present} "
        f"GROUP BY {', '.join(group)} "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates})"
    )


def fold_statement() -> str:
    """The fold: delete every pending delta and add it to every rollup; returns one row, the count."""
    sums = ", ".join(f"COALESCE(SUM({name}), 0)" for name in COUNTERS)
    named = ", ".join(f"COALESCE(SUM({name}), 0) AS {name}" for name in COUNTERS)
    ctes = [
        "pending AS (DELETE FROM rollup_deltas RETURNING *)",
        "r AS (SELECT pending.*, date AS day, date_trunc('week', date)::date AS week, model AS m "
        "FROM pending WHERE tag IS NULL)",
        "t AS (SELECT pending.*, date AS day FROM pending WHERE tag IS NOT NULL)",
        f"k AS (SELECT {_K}, {named} FROM r GROUP BY {_K})",
        # the weekly rollups take only the deltas of weeks already built (late rows; store.weekly)
        f"late AS (SELECT * FROM r WHERE week <= {weekly.THROUGH_SQL})",
        f"late_k AS (SELECT * FROM k WHERE week <= {weekly.THROUGH_SQL})",
        *upsert_ctes(sums),
    ]
    return "WITH " + ",\n".join(ctes) + "\nSELECT COUNT(*) FROM pending"


FOLD_SQL = fold_statement()


async def fold_in(conn: AsyncConnection) -> int | None:
    """Fold inside the caller's transaction (PostgreSQL; SQLite: nothing to fold); the deltas folded,
    ``None`` when another fold was running (it, or the next one, takes them)."""
    if conn.dialect.name != "postgresql":
        return 0
    if not await conn.scalar(sa.text(f"SELECT pg_try_advisory_xact_lock({FOLD_LOCK_ID})")):
        return None  # another fold runs (another instance)
    await weekly.lock_shared(conn)  # a weekly build waits for this fold (it adds to built weeks)
    # The planner cannot know how many deltas are pending (it estimates a CTE at a few dozen rows) and
    # would sort them all once per rollup: hash them instead (folds never run two at a time, so the
    # upserts need no common row order against deadlocks).
    await conn.exec_driver_sql("SET LOCAL enable_sort = off")
    return int((await conn.exec_driver_sql(FOLD_SQL)).scalar_one())


async def lock_folds(conn: AsyncConnection) -> None:
    """PostgreSQL: wait for a fold in flight and keep folds out until this transaction ends (for
    whatever else upserts the rollup tables, e.g. ledger adjustments: no deadlock with a fold)."""
    if conn.dialect.name == "postgresql":
        await conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({FOLD_LOCK_ID})")


async def fold(engine: AsyncEngine) -> int | None:
    """Fold every pending delta into the rollups in one transaction; the deltas folded, ``None`` when
    another fold was running."""
    if engine.dialect.name != "postgresql":
        return 0
    async with engine.begin() as conn:
        folded = await fold_in(conn)
    if folded:  # a queue: its dead rows would slow every reader's scan until autovacuum comes by
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("VACUUM rollup_deltas")
    return folded


# -- reading -----------------------------------------------------------------------------------------

_ENTITY_SOURCE = {"user_id": "user", "api_key": "api_key", "team_id": "team_id", "end_user": "end_user"}
_ENTITY_SOURCE |= {"tag": "tag", "model": "model", "custom_llm_provider": "custom_llm_provider"}


def readable(table: sa.Table) -> Any:
    """``table`` (a daily or weekly rollup) ``UNION ALL`` the pending deltas projected onto it: a
    subquery with the table's column names (``date``, the entity, ``model`` when it has one, the
    counters). A delta keeps its day: the weekly tables' readers select whole weeks by day range."""
    keys = [column.name for column in table.primary_key.columns]
    d = rollup_deltas.c
    projected = [d.date.label("date"), *(d[_ENTITY_SOURCE[name]].label(name) for name in keys[1:])]
    entity = d[_ENTITY_SOURCE[keys[1]]]
    tagged = d.tag.is_not(None) if keys[1] == "tag" else d.tag.is_(None)
    present = sa.true() if keys[1] == "model" else sa.func.coalesce(entity, "") != ""  # as the fold
    pending = sa.select(*projected, *(d[name] for name in COUNTERS)).where(tagged, present)
    own = sa.select(*(table.c[name] for name in (*keys, *COUNTERS)))
    return sa.union_all(own, pending).subquery(f"{table.name}_view")
