"""Ledger at scale: re-price dry run and FOCUS export over 1,000,000 spend rows in PostgreSQL.

Run: ``.venv/bin/python benchmarks/ledger_scale.py [--rows 1000000 | --quick] [--batch 5000]
[--postgres-url URL]``.

1. A fresh database ``ledgerlm_bench_*`` (dropped afterwards) gets ``--rows`` spend rows over November
   2026 (one model, 20 teams, 100 keys, 5 tags; usage with cache reads; priced with custom price A and
   its ``price_id``), generated server-side with ``generate_series`` (load time printed apart).
2. The price book says price A until the 15th, price B from then on.
3. Timed: ``reprice`` dry run over the month (streams the rows in batches; about half change) and the
   FOCUS export (CSV, one row per call per token category; and per day) to a temporary file.

Printed: rows/s of each step, rows changed, FOCUS rows written, the BilledCost check (= ledger) and the
process's peak RSS (the streaming keeps it bounded whatever ``--rows``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from ledgerlm.ledger.focus_export import ExportScope, focus_batches
from ledgerlm.ledger.focus_io import write_focus
from ledgerlm.ledger.reprice import RepriceScope, reprice
from ledgerlm.pricing import compile_price
from ledgerlm.store import create_engine, migrate_async, partitions
from ledgerlm.store.price_book import load_book, record_prices

PRICE_A = {
    "input_cost_per_token": "0.000001",
    "cache_read_input_token_cost": "0.0000005",
    "output_cost_per_token": "0.000002",
}
PRICE_B = {**PRICE_A, "output_cost_per_token": "0.000003"}
START, END = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
MODEL = "bench-model"

# input 1000..1499 tokens of which 100 cache reads, 200 output; cost under PRICE_A, exact to 1e-10
_INSERT = """
INSERT INTO spend_logs (request_id, call_type, api_key, spend, prompt_tokens, completion_tokens,
  total_tokens, cache_read_input_tokens, "startTime", "endTime", model, model_group,
  custom_llm_provider, team_id, request_tags, metadata, status, price_id)
SELECT 'bench-' || i, 'acompletion', md5((i %% 100)::text || 'key') || md5((i %% 100)::text),
  ((1000 + i %% 500 - 100) * 0.000001 + 100 * 0.0000005 + 200 * 0.000002)::numeric(24, 10),
  1000 + i %% 500, 200, 1200 + i %% 500, 100,
  ts, ts + interval '1 second', %(model)s, %(model)s, 'openai', 'team-' || (i %% 20),
  jsonb_build_array('app:' || (i %% 5)),
  json_build_object('usage', json_build_object('input_tokens', 1000 + i %% 500, 'output_tokens', 200,
      'cache_read_tokens', 100),
    'cost', json_build_object('total', ((1000 + i %% 500 - 100) * 0.000001 + 100 * 0.0000005
        + 200 * 0.000002)::text, 'currency', 'USD', 'breakdown', json_build_object(
        'input', ((1000 + i %% 500 - 100) * 0.000001)::text, 'cache_read', '0.00005', 'output', '0.0004'))),
  'success', %(price_id)s
FROM (SELECT i, %(start)s::timestamptz + (i * %(step)s) * interval '1 second' AS ts
      FROM generate_series(0, %(rows)s - 1) AS i) AS s
"""


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(url: str, rows: int, batch: int) -> None:
    engine = create_engine(url)
    try:
        await migrate_async(engine)
        price_a = compile_price("openai", MODEL, custom=PRICE_A)
        price_b = compile_price("openai", MODEL, custom=PRICE_B)
        await record_prices(engine, [price_a], now=START)
        await record_prices(engine, [price_b], now=datetime(2026, 11, 15, tzinfo=UTC))
        began = time.perf_counter()
        sync = url.replace("postgresql+asyncpg://", "postgresql://")
        with psycopg.connect(sync, autocommit=True) as conn:
            step = (END - START).total_seconds() / rows
            params = {
                "model": MODEL,
                "price_id": price_a.price_id,
                "start": START,
                "step": step,
                "rows": rows,
            }
            day = START.date()
            while day <= END.date():  # the daily partitions (migration 0017) of the generated days
                for table in partitions.PARTITIONED:
                    conn.execute(partitions.create_sql(table, day))
                day += timedelta(days=1)
            conn.execute(_INSERT, params)
            conn.execute("ANALYZE spend_logs")
        print(f"loaded {rows:,} rows in {time.perf_counter() - began:.1f} s (server-side generate_series)")

        book = await load_book(engine)
        began = time.perf_counter()
        diff = await reprice(engine, RepriceScope(START, END), book, batch_size=batch)
        took = time.perf_counter() - began
        print(
            f"reprice dry run: {diff.rows:,} rows in {took:.1f} s = {diff.rows / took:,.0f} rows/s; "
            f"{diff.changed:,} change, total {diff.before} -> {diff.after} USD; "
            f"peak RSS {peak_rss_mb():.0f} MB"
        )

        for granularity in ("call", "day"):
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "focus.csv"
                began = time.perf_counter()
                scope = ExportScope(START, END, granularity)  # type: ignore[arg-type]
                count, total = await write_focus(focus_batches(engine, scope, batch), "csv", path)
                took = time.perf_counter() - began
                size = path.stat().st_size / 1e6
            print(
                f"FOCUS export ({granularity}): {rows:,} calls -> {count:,} rows, {size:,.0f} MB CSV in "
                f"{took:.1f} s = {rows / took:,.0f} calls/s; BilledCost {total} USD "
                f"(ledger {diff.before}: {'equal' if total == diff.before else 'DIFFERENT'}); "
                f"peak RSS {peak_rss_mb():.0f} MB"
            )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows (about a minute)")
    default = os.environ.get("LEDGERLM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres-url", default=default)
    args = parser.parse_args()
    if args.quick:
        args.rows = 20_000
    name = f"ledgerlm_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(args.postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        asyncio.run(run(args.postgres_url.rsplit("/", 1)[0] + "/" + name, args.rows, args.batch))
    finally:
        with psycopg.connect(args.postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
