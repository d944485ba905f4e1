"""Side-by-side proxy benchmark: direct, a minimal Python proxy, ``ledgerlm proxy`` (SQLite and
PostgreSQL, everything on) and the LiteLLM proxy, with the same load generator and request body.

Run: ``.venv/bin/python benchmarks/proxy.py`` (full, ~8 minutes on 2 cores), ``--quick`` (~3 minutes),
``--memory`` (RSS over 150,000 requests), ``--no-litellm``. See ``docs/performance.md``.

What it does:

1. starts two simulators (``ledgerlm simulate``): no added latency, and 50 ms before the first byte;
2. measures, one target after the other, at 1, 10 and 50 connections, plain and streamed: requests/s,
   p50 / p99 latency, p50 / p99 added over direct, the proxy's RSS after the cell;
3. targets: ``direct`` (the floor), ``minimal`` (raw ASGI + one aiohttp session: the Python ceiling),
   ``ledgerlm-sqlite`` / ``ledgerlm-postgres`` (virtual key with budget and rate limits, request tags,
   spend logs, one ``CustomLogger``), ``litellm`` (its own venv under ``~/.cache/ledgerlm-bench``);
4. prints the ratios ledgerlm/minimal and ledgerlm/LiteLLM, 512 concurrent streams through ledgerlm
   (stalls, spend rows), the self-reported overhead header, the cost time per call and the spend
   writer's rows/s into PostgreSQL, and which targets of issue 22 hold.

Servers and the load generator are pinned with ``taskset``: the proxy under test on core 1, the load
generator and the simulators on core 0 (when the machine has 2 cores or more).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import _checks
import _report
import _servers
import _setup
import orjson
from _load import PythonLoad, make_driver

PATH = "/v1/chat/completions"


@dataclass
class Plan:
    """Cells to measure: ``{latency_ms: [(connections, stream), ...]}`` and durations (seconds)."""

    cells: dict[int, list[tuple[int, bool]]]
    duration_s: float
    warmup_s: float
    streams: int = 512
    overhead_samples: int = 500
    writer_rows: int = 50_000
    memory_requests: int = 0


def make_plan(args: argparse.Namespace) -> Plan:
    full = [(c, s) for s in (False, True) for c in (1, 10, 50)]
    if args.quick:
        return Plan({0: full, 50: [(1, False), (10, False), (10, True)]}, 1.5, 0.5, 512, 200, 20_000)
    slow = [(1, False), (10, False), (50, False), (10, True), (50, True)]
    plan = Plan({0: full, 50: slow}, args.duration, args.warmup)
    if args.memory:
        plan.cells, plan.memory_requests = {}, args.memory_requests
    return plan


@dataclass
class Bench:
    """One benchmark run: servers, the load driver, and the results gathered so far."""

    args: argparse.Namespace
    plan: Plan
    logs: Path
    proxy_cpus: str | None
    load_cpus: str | None
    sims: dict[int, _servers.Server] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def measure(
        self, target: str, base_url: str, headers: dict[str, str], server: Any, only: int | None = None
    ) -> None:
        """Every cell of the plan (of latency ``only`` when given) against ``base_url``; ``server``:
        whose RSS to read after each cell, or None."""
        for latency in self.plan.cells if only is None else [only]:
            _checks.prime(base_url + PATH, headers, [_setup.request_body(latency, s) for s in (False, True)])
        driver = make_driver(self.load_cpus, self.args.load)
        self.notes["load_generator"] = driver.name
        try:
            for latency, cells in self.plan.cells.items():
                if only is not None and latency != only:
                    continue
                for connections, stream in cells:
                    res = self._cell(driver, base_url, headers, server, latency, connections, stream)
                    res["target"] = target
                    self.rows.append(res)
                    _report.progress(res)
        finally:
            driver.close()

    def _cell(
        self,
        driver: Any,
        base_url: str,
        headers: dict[str, str],
        server: Any,
        latency: int,
        connections: int,
        stream: bool,
    ) -> dict[str, Any]:
        """One measured cell; adds the server's RSS after it and its CPU per request during it."""
        cpu0: list[float] = []
        mark = None if server is None else partial(_append_cpu, cpu0, server)
        body = _setup.request_body(latency, stream)
        res: dict[str, Any] = driver.run(
            base_url + PATH, headers, body, connections, self.plan.duration_s, self.plan.warmup_s, mark=mark
        )
        res.update(latency=latency, conns=connections, stream=stream)
        res["rss_mb"] = server.rss_mb() if server is not None else None
        res["cpu_us_per_req"] = _cpu_per_request(server, cpu0, res)
        return res


def _append_cpu(into: list[float], server: Any) -> None:
    into.append(server.cpu_s())


def _cpu_per_request(server: Any, cpu0: list[float], res: dict[str, Any]) -> float | None:
    """The server's CPU microseconds per request over the measured part of a cell."""
    if server is None or not cpu0 or not res["requests"]:
        return None
    return float((server.cpu_s() - cpu0[0]) * 1e6 / (res["requests"] + res["errors"]))


def start_simulators(bench: Bench, tmp: Path) -> dict[int, str]:
    urls = {}
    for latency in _setup.MODELS:
        models = tmp / f"sim-{latency}.json"
        models.write_bytes(orjson.dumps(_setup.simulator_models(latency)))
        sim = _servers.start_simulator(models, bench.load_cpus, bench.logs, f"{latency}ms")
        bench.sims[latency] = sim
        urls[latency] = sim.url
    return urls


def run_direct(bench: Bench, sims: dict[int, str]) -> None:
    headers = {"authorization": f"Bearer {_setup.UPSTREAM_KEY}"}
    for latency in bench.plan.cells:  # each latency has its own simulator
        bench.measure("direct", sims[latency], headers, None, only=latency)


def run_minimal(bench: Bench, sims: dict[int, str]) -> None:
    headers = {"authorization": f"Bearer {_setup.UPSTREAM_KEY}"}
    for latency in bench.plan.cells:  # one upstream per minimal proxy
        server = _servers.start_minimal(sims[latency], bench.proxy_cpus, bench.logs)
        try:
            bench.measure("minimal", server.url, headers, server, only=latency)
        finally:
            server.stop()


def ledgerlm_headers(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}", "x-litellm-tags": _setup.TAGS_HEADER}


def run_ledgerlm(bench: Bench, sims: dict[int, str], tmp: Path, db: str) -> None:
    """``ledgerlm proxy`` on SQLite or PostgreSQL: the cells, then the extra checks of that database."""
    pg_name = None
    if db == "sqlite":
        database_url = f"sqlite:///{tmp}/bench.db"
    else:
        database_url, pg_name = _setup.create_pg_database(bench.args.postgres_url)
    config = _setup.ledgerlm_config(tmp / f"ledgerlm-{db}.yaml", sims, database_url, tmp / f"spool-{db}")
    server = _servers.start_ledgerlm(config, bench.proxy_cpus, bench.logs, db)
    try:
        headers = ledgerlm_headers(_setup.new_virtual_key(server.url))
        bench.measure(f"ledgerlm-{db}", server.url, headers, server)
        extras(bench, server, headers, database_url, db)
    finally:
        server.stop()
        if pg_name is not None and not bench.args.keep_db:
            _setup.drop_pg_database(bench.args.postgres_url, pg_name)


def extras(bench: Bench, server: Any, headers: dict[str, str], database_url: str, db: str) -> None:
    """Per-database checks: spend rows vs requests, self-reported overhead, 512 streams, memory."""
    time.sleep(1.0)
    bench.notes[f"rows_{db}"] = _setup.count_rows(database_url)
    sent = sum(r["requests"] + r["errors"] for r in bench.rows if r["target"] == f"ledgerlm-{db}")
    bench.notes[f"measured_requests_{db}"] = sent
    url = server.url + PATH
    if db == "sqlite" and bench.plan.overhead_samples:
        body = _setup.request_body(0, False)
        bench.notes["self_overhead"] = _checks.self_reported_overhead(
            url, headers, body, bench.plan.overhead_samples
        )
    if db == "postgres" and bench.plan.streams:
        prefix = f"s512-{os.getpid()}-"
        bench.notes["streams"] = _checks.concurrent_streams(
            url,
            headers,
            _setup.request_body(50, True),
            bench.plan.streams,
            prefix,
            lambda: _setup.count_rows(database_url, prefix),
        )
    if db == "sqlite" and bench.plan.memory_requests:
        bench.notes["memory"] = memory_check(bench, server, headers)


def memory_check(bench: Bench, server: Any, headers: dict[str, str]) -> list[tuple[int, float]]:
    """RSS (MiB) after each third of ``memory_requests`` plain requests at 50 connections."""
    load = PythonLoad(bench.load_cpus)
    bench.notes["load_generator"] = load.name
    out = [(0, server.rss_mb())]
    third = bench.plan.memory_requests // 3
    try:
        for step in range(1, 4):
            res = load.run(
                server.url + PATH,
                headers,
                _setup.request_body(0, False),
                50,
                3600.0,
                0.0,
                total_requests=third,
            )
            out.append((step * third, server.rss_mb()))
            _report.memory_progress(out[-1], res)
    finally:
        load.close()
    return out


def run_litellm(bench: Bench, sims: dict[int, str], tmp: Path) -> None:
    exe = _servers.ensure_litellm(bench.logs / "litellm-install.log")
    if isinstance(exe, str):
        bench.notes["litellm"] = exe
        print(f"litellm: {exe}; its rows are left out", flush=True)
        return
    bench.notes["litellm_version"] = _servers.litellm_version(exe)
    config = _setup.litellm_config(tmp / "litellm.yaml", sims)
    try:
        server = _servers.start_litellm(exe, config, bench.proxy_cpus, bench.logs)
    except RuntimeError as exc:
        bench.notes["litellm"] = f"did not start: {str(exc)[:300]}"
        print(bench.notes["litellm"], flush=True)
        return
    try:
        headers = {"authorization": f"Bearer {_setup.MASTER_KEY}", "x-litellm-tags": _setup.TAGS_HEADER}
        bench.measure("litellm", server.url, headers, server)
    finally:
        server.stop()


def run_side_checks(bench: Bench) -> None:
    """Cost time per call and the spend writer's rows/s (whole machine: no pinning)."""
    if not bench.plan.writer_rows:
        return
    try:
        bench.notes["cost_us"] = _checks.cost_time_us()
    except Exception as exc:  # another engineer's script changed shape: report, keep the table
        bench.notes["cost_error"] = repr(exc)
    try:
        rows, seconds = _checks.spend_writer_rows_per_s(bench.args.postgres_url, bench.plan.writer_rows)
        bench.notes["writer"] = (rows, seconds)
    except Exception as exc:
        bench.notes["writer_error"] = repr(exc)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short cells, fewer of them (~2 minutes)")
    parser.add_argument("--memory", action="store_true", help="only the RSS check (ledgerlm, SQLite)")
    parser.add_argument("--memory-requests", type=int, default=150_000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per cell")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM rows")
    parser.add_argument(
        "--load",
        choices=["python", "wrk", "auto"],
        default="python",
        help="load generator: python (default), wrk, auto (wrk when installed); see docs/performance.md",
    )
    parser.add_argument(
        "--only", default="", help="comma list of targets (direct,minimal,sqlite,postgres,litellm)"
    )
    default_pg = os.environ.get("LEDGERLM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--postgres-url", default=default_pg, help="server (its database is only a way in)")
    parser.add_argument("--keep-db", action="store_true", help="keep the PostgreSQL benchmark database")
    parser.add_argument("--markdown", type=Path, help="also write the table and targets as markdown")
    parser.add_argument("--logs", type=Path, help="keep the servers' logs in this folder")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    all_cores = _servers.cores()
    proxy_cpus = load_cpus = None
    if len(all_cores) >= 2:
        load_cpus, proxy_cpus = str(all_cores[0]), str(all_cores[1])
        os.sched_setaffinity(0, {all_cores[0]})  # this process, the simulators and the load generator
    started = time.monotonic()
    loadavg = " ".join(f"{x:.1f}" for x in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="ledgerlm-bench-") as tmp_name:
        tmp = Path(tmp_name)
        bench = Bench(args, plan, args.logs or tmp / "logs", proxy_cpus, load_cpus)
        bench.logs.mkdir(parents=True, exist_ok=True)
        only = set(filter(None, args.only.split(","))) or {
            "direct",
            "minimal",
            "sqlite",
            "postgres",
            "litellm",
        }
        if args.memory:
            only = {"sqlite"}
        if args.no_litellm:
            only.discard("litellm")
        sims = start_simulators(bench, tmp)
        try:
            if "direct" in only:
                run_direct(bench, sims)
            if "minimal" in only:
                run_minimal(bench, sims)
            for db in ("sqlite", "postgres"):
                if db in only:
                    run_ledgerlm(bench, sims, tmp, db)
            if "litellm" in only:
                run_litellm(bench, sims, tmp)
        finally:
            for sim in bench.sims.values():
                sim.stop()
        os.sched_setaffinity(0, set(all_cores))
        if not args.memory and not args.only:
            run_side_checks(bench)
        bench.notes["elapsed_s"] = time.monotonic() - started
        bench.notes["loadavg"] = loadavg
        bench.notes["pinning"] = f"proxy cpu {proxy_cpus}, load+simulators cpu {load_cpus}"
        _report.print_all(bench.rows, bench.notes)
        if args.json:
            _report.write_json(args.json, bench.rows, bench.notes)
        if args.markdown:
            args.markdown.write_text(_report.markdown(bench.rows, bench.notes), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
