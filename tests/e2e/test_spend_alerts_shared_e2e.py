"""Spend alerts across two proxy instances sharing one Redis and one PostgreSQL database.

Two real proxies (separate apps, detectors and throttle tables) on one Redis prefix; a team's steady
baseline is crafted into the shared hourly counters through the first instance (the test cannot wait
hours), then a real call through the second (official openai client, simulator upstream) spikes the
current hour. Proves: the spike alert reaches the local webhook receiver once for the fleet (both
detectors keep judging the later calls of both instances over the rule); the throttle set by the
instance that alerted is enforced by the other one, its rpm cap counted across both; the admin's clear on
one instance clears it on both.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
import redis
from tests.budgets.receiver import Receiver, threaded_receiver
from tests.e2e.conftest import Proxy, _create_pg_database, _drop_pg_database, write_config

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator

MESSAGES: Any = [{"role": "user", "content": "spend a little"}]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with threaded_receiver() as rec:
        yield rec


@pytest.fixture
def fleet(
    postgres_url: str, simulator: Simulator, redis_url: str, receiver: Receiver, tmp_path: Path
) -> Iterator[tuple[Proxy, Proxy]]:
    """Two proxies on one new PostgreSQL database and one fresh Redis prefix (keys deleted after)."""
    url, name = _create_pg_database(postgres_url)
    prefix = "{ledgerlm-sa-e2e-" + uuid.uuid4().hex + "}"
    spend_alerts = {
        "channels": ["webhook"],
        "webhook": {"endpoint": f"{receiver.url}/alerts", "flush_interval_s": 0.05},
        "forecast_interval_s": 0,
        "throttle_sync_s": 0.1,
        "rules": [
            {"name": "team_spike", "metric": "spend_per_hour", "dimensions": ["team"], "factor": 3,
             "min_baseline_hours": 3, "action": "throttle", "throttle_rpm": 2},
        ],
    }  # fmt: skip
    running: list[tuple[ServerThread, Proxy]] = []
    try:
        for i in range(2):
            folder = tmp_path / f"proxy{i}"
            folder.mkdir()
            path = write_config(
                folder / "config.yaml",
                simulator.url,
                url,
                folder / "spool",
                budget_settings={"redis_prefix": prefix},
                general_settings={"redis_url": redis_url},
                spend_alerts=spend_alerts,
            )
            app = create_app(path)
            running.append((ServerThread(app).start(), Proxy("", url, app)))
            running[-1][1].url = running[-1][0].url
        yield running[0][1], running[1][1]
    finally:
        for server, proxy in running:
            proxy.close()
            server.stop()
        _drop_pg_database(postgres_url, name)
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _status(proxy: Proxy, key: str) -> int:
    try:
        proxy.client(key).chat.completions.create(model="priced", messages=MESSAGES, max_tokens=5)
    except openai.RateLimitError as refused:
        assert "throttled to 2 rpm by spend alert rule 'team_spike'" in str(refused)
        return 429
    return 200


def _setup(proxy: Proxy) -> Any:
    return proxy.app.state.proxy.extra["spend_alerts"]


def test_spike_alerts_once_throttles_on_both_and_clears_for_both(
    fleet: tuple[Proxy, Proxy], receiver: Receiver
) -> None:
    first, second = fleet
    team_id = first.new_team(team_alias="Search")
    key = first.new_key(team_id=team_id, key_alias="search-svc")
    hour = int(time.time() // 3600)
    for past in (hour - 3, hour - 2, hour - 1):  # the crafted baseline, in the SHARED counters
        _setup(first).detector.baseline.observe(
            [("team", team_id)], past, spend=Decimal("0.0000001"), tokens=10, failed=False
        )
    assert _status(second, key) == 200  # the spike, on the other instance: far above the shared baseline
    _wait(lambda: any(_setup(p).throttles.active() for p in fleet))  # set by the instance that alerted
    _wait(lambda: all(_setup(p).throttles.active() for p in fleet))  # the other one's copy (sync loop)
    for proxy in fleet:
        [throttle] = proxy.ok("GET", "/alerts/throttles")["data"]
        assert throttle["value"] == team_id and throttle["rpm"] == 2 and throttle["rule"] == "team_spike"

    statuses = [_status(proxy, key) for proxy in (first, second, first, second)]
    assert statuses == [200, 200, 429, 429]  # 2 a minute for the fleet, not 2 per instance

    assert first.ok("POST", "/alerts/throttle/clear", {"dimension": "team", "value": team_id}) == {
        "cleared": True
    }
    _wait(lambda: not _setup(second).throttles.active())  # cleared on the other instance too
    assert [_status(proxy, key) for proxy in (second, first)] == [200, 200]
    assert second.ok("GET", "/alerts/throttles")["data"] == []

    _wait(lambda: bool(receiver.at("/alerts")))
    time.sleep(0.5)  # a second delivery (from the other instance) would have arrived by now
    [[alert]] = receiver.at("/alerts")
    assert alert["type"] == "spend_alert" and alert["rule"] == "team_spike" and alert["value"] == team_id
    assert alert["message"].startswith(f"ledgerlm spend alert [team_spike]: team {team_id} spend_per_hour")
    assert alert["message"].endswith("; throttled to 2 rpm until an admin clears it")
    recent = [a["id"] for p in fleet for a in p.ok("GET", "/alerts/recent")["data"]]
    assert recent == [alert["id"]]  # one instance raised it
