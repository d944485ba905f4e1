"""Write a batch of spend rows in ONE transaction: rows, tag index, entity totals, daily aggregates.

``await write_rows(conn, rows)`` is the only way spend enters the database:

1. ``INSERT INTO spend_logs ... ON CONFLICT (request_id) DO NOTHING RETURNING request_id`` (bulk
   loaded through a staging table: ``sqlite_fast``; PostgreSQL does all of it in SQL: ``pg_copy``);
2. for the returned (newly inserted) rows only: ``spend_log_tags`` rows, ``spend`` totals on keys,
   teams, organizations, users (personal spend: rows without a team, issue 7 item 6), end users
   (created on first use) and registered tags, and the daily aggregate upserts.

A replayed row is therefore never counted twice. A request id may still be reused by DIFFERENT calls
(a client's ``x-request-id``): each row carries its call's server-unique nonce ``call_uid``
(``SpendLog``), and a conflicting row whose nonce differs from the stored row's is written again as
``"<request id>~<call_uid[:12]>"`` with ``metadata.client_request_id`` (``_reused``; one extra query,
only when a batch conflicts). A row without a nonce (spooled before it existed) keeps the replay
semantics. The same call always lands on the same id, so its replays stay no-ops.

Updates are issued in sorted key order so concurrent writers (several proxy instances) cannot
deadlock each other.
"""

from __future__ import annotations

import decimal
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from ledgerlm.record import ATTEMPT_MARK
from ledgerlm.store import pg_copy, sqlite_fast, weekly
from ledgerlm.store.spend_log import SpendLog
from ledgerlm.store.tables import (
    ALL_DAILY_TABLES,
    COUNTER_COLUMNS,
    TOKEN_COLUMNS,
    end_users,
    organizations,
    spend_logs,
    tags,
    teams,
    users,
    verification_tokens,
)

_TOTAL_TARGETS: tuple[tuple[sa.Table, str], ...] = (
    (verification_tokens, "api_key"),
    (teams, "team_id"),
    (organizations, "organization_id"),
    (users, "user"),
    (tags, "tag"),
)


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    """The dialect's ``INSERT`` construct (it has ``on_conflict_do_nothing/update``)."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


_STATEMENTS: dict[tuple[str, str], Any] = {}
"""Upsert and update statements by ``(dialect, name)``, built once: a new construct per batch costs
its columns' proxies and a fresh cache key every time (issue 22: the writer's CPU per row)."""


def _statement(conn: AsyncConnection, name: str, build: Callable[[], Any]) -> Any:
    key = (conn.dialect.name, name)
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return statement


def _model(row: Mapping[str, Any]) -> str:
    return str(row.get("model_group") or row["model"])


_Signature = tuple[date, str, str | None, str | None, str | None, str | None, tuple[str, ...], str | None]


def _vector(row: Mapping[str, Any]) -> list[Any]:
    """``[spend, requests, successes, failures, unpriced, *tokens]`` of one row (``COUNTER_COLUMNS``)."""
    spend = row["spend"]
    status = row["status"]
    if ATTEMPT_MARK in str(row["request_id"]):  # an earlier attempt of a routed request: spend, no request
        return [spend or Decimal(0), 0, 0, 0, 0] + [int(row[name] or 0) for name in TOKEN_COLUMNS]
    head = [spend or Decimal(0), 1, int(status == "success"), int(status == "failure"), int(spend is None)]
    return head + [int(row[name] or 0) for name in TOKEN_COLUMNS]


def _add(target: dict[Any, list[Any]], key: Any, vector: list[Any]) -> None:
    current = target.get(key)
    target[key] = list(vector) if current is None else [a + b for a, b in zip(current, vector, strict=True)]


def _by_signature(rows: Iterable[Mapping[str, Any]]) -> dict[_Signature, list[Any]]:
    """Rows summed per (day, model, key, user, team, end user, tags): one vector per distinct caller."""
    groups: dict[_Signature, list[Any]] = {}
    for row in rows:
        signature = (
            row["startTime"].date(),
            _model(row),
            row["api_key"],
            row["user"],
            row["team_id"],
            row["end_user"],
            tuple(row["request_tags"]),
            row.get("custom_llm_provider"),
        )
        _add(groups, signature, _vector(row))
    return groups


def daily_deltas(
    rows: Iterable[Mapping[str, Any]], weeks_through: date | None
) -> dict[str, dict[tuple[date, str, str], dict[str, Any]]]:
    """Per daily-table kind (``ALL_DAILY_TABLES``), ``(date, entity, model) -> counters`` summed over
    ``rows`` (DB form).

    Empty entities count nowhere, except in the ``model`` rollup, which counts every row (the totals),
    also one without a model (``""``: it failed before routing); the third key part is ``""`` for the
    tables without a model split.
    The ISO-week kinds (``*_weekly``) get only the rows of weeks already built, Monday ``<=
    weeks_through`` (``store.weekly.built_through``; ``None``: none): later weeks are folded from the
    daily rows once they end.
    """
    sums: dict[str, dict[tuple[date, str, str], list[Any]]] = defaultdict(dict)
    for (day, model, key, user, team, end_user, labels, provider), vector in _by_signature(rows).items():
        targets = [
            ("key", key),
            ("user", user),
            ("team", team),
            ("end_user", end_user),
            ("provider", provider),
        ]
        for kind, entity in [*targets, *(("tag", tag) for tag in labels)]:
            if entity:
                if kind in ALL_DAILY_TABLES:  # the per-model splits (end users and tags have none)
                    _add(sums[kind], (day, entity, model), vector)
                if kind != "provider":  # the day x entity and ISO week x entity rollups
                    _add(sums[f"{kind}_totals"], (day, entity, ""), vector)
                    monday = day - timedelta(days=day.weekday())
                    if f"{kind}_weekly" in ALL_DAILY_TABLES and weeks_through and monday <= weeks_through:
                        _add(sums[f"{kind}_weekly"], (monday, entity, ""), vector)
        _add(sums["model"], (day, model, ""), vector)
    names = ("spend", *COUNTER_COLUMNS)
    return {
        kind: {key: dict(zip(names, vector, strict=True)) for key, vector in table.items()}
        for kind, table in sums.items()
    }


def total_deltas(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Decimal]]:
    """Per entity kind (``api_key``, ``team_id``, ``organization_id``, ``user``, ``end_user``, ``tag``),
    ``entity id -> USD`` to add to its ``spend`` total. Unpriced rows add nothing.

    Attribution (issue 7 item 6): ``user`` counts only rows WITHOUT a team (personal spend).
    """
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        spend = row["spend"]
        if spend is None:
            continue
        for kind in ("api_key", "team_id", "organization_id", "end_user"):
            if row[kind]:
                out[kind][row[kind]] += spend
        if row["user"] and not row["team_id"]:
            out["user"][row["user"]] += spend
        for tag in row["request_tags"]:
            out["tag"][tag] += spend
    return out


async def _update_totals(conn: AsyncConnection, deltas: Mapping[str, Mapping[str, Decimal]]) -> None:
    for table, kind in _TOTAL_TARGETS:
        pk = next(iter(table.primary_key.columns))
        amounts = deltas.get(kind, {})
        if not amounts:
            continue
        statement = _statement(conn, f"total:{table.name}", partial(_total_update, table, pk))
        await conn.execute(statement, [{"b_id": i, "b_amount": amounts[i]} for i in sorted(amounts)])
    customers = deltas.get("end_user", {})
    if customers:
        statement = _statement(conn, "total:end_users", partial(_end_user_upsert, conn))
        await conn.execute(statement, [{"user_id": i, "spend": customers[i]} for i in sorted(customers)])


def _total_update(table: sa.Table, pk: Any) -> Any:
    amount = sa.bindparam("b_amount", type_=table.c.spend.type)
    return table.update().where(pk == sa.bindparam("b_id")).values(spend=table.c.spend + amount)


def _end_user_upsert(conn: AsyncConnection) -> Any:
    insert = _insert(conn, end_users)
    return insert.on_conflict_do_update(
        index_elements=["user_id"], set_={"spend": end_users.c.spend + insert.excluded.spend}
    )


async def _upsert_daily(
    conn: AsyncConnection, kind: str, deltas: Mapping[tuple[date, str, str], Any]
) -> None:
    table = ALL_DAILY_TABLES[kind]
    key_names = [column.name for column in table.primary_key.columns]
    values = []
    for key in sorted(deltas):
        day, entity, model = key
        row = {"date": day, key_names[1]: entity, **deltas[key]}
        if "model" in key_names[2:]:
            row["model"] = model
        values.append(row)
    statement = _statement(conn, f"daily:{kind}", partial(_daily_upsert, conn, table, key_names))
    await conn.execute(statement, values)


def _daily_upsert(conn: AsyncConnection, table: sa.Table, key_names: list[str]) -> Any:
    insert = _insert(conn, table)
    changes = {name: table.c[name] + insert.excluded[name] for name in ("spend", *COUNTER_COLUMNS)}
    return insert.on_conflict_do_update(index_elements=key_names, set_=changes)


@dataclass
class Prepared:
    """A batch made ready for the database (CPU work only, so it can run off the event loop).

    ``params``: DB-form rows, one per request id; ``records``: the same rows as driver tuples for the
    batch's database (PostgreSQL COPY tuples or SQLite ``executemany`` tuples; ``None``: built when
    written); ``rejected``: ``(row, reason)`` for rows that cannot be written; ``reused``: rows of
    OTHER calls (another ``call_uid``) sharing a request id with a row in ``params`` (written after it).
    """

    params: list[dict[str, Any]]
    records: list[tuple[Any, ...]] | None = None
    rejected: list[tuple[Any, str]] = field(default_factory=list)
    reused: list[dict[str, Any]] = field(default_factory=list)


def prepare(rows: Iterable[Mapping[str, Any]], *, dialect: str) -> Prepared:
    """Validate and convert spool rows (``SpendLog.to_params``) for ``dialect``; never raises for a bad
    row (it lands in ``rejected``)."""
    unique: dict[str, dict[str, Any]] = {}
    rejected: list[tuple[Any, str]] = []
    reused: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        try:
            params = SpendLog.to_params(row)
        except (KeyError, ValueError, TypeError, decimal.InvalidOperation) as exc:
            rejected.append((row, f"{type(exc).__name__}: {exc}"))
            continue
        request_id = params["request_id"]
        first = unique.setdefault(request_id, params)
        if first is not params and _other_call(first["call_uid"], params["call_uid"]):
            reused[(request_id, params["call_uid"])] = params
        else:
            unique[request_id] = params
    batch = list(unique.values())
    return Prepared(batch, _driver_records(batch, dialect), rejected, list(reused.values()))


def _other_call(stored_uid: str | None, row_uid: str | None) -> bool:
    """Whether a row with nonce ``row_uid`` is a different call from the stored row (``stored_uid``):
    a row without a nonce is always taken as a replay."""
    return row_uid is not None and stored_uid != row_uid


def _driver_records(params: Sequence[Mapping[str, Any]], dialect: str) -> list[tuple[Any, ...]]:
    return pg_copy.records(params) if dialect == "postgresql" else sqlite_fast.records(params)


async def write_prepared(conn: AsyncConnection, prepared: Prepared) -> list[str]:
    """Insert a prepared batch with its tags, totals and daily aggregates in the caller's transaction;
    returns the request ids actually inserted. A replay (same request id and ``call_uid`` as a stored
    row) is skipped and counted nowhere; another call reusing a stored request id is inserted under
    ``"<request id>~<call_uid[:12]>"`` (see the module docstring)."""
    if not prepared.params:
        return []
    inserted = await _insert_unique(conn, prepared.params, prepared.records)
    done = set(inserted)
    leftover = [row for row in prepared.params if row["request_id"] not in done and row["call_uid"]]
    leftover += prepared.reused
    if leftover:
        renamed = await _reused(conn, leftover)
        if renamed:
            inserted += await _insert_unique(conn, renamed, None)
    return inserted


async def _reused(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` (not inserted: their request id is taken) that belong to OTHER calls than the stored
    rows, renamed ``"<request id>~<call_uid[:12]>"`` with ``metadata.client_request_id``."""
    ids = sorted({row["request_id"] for row in rows})
    query = sa.select(spend_logs.c.request_id, spend_logs.c.call_uid).where(spend_logs.c.request_id.in_(ids))
    stored = {request_id: uid for request_id, uid in (await conn.execute(query)).all()}
    renamed: dict[str, dict[str, Any]] = {}
    for row in rows:
        request_id = row["request_id"]
        if not _other_call(stored.get(request_id), row["call_uid"]):
            continue
        new_id = f"{request_id[:240]}~{row['call_uid'][:12]}"
        metadata = {**row["metadata"], "client_request_id": request_id}
        renamed[new_id] = {**row, "request_id": new_id, "metadata": metadata}
    return list(renamed.values())


async def _insert_unique(
    conn: AsyncConnection, params: list[dict[str, Any]], records: list[tuple[Any, ...]] | None
) -> list[str]:
    """Insert DB-form rows with unique request ids (and their tags, totals, daily aggregates);
    the ids actually inserted."""
    dialect = conn.dialect.name
    if records is None:
        records = _driver_records(params, dialect)
    if dialect == "postgresql":
        return await pg_copy.ingest(
            conn, records, pg_copy.INGEST_SQL if _rollups[0] else pg_copy.NO_ROLLUPS_SQL
        )
    inserted = await sqlite_fast.insert_rows(conn, records)
    fresh = [row for row in params if row["request_id"] in inserted]
    if not fresh:
        return []
    await sqlite_fast.insert_tags(
        conn, ((row["request_id"], tag, row["startTime"]) for row in fresh for tag in row["request_tags"])
    )
    await _update_totals(conn, total_deltas(fresh))
    # this transaction has written: it holds SQLite's write lock, so no weekly build runs until it ends
    through = await weekly.built_through(conn)
    for kind, deltas in sorted(daily_deltas(fresh, through).items()) if _rollups[0] else ():
        await _upsert_daily(conn, kind, deltas)
    return [row["request_id"] for row in fresh]


_rollups = [True]


def measure_without_rollups(off: bool) -> None:
    """BENCHMARKS ONLY (``benchmarks/spend_writer.py --rollups off``): ``True`` stops maintaining the
    daily rollups, to measure what they cost the writer. Never set in a running proxy: the rollups
    would stop matching the rows."""
    _rollups[0] = not off


async def write_rows(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Insert spool rows (``SpendLog.from_record`` form) with their totals and aggregates; returns the
    request ids actually inserted.

    Runs inside the caller's transaction (``async with engine.begin() as conn``). Raises ``ValueError``
    for a malformed row and SQLAlchemy errors for database failures.
    """
    prepared = prepare(rows, dialect=conn.dialect.name)
    if prepared.rejected:
        raise ValueError(f"malformed spend row: {prepared.rejected[0][1]}")
    return await write_prepared(conn, prepared)
