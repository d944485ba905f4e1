"""Load drivers of the proxy benchmark: ``wrk`` (with ``_wrk.lua``) when installed, else the Python load
generator (``_loadgen.py``) in its own process. Both answer ``run(...)`` with the same dict::

    {"requests": int, "errors": int, "rps": float, "p50_ms": float, "p99_ms": float,
     "cpu_pct": float (the load generator's own CPU use over the run), "first_error": str | None}
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import orjson

BENCH_DIR = Path(__file__).resolve().parent


class LoadDriver(Protocol):
    name: str

    def run(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        connections: int,
        duration_s: float,
        warmup_s: float,
        total_requests: int | None = None,
        mark: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Warm up for ``warmup_s``, call ``mark()``, then measure for ``duration_s`` at ``connections``
        connections."""
        ...

    def close(self) -> None: ...


class PythonLoad:
    """``_loadgen.py`` as a long-lived subprocess (pinned with ``cpus`` when given)."""

    name = "python-aiohttp"

    def __init__(self, cpus: str | None) -> None:
        cmd = [sys.executable, str(BENCH_DIR / "_loadgen.py")]
        if cpus is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", cpus, *cmd]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        connections: int,
        duration_s: float,
        warmup_s: float,
        total_requests: int | None = None,
        mark: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        if warmup_s > 0:
            self._once(url, headers, body, connections, warmup_s, None)
        if mark is not None:
            mark()
        return self._once(url, headers, body, connections, duration_s, total_requests)

    def _once(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        connections: int,
        duration_s: float,
        total_requests: int | None,
    ) -> dict[str, Any]:
        spec = {
            "url": url,
            "headers": headers,
            "body": body.decode(),
            "connections": connections,
            "duration_s": duration_s,
            "warmup_s": 0.0,
            "total_requests": total_requests,
        }
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(orjson.dumps(spec).decode() + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the load generator exited")
        result: dict[str, Any] = orjson.loads(line)
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


class WrkLoad:
    """``wrk -t1 --latency -s _wrk.lua`` (pinned with ``cpus`` when given); one run to warm up, one to
    measure. Non-200 answers and socket errors are counted as errors."""

    name = "wrk"

    def __init__(self, cpus: str | None) -> None:
        self.prefix = ["taskset", "-c", cpus] if cpus is not None and shutil.which("taskset") else []

    def _wrk(self, url: str, env: dict[str, str], connections: int, seconds: float) -> str:
        cmd = [
            *self.prefix,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "30s",
            "-s",
            str(BENCH_DIR / "_wrk.lua"),
            url,
        ]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
        return done.stdout

    def run(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        connections: int,
        duration_s: float,
        warmup_s: float,
        total_requests: int | None = None,
        mark: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """See ``LoadDriver.run``; ``total_requests`` is not supported by wrk (ignored)."""
        env = dict(os.environ)
        env["BENCH_BODY"] = body.decode()
        env["BENCH_HEADERS"] = "\n".join(f"{k}: {v}" for k, v in headers.items())
        if warmup_s > 0:
            self._wrk(url, env, connections, warmup_s)
        if mark is not None:
            mark()
        cpu0 = _children_cpu()
        started = time.perf_counter()
        out = self._wrk(url, env, connections, duration_s)
        wall = time.perf_counter() - started
        cpu = _children_cpu() - cpu0
        line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
        data = orjson.loads(line.split(" ", 1)[1])
        errors = int(data["status_errors"]) + int(data["socket_errors"])
        good = max(0, int(data["requests"]) - errors)
        return {
            "requests": good,
            "errors": errors,
            "rps": good / (data["duration_us"] / 1e6),
            "p50_ms": data["p50_us"] / 1000.0,
            "p99_ms": data["p99_us"] / 1000.0,
            "cpu_pct": 100.0 * cpu / wall if wall else 0.0,
            "first_error": f"{errors} non-200 or socket errors" if errors else None,
        }

    def close(self) -> None:
        return None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_driver(cpus: str | None, prefer: str = "python") -> LoadDriver:
    """``PythonLoad`` by default; ``WrkLoad`` for ``prefer="wrk"``, or ``"auto"`` when wrk is installed.

    The Python generator is the default because Debian's wrk 4.1.0 reported impossible p99 latencies
    here (at 1 connection, 44,000 requests in 5 s with a p99 of 19-65 ms, i.e. more slow requests than
    the run had time for); its request rates agree with the Python generator's.
    """
    if prefer == "wrk" or (prefer == "auto" and shutil.which("wrk")):
        return WrkLoad(cpus)
    return PythonLoad(cpus)
