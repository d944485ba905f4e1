"""Checks of the proxy benchmark beyond the table: 512 concurrent streams, RSS over many requests,
the self-reported overhead, cost time per call and the spend writer's rows/s into PostgreSQL.
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiohttp


async def _one_stream(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes, gap_s: float
) -> tuple[bool, float, int]:
    """``(finished with [DONE], seconds, events)``; a gap longer than ``gap_s`` between bytes is a stall."""
    started = time.perf_counter()
    events = 0
    tail = b""
    try:
        async with session.post(url, data=body, headers=headers) as resp:
            if resp.status != 200:
                return False, time.perf_counter() - started, 0
            while True:
                chunk = await asyncio.wait_for(resp.content.readany(), timeout=gap_s)
                if not chunk:
                    break
                events += chunk.count(b"data: ")
                tail = (tail + chunk)[-64:]
    except (TimeoutError, aiohttp.ClientError):
        return False, time.perf_counter() - started, events
    return tail.rstrip().endswith(b"data: [DONE]"), time.perf_counter() - started, events


async def _streams(url: str, headers: dict[str, str], body: bytes, count: int, prefix: str) -> list[Any]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        calls = [
            _one_stream(session, url, {**headers, "x-request-id": f"{prefix}{i}"}, body, gap_s=30.0)
            for i in range(count)
        ]
        return await asyncio.gather(*calls)


def concurrent_streams(
    url: str, headers: dict[str, str], body: bytes, count: int, prefix: str, rows: Callable[[], int]
) -> dict[str, Any]:
    """Open ``count`` streams at once; ``rows()`` counts the spend rows logged for them (waits up to 30 s).

    Result: ``{"streams", "completed", "stalled_or_failed", "max_s", "p50_s", "rows_logged"}``.
    """
    started = time.perf_counter()
    results = asyncio.run(_streams(url, headers, body, count, prefix))
    wall = time.perf_counter() - started
    durations = sorted(r[1] for r in results)
    completed = sum(1 for r in results if r[0])
    deadline = time.monotonic() + 30
    logged = rows()
    while logged < count and time.monotonic() < deadline:
        time.sleep(0.25)
        logged = rows()
    return {
        "streams": count,
        "completed": completed,
        "stalled_or_failed": count - completed,
        "wall_s": wall,
        "p50_s": statistics.median(durations),
        "max_s": durations[-1],
        "rows_logged": logged,
    }


def prime(url: str, headers: dict[str, str], bodies: list[bytes], count: int = 20) -> None:
    """Send each body ``count`` times, one at a time, before measuring (lazy imports, caches, pools).
    Raises ``RuntimeError`` when the target does not answer 200."""

    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            for body in bodies:
                for _ in range(count):
                    async with session.post(url, data=body, headers=headers) as resp:
                        text = await resp.read()
                        if resp.status != 200:
                            raise RuntimeError(f"{url} answered {resp.status}: {text[:300]!r}")

    asyncio.run(go())


async def _overhead_sample(url: str, headers: dict[str, str], body: bytes, count: int) -> list[float]:
    out: list[float] = []
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                value = resp.headers.get("x-ledgerlm-overhead-ms")
                if value is not None:
                    out.append(float(value))
    return out


def self_reported_overhead(url: str, headers: dict[str, str], body: bytes, count: int) -> dict[str, Any]:
    """p50 / p99 of the proxy's own ``x-ledgerlm-overhead-ms`` header over ``count`` sequential calls."""
    values = sorted(asyncio.run(_overhead_sample(url, headers, body, count)))
    if not values:
        return {"samples": 0}
    return {
        "samples": len(values),
        "p50_ms": values[len(values) // 2],
        "p99_ms": values[min(len(values) - 1, int(len(values) * 0.99))],
    }


def cost_time_us() -> list[tuple[str, float]]:
    """Microseconds per ``CompiledPrice.cost`` call for each case of ``benchmarks/cost.py``."""
    import cost  # benchmarks/cost.py (this script's folder is on sys.path)

    out = []
    for provider, model, _gp, usage in cost.CASES:
        price = cost.compile_price(provider, model)  # type: ignore[attr-defined]
        out.append((f"{provider}/{model}", cost._per_call_us(partial(price.cost, usage, at=cost.AT), 20_000)))
    return out


def spend_writer_rows_per_s(postgres_url: str, rows: int) -> tuple[int, float]:
    """``(rows, wall seconds)`` of ``benchmarks/spend_writer.py``'s PostgreSQL run (a temporary schema).

    Accepts both shapes of its ``run_postgres``: ``(url, row_count, batch)`` and ``(url, rows, batch)``.
    """
    import spend_writer  # benchmarks/spend_writer.py (engineer D)

    params = list(inspect.signature(spend_writer.run_postgres).parameters)
    data: Any = rows if params[1] == "count" else spend_writer.make_rows(rows)
    result: Any = asyncio.run(spend_writer.run_postgres(postgres_url, data, 500))
    if isinstance(result, tuple):
        return int(result[0]), float(result[1])
    return int(result.rows), float(result.wall_s)
