"""Spend writer throughput: rows per second from the spool into PostgreSQL and SQLite.

Run: ``.venv/bin/python benchmarks/spend_writer.py [--rows 50000] [--batch 500] [--postgres-url URL]``.
Each run appends realistic spend rows (key, team, end user, two tags) to a fresh spool, then times a
``SpendWriter`` draining it: inserts, tag index, totals and daily aggregates, all in the same
transactions. PostgreSQL runs in a temporary schema that is dropped afterwards; SQLite in a temp file.
Also prints the cost of ``Spool.append`` (microseconds per row, the part on the response path).
``--rollups compare`` (PostgreSQL): alternating drains with the daily rollups on and off (issue 21: the
rollups must keep at least 80 % of the throughput), best of ``--rounds`` each.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.record import CallRecord, CostRecord, UsageRecord
from ledgerlm.store import SpendLog, SpendWriter, Spool, create_engine, ingest, migrate_async
from ledgerlm.store.keys import hash_key

KEYS = [hash_key(f"sk-bench-{i}") for i in range(20)]
APP_NAME = "ledgerlm-bench"


@dataclass
class Result:
    rows: int
    wall_s: float
    client_cpu_s: float
    server_cpu_s: float

    @property
    def rate(self) -> float:
        return self.rows / self.wall_s

    @property
    def cpu_rate(self) -> float:
        """Rows per CPU second (client + server): the rate on an otherwise idle machine, roughly."""
        return self.rows / (self.client_cpu_s + self.server_cpu_s)


def make_rows(count: int) -> list[dict[str, Any]]:
    """``count`` spool rows spread over 20 keys, 5 teams, 50 end users, 3 models and 8 tags."""
    out = []
    for i in range(count):
        record = CallRecord(
            id=f"bench-{uuid.uuid4().hex}",
            call_type="acompletion",
            status="success" if i % 50 else "failure",
            requested_model="gpt-4o-mini",
            model="gpt-4o-mini-2024-07-18",
            model_group=f"model-{i % 3}",
            provider="openai",
            start_time=1_764_410_000 + i * 0.001,
            end_time=1_764_410_001 + i * 0.001,
            latency_s=1.0,
            usage=UsageRecord(input_tokens=1000, output_tokens=200, total_tokens=1200),
            cost=CostRecord(total="0.00027", breakdown={"input": "0.00015", "output": "0.00012"}),
            key_hash=KEYS[i % 20],
            team_id=f"team-{i % 5}",
            end_user=f"user-{i % 50}",
            request_tags=[f"tag-{i % 8}", f"env:{i % 2}"],
        )
        out.append(SpendLog.from_record(record, store_prompts=False))
    return out


def fill_spool(directory: Path, count: int) -> float:
    """Append ``count`` fresh rows to a spool in ``directory``; microseconds per ``Spool.append``.

    Rows are made 5,000 at a time and dropped afterwards, so the drain that follows runs with a small
    heap (a large live heap makes every garbage collection slower and would skew the figures).
    """
    spool = Spool(directory)
    spent = 0.0
    for start in range(0, count, 5_000):
        rows = make_rows(min(5_000, count - start))
        started = time.perf_counter()
        for row in rows:
            spool.append(row)
        spent += time.perf_counter() - started
    spool.close()
    gc.collect()
    return spent / count * 1e6


async def server_cpu_s(engine: AsyncEngine) -> float:
    """CPU seconds used so far by this benchmark's PostgreSQL backends (read from /proc: same machine)."""
    if engine.dialect.name != "postgresql":
        return 0.0
    async with engine.connect() as conn:
        query = sa.text("SELECT pid FROM pg_stat_activity WHERE application_name = :name")
        pids = (await conn.execute(query, {"name": APP_NAME})).scalars().all()
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


async def drain(url: str, search_path: str | None, directory: Path, batch: int) -> Result:
    """Rows written, wall seconds and CPU seconds (this process, database server) for a writer
    draining ``directory`` into a migrated database."""
    engine = create_engine(url, search_path=search_path, application_name=APP_NAME)
    await migrate_async(engine)
    writer = SpendWriter(engine, Spool(directory), batch_size=batch, interval_s=0.001)
    server_before, client_before = await server_cpu_s(engine), time.process_time()
    started = time.perf_counter()
    await writer.start()
    await writer.stop(timeout_s=600)
    elapsed = time.perf_counter() - started
    client = time.process_time() - client_before
    server = await server_cpu_s(engine) - server_before
    await engine.dispose()
    return Result(writer.rows_written, elapsed, client, server)


async def run_postgres(url: str, count: int, batch: int) -> Result:
    import psycopg

    schema = f"ledgerlm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fill_spool(Path(tmp), count)
            return await drain(url, schema, Path(tmp), batch)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def run_sqlite(count: int, batch: int) -> Result:
    """SQLite runs inside this process (aiosqlite thread): its "client" CPU includes the database work."""
    with tempfile.TemporaryDirectory() as tmp:
        spool_dir = Path(tmp) / "spool"
        fill_spool(spool_dir, count)
        return await drain(f"sqlite:///{tmp}/bench.db", None, spool_dir, batch)


def _rollups_compare(args: argparse.Namespace) -> None:
    """PostgreSQL only: alternate drains with the daily rollups on and off; best wall rate and best
    rate per CPU-second (client + server; far less sensitive to other load on the machine) of each."""
    results: dict[str, list[Result]] = {"on": [], "off": []}
    for _ in range(args.rounds):
        for mode in ("off", "on"):
            ingest.measure_without_rollups(mode == "off")
            try:
                results[mode].append(asyncio.run(run_postgres(args.postgres_url, args.rows, args.batch)))
            finally:
                ingest.measure_without_rollups(False)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall rates fall with load)")
    best: dict[str, tuple[float, float]] = {}
    for mode, runs in results.items():
        best[mode] = (max(r.rate for r in runs), max(r.cpu_rate for r in runs))
        walls = ", ".join(f"{r.rate:,.0f}" for r in runs)
        print(
            f"rollups {mode:<4} best {best[mode][0]:>8,.0f} rows/s (runs: {walls}); "
            f"best {best[mode][1]:>8,.0f} rows per CPU-second"
        )
    wall, cpu = best["on"][0] / best["off"][0], best["on"][1] / best["off"][1]
    print(f"ratio on/off: wall {wall:.2f}, per CPU-second {cpu:.2f} (target >= 0.80)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    default_pg = os.environ.get("LEDGERLM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres-url", default=default_pg)
    parser.add_argument(
        "--rollups", choices=("on", "compare"), default="on", help="compare: PostgreSQL rollups on vs off"
    )
    parser.add_argument("--rounds", type=int, default=3, help="on/off pairs for --rollups compare")
    args = parser.parse_args()
    if args.rollups == "compare":
        _rollups_compare(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        print(f"Spool.append: {fill_spool(Path(tmp), min(args.rows, 20_000)):.1f} us/row")
    results = {"postgresql": asyncio.run(run_postgres(args.postgres_url, args.rows, args.batch))}
    results["sqlite"] = asyncio.run(run_sqlite(args.rows, args.batch))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall rates fall with load)")
    header = (
        f"{'database':<12}{'rows':>8}{'wall s':>8}{'rows/s':>9}{'client us/row':>15}{'server us/row':>15}"
    )
    print(header + f"{'rows/CPU-s':>12}   (batch {args.batch})")
    for name, r in results.items():
        client_us, server_us = r.client_cpu_s / r.rows * 1e6, r.server_cpu_s / r.rows * 1e6
        print(
            f"{name:<12}{r.rows:>8}{r.wall_s:>8.2f}{r.rate:>9,.0f}{client_us:>15.1f}{server_us:>15.1f}"
            f"{r.cpu_rate:>12,.0f}"
        )
    pg = results["postgresql"]
    verdict = "met" if pg.rate >= 20_000 else "NOT met"
    print(f"PostgreSQL target 20,000 rows/s (wall): {verdict} ({pg.rate:,.0f})")
    print(f"PostgreSQL rows per CPU-second (client + server): {pg.cpu_rate:,.0f}")


if __name__ == "__main__":
    main()
