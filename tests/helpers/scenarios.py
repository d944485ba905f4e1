"""Fault scenarios against a real ``ledgerlm proxy`` subprocess, parameterised by duration so the test
suite (``tests/faults``) runs them short and ``benchmarks/faults.py`` runs them at full length.

Each scenario returns a ``Outcome`` (answered / failed calls, rows missing or doubled, what readiness
said, the process log) and never asserts: the caller decides. Shared PostgreSQL is never stopped: the
proxy reaches its throw-away database through a ``TcpForwarder`` that the scenario cuts.

* ``db_outage(sim_url, pg_url, tmp, outage_s)``: steady traffic, the database unreachable for
  ``outage_s`` seconds, then back.
* ``sigkill(sim_url, pg_url, tmp, cut_db=True)``: traffic, SIGKILL mid-traffic (rows only in the spool
  when ``cut_db``), restart on the same spool.
* ``spool_unwritable(sim_url, pg_url, tmp)``: the spool slot directory replaced by a regular file (works
  as root, unlike ``chmod``: creating a segment then fails with ``ENOTDIR``) with
  ``reject_when_spool_unhealthy: true``, then put back.
"""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from tests.e2e.conftest import MASTER_KEY, write_config
from tests.helpers.pg import sync_engine, temp_database
from tests.helpers.proxy_process import ProxyProcess
from tests.helpers.tcp_forwarder import TcpForwarder, route_url_through
from tests.helpers.traffic import Traffic

from ledgerlm.store import tables


@dataclass
class Outcome:
    """What a scenario observed. ``answered``: request ids answered 200; ``missing`` / ``doubled``:
    answered ids without a row / rows sharing a request id; ``failures``: status or error name counts."""

    name: str
    answered: list[str] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)
    doubled: int = 0
    rows: int = 0
    totals_match: bool = False
    answered_during_fault: int = 0
    readiness_during_fault: list[str] = field(default_factory=list)
    refused_during_fault: Counter[str] = field(default_factory=Counter)
    drain_s: float | None = None
    seconds: float = 0.0
    log: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No row lost, none doubled, key total equal to the sum of its rows."""
        return not self.missing and not self.doubled and self.totals_match


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def http_json(url: str, *, key: str | None = MASTER_KEY, body: Any = None) -> tuple[int, Any]:
    """(status, parsed body) of one call; connection errors give ``(0, error name)``."""
    req = urllib.request.Request(url, data=None if body is None else orjson.dumps(body))
    req.add_header("content-type", "application/json")
    if key:
        req.add_header("authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            return err.code, orjson.loads(raw or b"null")
        except orjson.JSONDecodeError:
            return err.code, raw.decode("utf-8", "replace")
    except OSError as exc:
        return 0, type(exc).__name__


def new_key(proxy_url: str, **fields: Any) -> str:
    status, body = http_json(f"{proxy_url}/key/generate", body=fields)
    assert status == 200, (status, body)
    return str(body["key"])


def readiness(proxy_url: str) -> tuple[int, Any]:
    return http_json(f"{proxy_url}/health/readiness", key=None)


def check_rows(outcome: Outcome, database_url: str, key: str, timeout_s: float = 60.0) -> None:
    """Fill ``missing``, ``doubled``, ``rows``, ``totals_match``, ``drain_s`` (waits for the writer)."""
    engine = sync_engine(database_url)
    table = tables.spend_logs
    started = time.monotonic()
    try:
        while True:
            with engine.connect() as conn:
                found = [
                    r[0]
                    for r in conn.execute(sa.select(table.c.request_id).where(table.c.api_key == _sha(key)))
                ]
            missing = set(outcome.answered) - set(found)
            if not missing or time.monotonic() - started > timeout_s:
                break
            time.sleep(0.1)
        outcome.drain_s = time.monotonic() - started if not missing else None
        outcome.missing = sorted(missing)
        outcome.rows = len(found)
        outcome.doubled = len(found) - len(set(found))
        outcome.totals_match = _totals_match(engine, key, timeout_s=10)
    finally:
        engine.dispose()


def _totals_match(engine: sa.Engine, key: str, timeout_s: float) -> bool:
    """The key's stored ``spend`` equals the sum of its rows (totals are updated with the rows)."""
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT coalesce(sum(spend), 0) FROM spend_logs WHERE api_key = :k"), {"k": _sha(key)}
            ).scalar_one()
            total = conn.execute(
                sa.text("SELECT spend FROM verification_tokens WHERE token = :k"), {"k": _sha(key)}
            ).scalar_one()
        if Decimal(str(rows)) == Decimal(str(total or 0)):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


@contextmanager
def _setup(sim_url: str, pg_url: str, tmp: Path, **sections: Any) -> Iterator[tuple[Path, str, TcpForwarder]]:
    """(config path, direct database URL, forwarder the proxy goes through)."""
    with temp_database(pg_url) as database:
        forwarder = TcpForwarder("127.0.0.1", int(sa.make_url(pg_url).port or 5432))
        try:
            url = route_url_through(database, forwarder)
            config = write_config(tmp / "config.yaml", sim_url, url, tmp / "spool", **sections)
            yield config, database, forwarder
        finally:
            forwarder.close()


def _traffic(url: str, key: str, threads: int) -> list[Traffic]:
    return [Traffic(url, key, stream_every=3 + i) for i in range(threads)]


def _finish(outcome: Outcome, traffic: list[Traffic]) -> None:
    for t in traffic:
        outcome.answered += t.finish()
        outcome.failures.update(t.failures)


def _answered(traffic: list[Traffic]) -> int:
    return sum(len(t.ok) for t in traffic)


def _wait_answered(traffic: list[Traffic], count: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while _answered(traffic) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {_answered(traffic)} of {count} calls answered")
        time.sleep(0.02)


def db_outage(sim_url: str, pg_url: str, tmp: Path, outage_s: float = 6.0, threads: int = 2) -> Outcome:
    """Steady traffic; the database unreachable for ``outage_s`` seconds; back. See the module docstring."""
    outcome = Outcome("database unreachable")
    started = time.monotonic()
    with _setup(sim_url, pg_url, tmp) as (config, database, forwarder):
        proc = ProxyProcess(config, tmp / "proxy.log")
        try:
            key = new_key(proc.url, key_alias="db-outage")
            traffic = _traffic(proc.url, key, threads)
            _wait_answered(traffic, 10)
            forwarder.cut()
            before = _answered(traffic)
            until = time.monotonic() + outage_s
            while time.monotonic() < until:
                status, body = readiness(proc.url)
                outcome.readiness_during_fault.append(
                    f"{status} db={body.get('db') if isinstance(body, dict) else body}"
                )
                time.sleep(min(1.0, max(0.0, until - time.monotonic())))
            outcome.answered_during_fault = _answered(traffic) - before
            forwarder.restore()
            _wait_answered(traffic, _answered(traffic) + 10)
            _finish(outcome, traffic)
            check_rows(outcome, database, key)
            outcome.notes["readiness_after"] = readiness(proc.url)[0]
        finally:
            proc.terminate()
            outcome.log = proc.log_text()
    outcome.seconds = time.monotonic() - started
    return outcome


def sigkill(sim_url: str, pg_url: str, tmp: Path, *, cut_db: bool = True, threads: int = 3) -> Outcome:
    """Traffic; SIGKILL mid-traffic (database cut first when ``cut_db``: rows only in the spool); restart."""
    outcome = Outcome("SIGKILL under traffic" + (" (database cut)" if cut_db else ""))
    started = time.monotonic()
    with _setup(sim_url, pg_url, tmp) as (config, database, forwarder):
        first = ProxyProcess(config, tmp / "proxy1.log")
        try:
            key = new_key(first.url, key_alias="sigkill")
            traffic = _traffic(first.url, key, threads)
            _wait_answered(traffic, 10)
            if cut_db:
                forwarder.cut()
            _wait_answered(traffic, _answered(traffic) + 20)
            first.kill()  # calls in flight are cut off: no answer, at most one row each
            _finish(outcome, traffic)
        finally:
            first.terminate()
        forwarder.restore()
        second = ProxyProcess(config, tmp / "proxy2.log")
        try:
            check_rows(outcome, database, key)
            outcome.notes["served_after_restart"] = http_json(
                f"{second.url}/v1/chat/completions",
                key=key,
                body={"model": "priced", "messages": [{"role": "user", "content": "after"}]},
            )[0]
        finally:
            second.terminate()
            outcome.log = first.log_text() + second.log_text()
    outcome.seconds = time.monotonic() - started
    return outcome


def spool_unwritable(sim_url: str, pg_url: str, tmp: Path, broken_s: float = 3.0) -> Outcome:
    """The spool slot directory replaced by a file for ``broken_s`` seconds (then put back), under
    traffic, with ``reject_when_spool_unhealthy: true``."""
    outcome = Outcome("spool unwritable")
    started = time.monotonic()
    general = {"general_settings": {"reject_when_spool_unhealthy": True}}
    with _setup(sim_url, pg_url, tmp, **general) as (config, database, _forwarder):
        proc = ProxyProcess(config, tmp / "proxy.log")
        try:
            key = new_key(proc.url, key_alias="spool")
            traffic = _traffic(proc.url, key, 1)
            _wait_answered(traffic, 10)
            slot, aside = tmp / "spool" / "slot-0", tmp / "spool" / "slot-0.aside"
            slot.rename(aside)  # the active segment stays open and intact in the renamed directory
            slot.write_text("not a directory\n")
            outcome.notes["readiness_503_after_s"] = _wait_readiness(proc.url, 503, timeout_s=10)
            # requests read a flag the spool watcher refreshes every second: the first refusal may lag
            outcome.notes["refusing_after_s"] = _wait_refused(proc.url, key, timeout_s=10)
            before = _answered(traffic)
            until = time.monotonic() + broken_s
            while time.monotonic() < until:
                status, body = readiness(proc.url)
                spool = body.get("spool") if isinstance(body, dict) else body
                outcome.readiness_during_fault.append(f"{status} {spool}")
                outcome.refused_during_fault[_call_outcome(proc.url, key)] += 1
                time.sleep(0.2)
            outcome.answered_during_fault = _answered(traffic) - before
            slot.unlink()
            aside.rename(slot)
            outcome.notes["readiness_200_after_s"] = _wait_readiness(proc.url, 200, timeout_s=10)
            _wait_answered(traffic, _answered(traffic) + 5)
            _finish(outcome, traffic)
            check_rows(outcome, database, key)
        finally:
            proc.terminate()
            outcome.log = proc.log_text()
    outcome.seconds = time.monotonic() - started
    return outcome


def _call_outcome(url: str, key: str) -> str:
    """``"<status> <error code>"`` of one chat call."""
    body_in = {"model": "priced", "messages": [{"role": "user", "content": "?"}]}
    status, body = http_json(f"{url}/v1/chat/completions", key=key, body=body_in)
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    return f"{status} {code}"


def _wait_refused(url: str, key: str, timeout_s: float) -> float | None:
    """Seconds until a chat call was refused with 503 ``spool_unhealthy`` (None: not within ``timeout_s``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if _call_outcome(url, key) == "503 spool_unhealthy":
            return time.monotonic() - started
        time.sleep(0.05)
    return None


def _wait_readiness(url: str, status: int, timeout_s: float) -> float | None:
    """Seconds until ``/health/readiness`` answered ``status`` (None: not within ``timeout_s``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if readiness(url)[0] == status:
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def redis_restarts(
    sim_url: str,
    pg_url: str,
    tmp: Path,
    *,
    restarts: int = 3,
    every_s: float = 3.0,
    threads: int = 8,
    budget: Decimal = Decimal("0.02"),
) -> Outcome:
    """Concurrent traffic against one key's budget while a private Redis is restarted ``restarts`` times
    (every ``every_s`` seconds). ``notes``: budget, recorded spend, whether it stayed within the budget."""
    from tests.helpers.redis_server import RedisServer

    outcome = Outcome(f"Redis restarted x{restarts} with a budget in use")
    started = time.monotonic()
    server = RedisServer().start()
    sections = {"general_settings": {"redis_url": server.url}, "budget_settings": {"redis_prefix": "{rel}"}}
    try:
        with _setup(sim_url, pg_url, tmp, **sections) as (config, database, _forwarder):
            proc = ProxyProcess(config, tmp / "proxy.log")
            try:
                key = new_key(proc.url, key_alias="redis", max_budget=str(budget))
                traffic = [
                    Traffic(proc.url, key, stream_every=0, pause_s=0.02, max_tokens=7) for _ in range(threads)
                ]
                restarts_at: list[float] = []
                for _ in range(restarts):
                    time.sleep(every_s)
                    restarts_at.append(time.time())
                    server.restart()
                time.sleep(every_s)
                _finish(outcome, traffic)
                check_rows(outcome, database, key)
                spent = _recorded_spend(database, key)
                allowance = _ended_before(database, key, restarts_at, window_s=0.25)
                outcome.notes.update(
                    budget=budget,
                    spent=spent,
                    within_budget=spent <= budget,
                    writer_queue_allowance=allowance,
                    within_bound=spent <= budget + allowance,
                )
            finally:
                proc.terminate()
                outcome.log = proc.log_text()
    finally:
        server.stop()
    outcome.seconds = time.monotonic() - started
    return outcome


def _ended_before(database_url: str, key: str, moments: list[float], window_s: float) -> Decimal:
    """Spend of the key's rows that ended within ``window_s`` seconds before any of ``moments`` (epoch
    seconds): what the spend writer could still have had in its queue at those moments."""
    engine = sync_engine(database_url)
    table = tables.spend_logs
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.spend, table.c.endTime).where(table.c.api_key == _sha(key))
            ).all()
    finally:
        engine.dispose()
    total = Decimal(0)
    for spend, ended in rows:
        at = ended.timestamp()
        if spend is not None and any(0 <= m - at <= window_s for m in moments):
            total += Decimal(str(spend))
    return total


def _recorded_spend(database_url: str, key: str) -> Decimal:
    engine = sync_engine(database_url)
    try:
        with engine.connect() as conn:
            total = conn.execute(
                sa.text("SELECT coalesce(sum(spend), 0) FROM spend_logs WHERE api_key = :k"), {"k": _sha(key)}
            ).scalar_one()
        return Decimal(str(total))
    finally:
        engine.dispose()
