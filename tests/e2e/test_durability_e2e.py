"""No spend row lost or doubled: a proxy killed with SIGKILL under traffic and restarted (a subprocess
proxy), and PostgreSQL unreachable for a while under traffic then back (through a TCP forwarder this test
cuts and restores, never stopping the shared server)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from tests.e2e.conftest import MASTER_KEY, Proxy, write_config
from tests.e2e.forwarder import Forwarder

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator

MESSAGES = [{"role": "user", "content": "durable"}]


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _via_forwarder(database_url: str) -> tuple[str, Forwarder | None]:
    """PostgreSQL URLs are routed through a forwarder the test controls; SQLite is used as is."""
    if not database_url.startswith("postgresql"):
        return database_url, None
    scheme, rest = database_url.split("://", 1)
    auth, _, host_db = rest.rpartition("@")
    hostport, _, db = host_db.partition("/")
    host, _, port = hostport.partition(":")
    forwarder = Forwarder(host, int(port or 5432))
    return f"{scheme}://{auth}@127.0.0.1:{forwarder.port}/{db}", forwarder


class ProxyProcess:
    """``ledgerlm proxy`` as a subprocess."""

    def __init__(self, config: Path, port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = log.open("ab")
        cmd = [
            sys.executable,
            "-m",
            "ledgerlm.cli",
            "proxy",
            "--config",
            str(config),
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("proxy did not start")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def terminate(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self._log.close()


class Traffic:
    """Sequential calls from a background thread; remembers the request id of every 200."""

    def __init__(self, url: str, key: str) -> None:
        self.client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)
        self.ok: list[str] = []
        self.errors = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        index = 0
        while not self.stop.is_set():
            index += 1
            try:
                if index % 4 == 0:
                    stream = self.client.chat.completions.with_raw_response.create(
                        model="priced", messages=MESSAGES, stream=True
                    )
                    list(stream.parse())
                    self.ok.append(stream.headers["x-request-id"])
                else:
                    raw = self.client.chat.completions.with_raw_response.create(
                        model="priced", messages=MESSAGES
                    )
                    raw.parse()
                    self.ok.append(raw.headers["x-request-id"])
            except (openai.APIError, openai.APIConnectionError):
                self.errors += 1
                time.sleep(0.01)

    def wait_for(self, count: int, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.ok) < count:
            assert time.monotonic() < deadline, f"only {len(self.ok)} successful calls"
            time.sleep(0.01)

    def finish(self) -> list[str]:
        self.stop.set()
        self.thread.join(timeout=30)
        self.client.close()
        return list(self.ok)


def _assert_every_row_once(proxy: Proxy, ids: list[str], key: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = proxy.rows(api_key=_sha(key))
        found = {r["request_id"] for r in rows}
        if set(ids) <= found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    missing = set(ids) - found
    assert not missing, f"{len(missing)} of {len(ids)} answered calls have no spend row"
    assert len(rows) == len(found)
    spend = sum((r["spend"] for r in rows if r["spend"] is not None), Decimal(0))
    deadline = time.monotonic() + timeout_s
    while Decimal(str(proxy.ok("GET", f"/key/info?key={key}")["info"]["spend"])) != spend:
        assert time.monotonic() < deadline, "the key's total differs from the sum of its rows"
        time.sleep(0.05)


@pytest.fixture
def durable_setup(simulator: Simulator, database_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    url, forwarder = _via_forwarder(database_url)
    config = write_config(tmp_path / "config.yaml", simulator.url, url, tmp_path / "spool")
    yield {"config": config, "url": url, "forwarder": forwarder, "tmp": tmp_path}
    if forwarder is not None:
        forwarder.close()


def test_sigkill_under_traffic_then_restart_loses_and_doubles_nothing(durable_setup: dict[str, Any]) -> None:
    config, forwarder, tmp = durable_setup["config"], durable_setup["forwarder"], durable_setup["tmp"]
    first = ProxyProcess(config, _free_port(), tmp / "proxy1.log")
    observer = Proxy(first.url, durable_setup["url"])
    try:
        key = observer.new_key(key_alias="sigkill")
        traffic = Traffic(first.url, key)
        traffic.wait_for(5)
        if forwarder is not None:
            forwarder.cut()  # rows now pile up in the spool only
        traffic.wait_for(len(traffic.ok) + 15)
        first.kill()
        answered = traffic.finish()
        if forwarder is not None:
            forwarder.restore()
        # the restart runs in this process (same config, same spool directory): a new proxy claims the
        # killed one's spool slot and replays it
        second = ServerThread(create_app(config)).start()
        try:
            observer.url = second.url
            _assert_every_row_once(observer, answered, key)
            assert observer.client(key).chat.completions.create(model="priced", messages=MESSAGES).choices
        finally:
            observer.close()
            second.stop()
    finally:
        if first.proc.poll() is None:
            first.terminate()
        observer.close()


def test_postgres_unreachable_under_traffic_then_back(
    durable_setup: dict[str, Any], proxy_factory: Any, database_url: str
) -> None:
    forwarder = durable_setup["forwarder"]
    if forwarder is None:
        pytest.skip("PostgreSQL only (SQLite has no server to lose)")
    proxy = proxy_factory(durable_setup["url"])
    key = proxy.new_key(key_alias="outage")
    traffic = Traffic(proxy.url, key)
    traffic.wait_for(5)
    forwarder.cut()
    before = len(traffic.ok)
    traffic.wait_for(before + 20)
    status, health, _ = proxy.request("GET", "/health/readiness", key=None)
    assert status == 503 and health["db"] == "unreachable"
    assert proxy.app.state.proxy.store.writer.queue_depth > 0
    forwarder.restore()
    traffic.wait_for(len(traffic.ok) + 5)
    answered = traffic.finish()
    assert traffic.errors == 0, "the proxy must keep answering while the database is down"
    _assert_every_row_once(proxy, answered, key)
    assert proxy.request("GET", "/health/readiness", key=None)[0] == 200
    assert MASTER_KEY


def test_unwritable_spool_turns_readiness_red_and_rejects_new_calls(
    proxy_factory: Any, tmp_path: Path
) -> None:
    proxy = proxy_factory(
        f"sqlite:///{tmp_path}/db.sqlite", general_settings={"reject_when_spool_unhealthy": True}
    )
    body = {"model": "priced", "messages": MESSAGES}
    assert proxy.request("POST", "/v1/chat/completions", body)[0] == 200
    store = proxy.app.state.proxy.store
    slot = store.spool.directory
    shutil.rmtree(slot)
    slot.write_text("not a directory")  # works as root, unlike chmod
    status, health, _ = proxy.request("GET", "/health/readiness", key=None)
    assert status == 503 and health["spool"].startswith("unhealthy")
    deadline = time.monotonic() + 10
    while store.spool_ok:
        assert time.monotonic() < deadline, "the spool watch did not notice"
        time.sleep(0.05)
    status, error, _ = proxy.request("POST", "/v1/chat/completions", body)
    assert status == 503 and error["error"]["code"] == "spool_unhealthy"
