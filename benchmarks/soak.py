"""Soak: a bounded run of mixed traffic through ``ledgerlm proxy``, watching that the process stays flat.

Run: ``.venv/bin/python benchmarks/soak.py`` (3 minutes), ``--minutes 30``, ``--interval-s 10``,
``--threads 8``, ``--sqlite`` (default: a throw-away database on the machine's PostgreSQL,
``LEDGERLM_TEST_POSTGRES_URL``).

Traffic (official openai client, from ``--threads`` threads plus one mixed thread): plain and streamed chat
completions, embeddings, upstream failures (500), unknown models (404), bad bodies (400), and spend-log
reads. Printed every ``--interval-s`` seconds, for the proxy process (``/proc/<pid>``):

* RSS (MiB) and open file descriptors;
* spool: bytes on disk (segment files; a segment is deleted once sealed at 16 MiB and written) and
  bytes pending (not yet committed to the database: segment size minus its ``.ckpt`` offset);
* event-loop lag, measured from outside as the latency of ``GET /health/liveliness`` (a route that does
  no I/O, so its latency beyond the network round trip is time spent waiting for the loop), median and
  max of 5 probes;
* requests answered and errors in the interval.

Verdict: flat when, comparing the first third of the samples with the last third (medians), RSS grew by
less than 10 % (or 16 MiB), open fds by at most 8, nothing is pending in the spool 3 s after traffic
stops and the spool on disk stays under two segments (32 MiB), and the loop lag did not grow by more
than 2x + 5 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # helpers shared with the reliability tests (tests/helpers)

import openai  # noqa: E402
from tests.e2e.conftest import SIM_MODELS, write_config  # noqa: E402
from tests.helpers.pg import temp_database  # noqa: E402
from tests.helpers.proxy_process import ProxyProcess  # noqa: E402
from tests.helpers.scenarios import http_json, new_key  # noqa: E402
from tests.helpers.traffic import Traffic  # noqa: E402

from ledgerlm.simulator import Simulator  # noqa: E402

POSTGRES_URL = os.environ.get("LEDGERLM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MiB = 1024 * 1024


@dataclass
class Sample:
    """One measurement of the proxy process."""

    t_s: float
    rss_mib: float
    fds: int
    spool_bytes: int
    spool_pending: int
    lag_ms_median: float
    lag_ms_max: float
    answered: int
    errors: int


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (``VmRSS`` of ``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    """Open file descriptors of ``pid``."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def spool_bytes(spool_dir: Path) -> tuple[int, int]:
    """(bytes on disk, bytes pending) of the spool segment files (``*.jsonl``) under ``spool_dir``;
    pending = size minus the committed offset in the segment's ``.ckpt`` side file."""
    disk = pending = 0
    for path in spool_dir.rglob("*.jsonl"):
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue  # deleted while we looked: fully written
        ckpt = path.with_name(path.name + ".ckpt")
        try:
            done = int(ckpt.read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            done = 0
        disk += size
        pending += max(0, size - done)
    return disk, pending


def loop_lag_ms(url: str, probes: int = 5) -> tuple[float, float]:
    """(median, max) milliseconds of ``GET /health/liveliness``."""
    times = []
    for _ in range(probes):
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/health/liveliness", timeout=10) as resp:
            resp.read()
        times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.02)
    return statistics.median(times), max(times)


class Mixed:
    """One thread of the less common calls: embeddings, upstream 500, unknown model, bad body, spend reads."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)
        self.counts: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _step(self, index: int) -> str:
        kind = index % 5
        if kind == 0:
            self.client.embeddings.create(model="embed", input="soak")
            return "embeddings 200"
        if kind in (1, 2):
            model = "broken" if kind == 1 else "no-such-model"
            try:
                self.client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
            except openai.APIStatusError as err:
                return f"{model} {err.status_code}"
            return f"{model} 200?"
        if kind == 3:
            return (
                f"bad body {http_json(f'{self.url}/v1/chat/completions', key=self.key, body={'model': 1})[0]}"
            )
        return f"spend/logs {http_json(f'{self.url}/spend/logs?page_size=50', key=self.key)[0]}"

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            index += 1
            try:
                self.counts[self._step(index)] += 1
            except (openai.APIError, OSError) as exc:
                self.counts[type(exc).__name__] += 1
            time.sleep(0.01)

    def finish(self) -> Counter[str]:
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()
        return self.counts


@contextmanager
def database(use_sqlite: bool, tmp: Path) -> Iterator[str]:
    if use_sqlite:
        yield f"sqlite:///{tmp}/soak.db"
        return
    with temp_database(POSTGRES_URL, prefix="ledgerlm_soak") as url:
        yield url


def _sample(
    proc: ProxyProcess, spool: Path, started: float, traffic: list[Traffic], last: list[int]
) -> Sample:
    answered = sum(len(t.ok) for t in traffic)
    errors = sum(len(t.failures) for t in traffic)
    lag_median, lag_max = loop_lag_ms(proc.url)
    disk, pending = spool_bytes(spool)
    sample = Sample(
        t_s=time.monotonic() - started,
        rss_mib=rss_mib(proc.proc.pid),
        fds=open_fds(proc.proc.pid),
        spool_bytes=disk,
        spool_pending=pending,
        lag_ms_median=lag_median,
        lag_ms_max=lag_max,
        answered=answered - last[0],
        errors=errors - last[1],
    )
    last[:] = [answered, errors]
    return sample


def _print_sample(s: Sample) -> None:
    print(
        f"{s.t_s:7.0f}s  rss {s.rss_mib:7.1f} MiB  fds {s.fds:4d}  spool {s.spool_bytes / MiB:5.1f} MiB "
        f"(pending {s.spool_pending:7d} B)  "
        f"loop lag {s.lag_ms_median:6.2f} ms (max {s.lag_ms_max:6.2f})  "
        f"answered {s.answered:6d}  errors {s.errors:3d}",
        flush=True,
    )


def verdict(samples: list[Sample], spool_after: tuple[int, int]) -> list[tuple[str, bool, str]]:
    """(check, held, detail) for each flatness check (see the module docstring)."""
    third = max(1, len(samples) // 3)
    first, last = samples[:third], samples[-third:]

    def med(values: list[float]) -> float:
        return statistics.median(values)

    rss0, rss1 = med([s.rss_mib for s in first]), med([s.rss_mib for s in last])
    fd0, fd1 = med([s.fds for s in first]), med([s.fds for s in last])
    lag0, lag1 = med([s.lag_ms_median for s in first]), med([s.lag_ms_median for s in last])
    rss_ok = rss1 - rss0 < max(0.10 * rss0, 16.0)
    return [
        ("RSS flat", rss_ok, f"{rss0:.1f} -> {rss1:.1f} MiB"),
        ("open fds flat", fd1 - fd0 <= 8, f"{fd0:.0f} -> {fd1:.0f}"),
        ("spool drained", spool_after[1] == 0, f"{spool_after[1]} bytes pending after traffic stopped"),
        (
            "spool bounded",
            max(s.spool_bytes for s in samples) <= 32 * MiB,
            f"at most {max(s.spool_bytes for s in samples) / MiB:.1f} MiB on disk",
        ),
        ("loop lag flat", lag1 <= 2 * lag0 + 5.0, f"{lag0:.2f} -> {lag1:.2f} ms"),
    ]


def run(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="ledgerlm-soak-") as folder,
        Simulator(models={k: dict(v) for k, v in SIM_MODELS.items()}) as sim,
    ):
        tmp = Path(folder)
        with database(args.sqlite, tmp) as db:
            spool = tmp / "spool"
            config = write_config(tmp / "config.yaml", sim.url, db, spool)
            proc = ProxyProcess(config, tmp / "proxy.log")
            try:
                key = new_key(proc.url, key_alias="soak", metadata={"tags": ["soak"]})
                traffic = [Traffic(proc.url, key, stream_every=2 + i % 3) for i in range(args.threads)]
                mixed = Mixed(proc.url, key)
                started, last = time.monotonic(), [0, 0]
                samples: list[Sample] = []
                print(
                    f"soak: {args.minutes} min, {args.threads} threads + 1 mixed, proxy pid {proc.proc.pid}"
                )
                while time.monotonic() - started < args.minutes * 60:
                    time.sleep(args.interval_s)
                    samples.append(_sample(proc, spool, started, traffic, last))
                    _print_sample(samples[-1])
                for t in traffic:
                    t.finish()
                counts = mixed.finish()
                time.sleep(3)  # let the writer drain
                spool_after = spool_bytes(spool)
            finally:
                proc.terminate()
    return _report(samples, spool_after, counts, traffic)


def _report(
    samples: list[Sample], spool_after: tuple[int, int], counts: Counter[str], traffic: list[Traffic]
) -> int:
    total = sum(len(t.ok) for t in traffic)
    errors = Counter(f for t in traffic for f in t.failures)
    print(f"\nanswered {total} chat calls (errors: {dict(errors) or 0}); mixed: {dict(counts)}")
    checks = verdict(samples, spool_after) if samples else [("samples", False, "none taken")]
    for name, held, detail in checks:
        print(f"  {'ok  ' if held else 'FAIL'}  {name}: {detail}")
    flat = all(held for _, held, _ in checks)
    print("verdict:", "flat" if flat else "NOT flat")
    return 0 if flat else 1


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=3.0, help="run length in minutes (default 3)")
    parser.add_argument("--interval-s", type=float, default=15.0, help="seconds between samples (default 15)")
    parser.add_argument("--threads", type=int, default=8, help="chat traffic threads (default 8)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite file instead of PostgreSQL")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
