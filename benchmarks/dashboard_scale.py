"""Dashboard at scale: N spend rows in PostgreSQL, p95 of every query behind the overview and logs pages,
and the spend writer's throughput with the rollups on vs off.

Run: ``.venv/bin/python benchmarks/dashboard_scale.py [--rows 10000000] [--quick]`` (``--quick``: 100,000
rows). It creates a scratch database ``ledgerlm_bench_<hex>`` on the machine's PostgreSQL
(``--database-url``), migrates it and generates the rows in SQL (``generate_series``): 2,000 keys in 100
teams, 1,000 users, 5,000 end users, 12 models on 3 providers, 20 tags, 2 % unpriced, 1 % failures,
spread over ``--days`` (90) UTC days; then every daily rollup with ``INSERT ... SELECT ... GROUP BY``
and the weekly ones of the ended weeks with the maintenance loop's own ``weekly.build_closed_weeks``.
Then it times (``--samples`` runs each, after one warm-up) the store calls the dashboard API makes
(``store.dashboard.overview`` per dimension for 30 days, as an admin and as a team admin;
``store.dashboard.log_page`` first page, each filter, the next page by cursor; ``log_row``), and the
writer path (``pg_copy.ingest``, batches of ``--writer-batch`` rows, plus a ``rollup_deltas.fold``
every ``FOLD_ROWS`` rows as ``SpendWriter`` does) with the rollups on and off, alternating, for two
entity mixes (``--writer-mix``: ``zipf``, ``worst``; see ``_pick``).
The database is dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ledgerlm.store import dashboard, partitions, pg_copy, rollup_deltas, weekly
from ledgerlm.store.migrate import migrate_async
from ledgerlm.store.spend_log import SpendLog
from ledgerlm.store.spend_queries import LogFilter
from ledgerlm.store.tables import COUNTER_COLUMNS, TOKEN_COLUMNS, rollup_watermarks

BASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
LOAD_BATCH = 1_000_000
KEYS, TEAMS, USERS, END_USERS, MODELS, TAGS = 2000, 100, 1000, 5000, 12, 20
PROVIDERS = ("openai", "anthropic", "gemini")
RUN = uuid.uuid4().hex[:10]

_ROWS_SQL = """
INSERT INTO spend_logs (request_id, call_type, api_key, spend, prompt_tokens, completion_tokens, total_tokens,
  cache_read_input_tokens, cache_creation_input_tokens, reasoning_tokens, "startTime", "endTime", model,
  model_group, custom_llm_provider, "user", team_id, end_user, request_tags, metadata, cache_hit, status,
  call_uid)
SELECT 'bench-' || g, 'acompletion', encode(sha256(('key-' || (g % {keys}))::bytea), 'hex'),
  CASE WHEN g % 50 = 0 THEN NULL ELSE round(((g % 997) + 1) * 0.0000123, 10) END,
  100 + g % 900, 10 + g % 300, 110 + g % 900 + g % 300, g % 50, 0, g % 7,
  ts, ts + interval '800 milliseconds', 'model-' || (g % {models}), 'group-' || (g % {models}),
  (ARRAY['openai','anthropic','gemini'])[1 + (g % {models}) % 3], 'user-' || (g % {users}),
  'team-' || ((g % {keys}) % {teams}), 'eu-' || (g % {end_users}),
  jsonb_build_array('app:' || (g % {tags})), '{{}}'::json, false,
  CASE WHEN g % 100 = 7 THEN 'failure' ELSE 'success' END, md5(g::text)
FROM (SELECT g, TIMESTAMPTZ '{end}' - (g::double precision * {span} / {rows}) * interval '1 second' AS ts
      FROM generate_series({lo}, {hi}) AS g) AS s
"""


def _fresh_database(base_url: str) -> tuple[str, str]:
    import psycopg

    name = f"ledgerlm_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name, name


def _drop_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _async_url(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


async def _entities(engine: AsyncEngine) -> None:
    """Keys (in teams) and teams, so team-admin scopes and labels resolve."""
    async with engine.begin() as conn:
        await conn.exec_driver_sql(
            f"INSERT INTO teams (team_id, team_alias) SELECT 'team-' || t, 'Team ' || t "
            f"FROM generate_series(0, {TEAMS - 1}) t"
        )
        await conn.exec_driver_sql(
            f"INSERT INTO verification_tokens (token, key_name, key_alias, team_id, user_id) "
            f"SELECT encode(sha256(('key-' || k)::bytea), 'hex'), 'sk-...' || k, 'key ' || k, "
            f"'team-' || (k % {TEAMS}), 'user-' || (k % {USERS}) "
            f"FROM generate_series(0, {KEYS - 1}) k"
        )


_INDEXES = (
    "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '{}'"
)
_SUMS = (
    "COALESCE(SUM(spend), 0), COUNT(*), COUNT(*) FILTER (WHERE status = 'success'), "
    "COUNT(*) FILTER (WHERE status = 'failure'), COUNT(*) FILTER (WHERE spend IS NULL), "
    + ", ".join(f"SUM({name})" for name in TOKEN_COLUMNS)
)
_COUNTS = ", ".join(["spend", *COUNTER_COLUMNS])
_DAY = "(\"startTime\" AT TIME ZONE 'UTC')::date"
_ROLLUP_SOURCES = {  # table -> (its key columns, their expressions over spend_logs ``s`` / tags ``t``)
    "daily_key_spend": ("date, api_key, model", f"{_DAY}, api_key, model_group"),
    "daily_user_spend": ("date, user_id, model", f'{_DAY}, "user", model_group'),
    "daily_team_spend": ("date, team_id, model", f"{_DAY}, team_id, model_group"),
    "daily_end_user_totals": ("date, end_user", f"{_DAY}, end_user"),
    "daily_tag_totals": ("date, tag", f"{_DAY}, request_tags ->> 0"),  # one tag a generated row
    "daily_model_spend": ("date, model", f"{_DAY}, model_group"),
    "daily_provider_spend": ("date, custom_llm_provider, model", f"{_DAY}, custom_llm_provider, model_group"),
}
_NARROW = {  # narrow rollup -> (its source rollup, entity column)
    "daily_key_totals": ("daily_key_spend", "api_key"),
    "daily_user_totals": ("daily_user_spend", "user_id"),
    "daily_team_totals": ("daily_team_spend", "team_id"),
}


async def _sql(engine: AsyncEngine, label: str, *statements: str) -> None:
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
        await conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        for statement in statements:
            await conn.exec_driver_sql(statement)
    print(f"  {label}: {time.perf_counter() - started:.1f} s", flush=True)


async def _drop_indexes(engine: AsyncEngine) -> list[str]:
    """Drop the secondary indexes of the raw tables (rebuilt after the load: faster than keeping them)."""
    definitions = []
    async with engine.begin() as conn:
        for table in ("spend_logs", "spend_log_tags"):
            for name, definition in (await conn.exec_driver_sql(_INDEXES.format(table))).all():
                if not name.startswith("pk_"):
                    definitions.append(definition.replace(" ON ONLY ", " ON "))
                    await conn.exec_driver_sql(f'DROP INDEX "{name}"')
    return definitions


async def weekly_rollups(engine: AsyncEngine) -> None:
    """The ISO week x entity rollups of every ENDED week, by the maintenance loop's own function
    (``store.weekly.build_closed_weeks``, from the day x entity rollups); the weeks after stay daily."""
    started = time.perf_counter()
    async with engine.begin() as conn:  # the migration's watermark assumed no history: start afresh
        await conn.execute(rollup_watermarks.delete())
    built = await weekly.build_closed_weeks(engine)
    print(f"  weekly rollups ({len(built)} ended weeks): {time.perf_counter() - started:.1f} s", flush=True)


async def load(engine: AsyncEngine, rows: int, days: int) -> float:
    """Generate ``rows`` spend rows in SQL (``generate_series``, no row-by-row client work): rows,
    tag rows, request ids, then every rollup with ``INSERT ... SELECT ... GROUP BY``; rows per second."""
    end = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    day = (end - timedelta(days=days + 1)).date()
    async with engine.begin() as conn:
        while day <= end.date() + timedelta(days=3):
            for table in partitions.PARTITIONED:
                await conn.exec_driver_sql(partitions.create_sql(table, day))
            day += timedelta(days=1)
    definitions = await _drop_indexes(engine)
    for lo in range(0, rows, LOAD_BATCH):
        hi = min(rows, lo + LOAD_BATCH) - 1
        values = {"keys": KEYS, "models": MODELS, "users": USERS, "teams": TEAMS, "end_users": END_USERS}
        values |= {
            "tags": TAGS,
            "end": end.isoformat(),
            "span": days * 86400,
            "rows": rows,
            "lo": lo,
            "hi": hi,
        }
        await _sql(engine, f"rows {lo:,}..{hi:,}", _ROWS_SQL.format(**values))
    await _sql(
        engine,
        "tag rows and request ids",
        'INSERT INTO spend_log_tags (request_id, tag, "startTime") SELECT request_id, t.tag, "startTime" '
        "FROM spend_logs CROSS JOIN LATERAL jsonb_array_elements_text(request_tags) AS t(tag)",
        'INSERT INTO spend_log_ids (request_id, "startTime") SELECT request_id, "startTime" FROM spend_logs',
    )
    await _sql(engine, "indexes", *definitions)
    await _rollups(engine)
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE")
    return rows / (time.perf_counter() - started)


async def _rollups(engine: AsyncEngine) -> None:
    """Every rollup from the generated rows (the narrow and weekly ones from the daily ones)."""
    for table, (keys, expressions) in _ROLLUP_SOURCES.items():
        await _sql(
            engine,
            table,
            f"INSERT INTO {table} ({keys}, {_COUNTS}) SELECT {expressions}, {_SUMS} "
            f"FROM spend_logs GROUP BY {expressions}",
        )
    sums = ", ".join(f"SUM({name})" for name in ("spend", *COUNTER_COLUMNS))
    for table, (source, entity) in _NARROW.items():
        await _sql(
            engine,
            table,
            f"INSERT INTO {table} (date, {entity}, {_COUNTS}) SELECT date, {entity}, {sums} FROM {source} "
            f"GROUP BY date, {entity}",
        )
    await weekly_rollups(engine)


async def _p95(fn: Callable[[], Awaitable[Any]], samples: int) -> tuple[float, float]:
    await fn()  # warm-up (plans, pool)
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def _calls(engine: AsyncEngine) -> dict[str, Callable[[], Awaitable[Any]]]:
    today = datetime.now(UTC).date()
    start = today - timedelta(days=29)
    admin = dashboard.Visible(everything=True)
    team = dashboard.Visible(team_ids=frozenset({"team-7"}))
    calls: dict[str, Callable[[], Awaitable[Any]]] = {}
    for dimension in dashboard.DIMENSIONS:
        query = dashboard.OverviewQuery(dimension, start, today, admin)
        calls[f"overview admin by {dimension}"] = lambda q=query: dashboard.overview(engine, q)
    for dimension in ("team", "key", "model"):
        query = dashboard.OverviewQuery(dimension, start, today, team)
        calls[f"overview team admin by {dimension}"] = lambda q=query: dashboard.overview(engine, q)
    filters = {
        "logs first page": LogFilter(),
        "logs last 7 days": LogFilter(start=today - timedelta(days=6), end=today),
        "logs by key": LogFilter(api_key=_key_hash("key-42")),
        "logs by team": LogFilter(team_id="team-7"),
        "logs by user": LogFilter(user_id="user-42"),
        "logs by model": LogFilter(model="group-3"),
        "logs failures": LogFilter(status="failure"),
        "logs by tag": LogFilter(tags=["app:3"], start=today - timedelta(days=6), end=today),
        "logs by request id": LogFilter(request_id="bench-12345"),
    }
    for name, log_filter in filters.items():
        calls[name] = lambda f=log_filter: dashboard.log_page(engine, f, admin, limit=50)
    calls["logs team admin"] = lambda: dashboard.log_page(engine, LogFilter(), team, limit=50)

    async def second_page() -> Any:
        _, cursor = await dashboard.log_page(engine, LogFilter(), admin, limit=50)
        return await dashboard.log_page(engine, LogFilter(), admin, limit=50, cursor=cursor)

    calls["logs next page (2 queries)"] = second_page
    calls["log row detail"] = lambda: dashboard.log_row(engine, "bench-12345", admin)
    return calls


async def explain(engine: AsyncEngine, calls: dict[str, Callable[[], Awaitable[Any]]]) -> None:
    """Print ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement each call runs (plans do not depend on
    the machine's load; the timings in them do)."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    for name, fn in calls.items():
        seen.clear()
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            await fn()
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        print(f"\n### {name}", flush=True)
        async with engine.connect() as conn:
            for statement, parameters in list(seen):
                result = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters)
                print("\n".join(str(line) for line in result.scalars()), flush=True)


def _key_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()  # the generated keys' hashes (as stored)


def _zipf(size: int) -> list[float]:
    """Cumulative Zipf weights (exponent 1: the n-th most active entity makes 1/n of the top one's calls)."""
    return list(itertools.accumulate(1 / rank for rank in range(1, size + 1)))


_ZIPF = {size: _zipf(size) for size in (KEYS, END_USERS, 3)}


def _pick(mix: str, n: int, rng: random.Random) -> dict[str, int]:
    """Entity numbers for writer row ``n``, with the loaded data's structure (a key belongs to one user
    and one team, has its tag and uses 3 of the 12 models: ``n % 4`` of them). ``worst``: round robin
    as in the loaded data (every row of a batch another key, user and end user, so every rollup gets
    one upsert per row); ``zipf``: Zipf draws (exponent 1) of the key, of its model among its 3 and of
    the end user."""
    if mix == "worst":
        key, model, end_user = n % KEYS, n % MODELS, n % END_USERS
    else:
        key = rng.choices(range(KEYS), cum_weights=_ZIPF[KEYS])[0]
        model = key % 4 + 4 * rng.choices(range(3), cum_weights=_ZIPF[3])[0]
        end_user = rng.choices(range(END_USERS), cum_weights=_ZIPF[END_USERS])[0]
    return {"key": key, "user": key % USERS, "team": key % TEAMS, "tag": key % TAGS, "model": model,
            "end_user": end_user}  # fmt: skip


def _writer_rows(count: int, offset: int, mix: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC).timestamp()
    rng = random.Random(offset)
    out = []
    for i in range(count):
        n = offset + i
        e = _pick(mix, n, rng)
        out.append(
            SpendLog.to_params(
                {
                    "request_id": f"w-{RUN}-{n}",  # never an id of an earlier run (a conflict writes nothing)
                    "call_type": "acompletion",
                    "api_key": _key_hash(f"key-{e['key']}"),
                    "spend": str(Decimal("0.0000123") * (n % 997 + 1)),
                    "prompt_tokens": 100,
                    "completion_tokens": 20,
                    "total_tokens": 120,
                    "startTime": now,
                    "endTime": now + 0.8,
                    "model": f"model-{e['model']}",
                    "model_group": f"group-{e['model']}",
                    "custom_llm_provider": PROVIDERS[e["model"] % 3],
                    "user": f"user-{e['user']}",
                    "team_id": f"team-{e['team']}",
                    "end_user": f"eu-{e['end_user']}",
                    "request_tags": [f"app:{e['tag']}"],
                    "metadata": {},
                    "status": "success",
                    "call_uid": uuid.uuid4().hex,
                }
            )
        )
    return out


async def writer_throughput(
    engine: AsyncEngine, args: argparse.Namespace, rollups: bool, offset: int, mix: str
) -> float:
    """Rows per second through ``pg_copy.ingest`` (batches of ``--writer-batch`` rows, one transaction
    each)."""
    statement = pg_copy.INGEST_SQL if rollups else pg_copy.NO_ROLLUPS_SQL
    size = args.writer_batch
    batches = [_writer_rows(size, offset + i, mix) for i in range(0, args.writer_rows, size)]
    started, unfolded, folding = time.perf_counter(), 0, None
    for batch in batches:
        async with engine.begin() as conn:
            await pg_copy.ingest(conn, pg_copy.records(batch), statement)
        unfolded += len(batch) if rollups else 0
        # as SpendWriter does: a fold in the background every FOLD_ROWS rows, the last one awaited
        if unfolded >= rollup_deltas.FOLD_ROWS and (folding is None or folding.done()):
            folding, unfolded = asyncio.create_task(rollup_deltas.fold(engine)), 0
    if folding is not None:
        await folding
    if unfolded:
        await rollup_deltas.fold(engine)
    return size * len(batches) / (time.perf_counter() - started)


async def _leave_pending(engine: AsyncEngine, rows: int) -> None:
    """Write ``rows`` (Zipf mix) WITHOUT folding their rollup deltas, so the queries also read the most
    a writer leaves pending between two folds (``rollup_deltas.FOLD_ROWS``)."""
    await rollup_deltas.fold(engine)
    for start in range(0, rows, 500):
        async with engine.begin() as conn:
            await pg_copy.ingest(conn, pg_copy.records(_writer_rows(500, 5 * 10**8 + start, "zipf")))
    async with engine.connect() as conn:
        pending = (await conn.exec_driver_sql("SELECT COUNT(*) FROM rollup_deltas")).scalar_one()
    print(f"{pending:,} rollup deltas pending (from {rows:,} rows written, not folded)")


async def _queries(engine: AsyncEngine, args: argparse.Namespace) -> None:
    print(f"{'dashboard call':40s} {'median ms':>10s} {'p95 ms':>8s}")
    worst = 0.0
    for name, fn in _calls(engine).items():
        median, p95 = await _p95(fn, args.samples)
        worst = max(worst, p95)
        print(f"{name:40s} {median:10.1f} {p95:8.1f}", flush=True)
    print(f"\nworst p95: {worst:.1f} ms (target < 200 ms)\n")
    if args.explain:
        await explain(engine, _calls(engine))


async def _writer(engine: AsyncEngine, args: argparse.Namespace) -> None:
    """Per entity mix, alternating drains with the rollups off and on; the best of each and the ratio."""
    base = 0
    for mix in args.writer_mix.split(","):
        on, off = [], []
        for _ in range(args.writer_rounds):
            off.append(await writer_throughput(engine, args, False, base, mix))
            on.append(await writer_throughput(engine, args, True, base + args.writer_rows, mix))
            base += 2 * args.writer_rows
        best_on, best_off = max(on), max(off)
        for label, runs in (("off", off), ("on ", on)):
            listed = ", ".join(f"{v:,.0f}" for v in runs)
            print(f"writer ({mix}) rollups {label}: {max(runs):,.0f} rows/s  (runs: {listed})")
        print(f"writer ({mix}) ratio on/off: {best_on / best_off:.2f} (target >= 0.80)", flush=True)


async def run(args: argparse.Namespace, url: str) -> None:
    engine = create_async_engine(_async_url(url), pool_size=2)
    try:
        if not args.reuse:
            await migrate_async(engine)
            await _entities(engine)
            print(f"loading {args.rows:,} rows over {args.days} days ...", flush=True)
            rate = await load(engine, args.rows, args.days)
            print(f"load: {rate:,.0f} rows/s (generate_series, then indexes and rollups in SQL)\n")
        if "queries" in args.phases:
            await _leave_pending(engine, args.pending)
            await _queries(engine, args)
        if "writer" in args.phases:
            await _writer(engine, args)
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--writer-rows", type=int, default=20_000)
    parser.add_argument("--database-url", default=BASE_URL)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of every query")
    parser.add_argument("--reuse", help="an already loaded database URL (no load, not dropped)")
    parser.add_argument("--writer-rounds", type=int, default=3)
    parser.add_argument(
        "--pending", type=int, default=rollup_deltas.FOLD_ROWS, help="rows left unfolded for the queries"
    )
    parser.add_argument("--writer-batch", type=int, default=500, help="rows per writer transaction")
    parser.add_argument(
        "--writer-mix", default="zipf,worst", help="zipf (Zipf draws of key, end user, model, tag), worst"
    )
    parser.add_argument("--phases", default="queries,writer", help="queries, writer or both")
    parser.add_argument("--quick", action="store_true", help="100,000 rows, 5,000 writer rows")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.writer_rows, args.samples = 100_000, 5_000, 20
    if args.reuse:
        asyncio.run(run(args, args.reuse))
        return
    url, name = _fresh_database(args.database_url)
    print(f"scratch database {name}")
    try:
        asyncio.run(run(args, url))
    finally:
        if args.keep:
            print(f"kept {url}")
        else:
            _drop_database(args.database_url, name)


if __name__ == "__main__":
    main()
