"""CPU per call of the terminal record path: ``CallLog.success`` -> exporters, metrics, user callbacks.

What the proxy runs after each call once the spend row is spooled: the typed record stages (a batching
exporter, the Prometheus metrics) and one user ``CustomLogger`` (the benchmark's counting logger). The
figure is the process's CPU time (every thread: the caller, the callback dispatcher, the exporter's
worker) per call, measured with ``time.process_time`` around N calls made on an event loop and a final
flush, so it covers the hand-offs too. Run it under ``valgrind --tool=callgrind`` for repeatable
instruction counts on a noisy machine (``--calls 2000``).

    .venv/bin/python benchmarks/record_pipeline.py [--calls 20000] [--no-logger] [--no-exporters]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bench_logger import CountingLogger

from ledgerlm.callbacks import flush, start_call
from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.prometheus import PrometheusExporter, PrometheusMetrics
from ledgerlm.record import CallRecord, CostRecord, UsageRecord
from ledgerlm.types import CallContext


class NullExporter(BatchingExporter):
    """A batching exporter whose backend accepts everything at once (counts the events)."""

    name = "bench-null"

    def __init__(self) -> None:
        super().__init__()
        self.received = 0

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        self.received += len(events)


def make_record() -> CallRecord:
    """A record shaped like the proxy's (virtual key, team, tags, usage, cost)."""
    now = time.time()
    return CallRecord(
        id=f"req-{uuid.uuid4().hex}",
        call_type="acompletion",
        status="success",
        requested_model="gpt-4o-mini",
        model="gpt-4o-mini-2024-07-18",
        model_group="gpt-4o-mini",
        deployment_id="dep-1",
        provider="openai",
        api_base="http://127.0.0.1:1/v1",
        start_time=now - 0.01,
        end_time=now,
        latency_s=0.01,
        usage=UsageRecord(input_tokens=30, output_tokens=12, total_tokens=42),
        cost=CostRecord(total="0.0000117", breakdown={"input": "0.0000045", "output": "0.0000072"}),
        key_hash="0" * 64,
        key_alias="bench",
        team_id="team-1",
        request_tags=["bench", "env:bench", "key:bench"],
    )


async def run(calls: int, callbacks: list[Any]) -> float:
    """CPU seconds (all threads) for ``calls`` terminal events and the flush after them."""
    records = [make_record() for _ in range(calls)]
    body = {"id": "chatcmpl-1", "choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    start = time.process_time()
    for n, record in enumerate(records, 1):
        log = start_call(
            call_type="acompletion",
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hello"}],
            context=CallContext(request_id=record.id),
            is_async=True,
            per_call_callbacks=callbacks,
        )
        log.success(record, body)
        await asyncio.sleep(0)
        if n % 200 == 0:  # the dispatcher's lanes hold 1,000 events: stay under, as a proxy's load does
            await asyncio.to_thread(flush, 30.0)
    await asyncio.to_thread(flush, 30.0)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--no-logger", action="store_true", help="without the user CustomLogger")
    parser.add_argument("--no-exporters", action="store_true", help="without the exporter and metrics")
    args = parser.parse_args()
    callbacks: list[Any] = []
    if not args.no_exporters:
        callbacks += [NullExporter(), PrometheusExporter(PrometheusMetrics())]
    if not args.no_logger:
        callbacks.append(CountingLogger())
    asyncio.run(run(200, callbacks))  # warm-up: imports, threads
    cpu = asyncio.run(run(args.calls, callbacks))
    names = ", ".join(type(c).__name__ for c in callbacks) or "none"
    print(f"record pipeline ({names}): {cpu / args.calls * 1e6:.1f} us CPU per call over {args.calls} calls")


if __name__ == "__main__":
    main()
