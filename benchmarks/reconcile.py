"""Reconciliation speed: N spend rows in a SQLite ledger against a matching OpenAI report.

Prints rows, seconds to read the ledger side, seconds to match + explain, and rows per second.
``python benchmarks/reconcile.py [--rows N]`` (default 50,000; ``--quick``: 5,000).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledgerlm.ledger.reconcile.ledger_side import ledger_lines
from ledgerlm.ledger.reconcile.matcher import MatchInputs, reconcile
from ledgerlm.ledger.reconcile.model import Line
from ledgerlm.ledger.reconcile.report import ProviderReport
from ledgerlm.pricing import compile_price
from ledgerlm.store.engine import create_engine
from ledgerlm.store.ingest import write_rows
from ledgerlm.store.migrate import migrate
from ledgerlm.types import Usage

START = date(2026, 3, 1)
MODELS = ("gpt-4o-mini", "gpt-4o", "o4-mini")


def _row(i: int) -> dict[str, Any]:
    model = MODELS[i % len(MODELS)]
    when = datetime.combine(START + timedelta(days=i % 30), datetime.min.time(), UTC) + timedelta(seconds=i)
    usage = Usage(input_tokens=1000 + i % 97, cache_read_tokens=512, output_tokens=100 + i % 13)
    cost = compile_price("openai", model).cost(usage)
    return {
        "request_id": uuid.uuid4().hex, "call_type": "acompletion", "spend": format(cost.total, "f"),
        "prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
        "startTime": when.timestamp(), "endTime": when.timestamp(), "model": model,
        "custom_llm_provider": "openai", "request_tags": [], "status": "success",
        "metadata": {"cost": cost.to_dict(), "usage": usage.to_dict()},
    }  # fmt: skip


async def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        await asyncio.to_thread(migrate, url)
        engine = create_engine(url)
        async with engine.begin() as conn:
            for offset in range(0, rows, 5000):
                await write_rows(conn, [_row(i) for i in range(offset, min(rows, offset + 5000))])
        started = time.perf_counter()
        lines = await ledger_lines(engine, "openai", (START, START + timedelta(days=29)))
        read_s = time.perf_counter() - started
        report = ProviderReport([Line(line.cell, line.tokens, line.usd) for line in lines])
        started = time.perf_counter()
        result = reconcile(MatchInputs("openai", START, START + timedelta(days=29), lines, report))
        match_s = time.perf_counter() - started
        await engine.dispose()
    print(f"ledger rows: {rows}; cells: {len(result.rows)}; capture rate: {result.capture_rate}")
    print(f"read ledger side: {read_s:.2f} s ({rows / read_s:,.0f} rows/s)")
    print(f"match + explain: {match_s:.3f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(5_000 if args.quick else args.rows))
