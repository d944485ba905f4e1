"""Python load generator (aiohttp on uvloop), used when ``wrk`` is not installed.

Runs in its own process (pinned to its own core by ``benchmarks/proxy.py``) and serves commands: one JSON
object per stdin line, one JSON result per stdout line::

    {"url": "http://127.0.0.1:4000/v1/chat/completions", "headers": {...}, "body": "<request JSON text>",
     "connections": 10, "duration_s": 5.0, "warmup_s": 1.0, "total_requests": null}
    -> {"requests": 12345, "errors": 0, "rps": 2469.0, "p50_ms": 3.9, "p99_ms": 7.2,
        "cpu_s": 4.1, "cpu_pct": 82.0, "first_error": null}

Each connection sends its requests one after the other over a keep-alive connection and reads the whole
response (for a stream: up to the last byte); the latency of a request is from sending it to its last
byte (milliseconds). ``cpu_pct`` is this process's CPU time over the measured wall time: near 100 means
the load generator itself was the bottleneck. Warm-up requests are not counted. With
``total_requests`` the run also stops once that many requests were sent (warm-up included).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from typing import Any

import aiohttp
import orjson


def percentile(sorted_values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of an ascending list, nearest-rank; NaN when empty."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _worker(
    session: aiohttp.ClientSession,
    spec: dict[str, Any],
    phase: dict[str, float],
    out: list[float],
    errors: list[str],
) -> None:
    url, headers, body = spec["url"], spec["headers"], spec["body"].encode()
    while True:
        now = time.perf_counter()
        if now >= phase["end"] or phase["left"] <= 0:
            return
        phase["left"] -= 1
        started = now
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                async for _ in resp.content.iter_any():
                    pass
                ok = resp.status == 200
                status = str(resp.status)
        except (TimeoutError, aiohttp.ClientError) as exc:
            ok, status = False, repr(exc)
        done = time.perf_counter()
        if started >= phase["measure_from"] and done <= phase["end"]:
            if ok:
                out.append((done - started) * 1000.0)
            else:
                errors.append(status)


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement described by ``spec`` (see the module docstring); the result dict."""
    connections = int(spec["connections"])
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    timeout = aiohttp.ClientTimeout(total=float(spec.get("request_timeout_s", 60)))
    latencies: list[float] = []
    errors: list[str] = []
    start = time.perf_counter()
    phase = {
        "measure_from": start + float(spec["warmup_s"]),
        "end": start + float(spec["warmup_s"]) + float(spec["duration_s"]),
        "left": float(spec.get("total_requests") or "inf"),
    }
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.sleep(0)
        cpu0 = _cpu_s()
        tasks = [_worker(session, spec, phase, latencies, errors) for _ in range(connections)]
        # CPU is sampled over the whole run; the warm-up share is removed pro rata below.
        await asyncio.gather(*tasks)
        cpu = _cpu_s() - cpu0
    wall = time.perf_counter() - start
    measured = min(float(spec["duration_s"]), wall - float(spec["warmup_s"]))
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "rps": len(latencies) / measured,
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "cpu_s": cpu,
        "cpu_pct": 100.0 * cpu / wall if wall else 0.0,
        "first_error": errors[0] if errors else None,
    }


def main() -> None:
    """Serve JSON commands from stdin until EOF."""
    run_loop: Any = asyncio.run
    try:
        import uvloop

        run_loop = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        pass
    for line in sys.stdin:
        if not line.strip():
            continue
        result = run_loop(run(orjson.loads(line)))
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
