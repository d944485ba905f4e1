"""Spend alerts shared by several instances through a real Redis: the baselines count the calls of every
instance, a spike is delivered once, a throttle set by one instance is enforced (and its cap counted) by
all, an admin's clear on one clears it for all, and a budget forecast is alerted once. Two detectors /
throttle tables / forecast loops stand for two proxies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

from ledgerlm.budgets.baseline_redis import RedisBaseline, RedisMarks
from ledgerlm.budgets.forecast_watch import ForecastWatcher
from ledgerlm.budgets.redis_backend import RedisBudgets
from ledgerlm.budgets.spend_alerts import SpendAlerts, parse_rules
from ledgerlm.budgets.throttle import Throttles
from ledgerlm.budgets.throttle_redis import RedisThrottleStore
from ledgerlm.errors import RateLimitError
from ledgerlm.store import users
from ledgerlm.store.engine import create_engine
from ledgerlm.store.migrate import migrate_async
from ledgerlm.store.tables import spend_logs

H0 = 1_796_000_000 // 3600


class Clock:
    def __init__(self, hour: int) -> None:
        self.now = hour * 3600.0 + 60

    def __call__(self) -> float:
        return self.now


class Channel:
    """Records what reaches it (the exporters' own delivery is tested in test_spend_alerts.py)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def deliver(self, text: str, payload: Any, key: str) -> bool:
        self.texts.append(text)
        return True


@pytest.fixture
def shared(redis_url: str) -> Iterator[tuple[redis.Redis, str]]:
    prefix = "{ledgerlm-sa-" + uuid.uuid4().hex + "}"
    client = redis.Redis.from_url(redis_url)
    yield client, prefix
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _call(team: str, cost: str, *, failed: bool = False) -> dict[str, Any]:
    return {
        "id": f"req-{uuid.uuid4().hex}",
        "status": "failure" if failed else "success",
        "team_id": team,
        "model_group": "gpt-4o",
        "usage": {"input_tokens": 100, "output_tokens": 0},
        "cost": {"total": cost},
    }


RULES = [
    {"name": "team_spike", "metric": "spend_per_hour", "dimensions": ["team"], "factor": 3,
     "min_baseline_hours": 3, "min_current": 1, "action": "throttle", "throttle_rpm": 5},
]  # fmt: skip


def test_two_detectors_share_baselines_and_alert_once(shared: tuple[redis.Redis, str]) -> None:
    client, prefix = shared
    clock = Clock(H0)
    channels = [Channel(), Channel()]
    detectors = [
        SpendAlerts(
            parse_rules(RULES),
            channels=[channel],
            baseline=RedisBaseline(client, prefix, 24, 100),
            marks=RedisMarks(client, prefix),
            clock=clock,
        )
        for channel in channels
    ]
    for _hour in range(6):  # steady: $1.00 an hour, the calls alternating between the instances
        for i in range(10):
            assert detectors[i % 2].observe(_call("search", "0.10")) == []
        clock.now += 3600
    fired = [a for i in range(40) for a in detectors[i % 2].observe(_call("search", "0.10"))]
    [anomaly] = fired  # one instance fires (at $3.00: the 30th call of the hour, counted across both)
    assert anomaly.current == Decimal("3.00") and anomaly.baseline == Decimal("1.00")
    assert anomaly.baseline_hours == 6
    assert sorted(len(c.texts) for c in channels) == [0, 1]  # delivered once for the fleet
    assert [t["value"] for d in detectors for t in d.throttles.active()] == ["search"]  # set by the sender
    assert len(RedisBaseline(client, prefix)) == 2  # (team, search), (model, gpt-4o)


def test_shared_baseline_bounds_cardinality(shared: tuple[redis.Redis, str]) -> None:
    client, prefix = shared
    baseline = RedisBaseline(client, prefix, window_hours=24, max_series=5)
    for i in range(12):
        baseline.observe([("end_user", f"u{i}")], H0, spend=Decimal("0.01"), tokens=1, failed=False)
    assert len(baseline) == 5 and baseline.evicted == 7
    assert len(list(client.scan_iter(match=prefix + ":sa:b:*"))) == 5  # the evicted series' keys are gone
    stats = baseline.observe([("end_user", "u11")], H0 + 2, spend=None, tokens=3, failed=True)
    [seen] = stats.values()
    assert seen.hours == 2 and seen.window.spend == Decimal("0.01") and seen.window.requests == 1
    assert seen.current.errors == 1 and seen.current_value("error_share") == 1


async def test_a_throttle_set_on_one_instance_is_enforced_and_cleared_on_all(
    redis_url: str, shared: tuple[redis.Redis, str]
) -> None:
    _, prefix = shared
    first = Throttles(shared=RedisThrottleStore(redis_url, prefix))
    second = Throttles(shared=RedisThrottleStore(redis_url, prefix))
    keys = [("team", "search"), ("model", "gpt-4o")]
    try:
        await first.start()
        await second.start()
        assert first.set(("team", "search"), 4, rule="team_spike", reason="spike")
        await second.refresh()
        assert [t["rule"] for t in second.active()] == ["team_spike"]
        for throttles in (first, second, first, second):  # 4 a minute across both instances
            await throttles.acheck(keys)
        for throttles in (first, second):
            with pytest.raises(RateLimitError, match="throttled to 4 rpm") as refused:
                await throttles.acheck(keys)
            assert refused.value.status_code == 429 and refused.value.headers["retry-after"] == "60"
        await second.acheck([("team", "other")])  # other teams are not throttled
        assert await second.aclear(("team", "search"))  # the admin, on the other instance
        await first.refresh()
        assert first.active() == [] and second.active() == []
        await first.acheck(keys)  # cleared for both
        assert not await first.aclear(("team", "search"))
    finally:
        await first.stop()
        await second.stop()


async def test_two_forecast_loops_alert_a_burning_budget_once(
    redis_url: str, shared: tuple[redis.Redis, str], tmp_path: Path
) -> None:
    _, prefix = shared
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await migrate_async(engine)
    now = datetime.now(UTC)
    fields = {"user_alias": "Burner", "max_budget": Decimal(10), "budget_reset_at": now + timedelta(days=30)}
    await users.create_user(engine, "u-burn", fields)
    async with engine.begin() as conn:  # $12 in the last 24 h: $0.50/h, $10 left: 20 h < 30 days
        for i in range(12):
            start = now - timedelta(hours=2 * i, minutes=5)
            await conn.execute(
                sa.insert(spend_logs).values(
                    request_id=f"r{i}", call_type="acompletion", spend=Decimal(1), startTime=start,
                    endTime=start, model="gpt-4o", user="u-burn", request_tags=[], metadata={},
                    status="success",
                )
            )  # fmt: skip
    backends = [RedisBudgets(url=redis_url, prefix=prefix) for _ in range(2)]
    channels = [Channel(), Channel()]
    loops = [
        ForecastWatcher(lambda: engine, [channel], mark_once=backend.mark_once)
        for channel, backend in zip(channels, backends, strict=True)
    ]
    try:
        fired = [f for loop in loops for _ in range(2) for f in await loop.check_once(now)]
    finally:
        for backend in backends:
            await backend.close()
        await engine.dispose()
    [forecast] = fired  # one instance, once; the other (and the next checks) see the shared mark
    assert forecast.entity_kind == "user" and forecast.rate_per_hour == Decimal("0.5")
    assert sorted(len(c.texts) for c in channels) == [0, 1]
    assert channels[0].texts + channels[1].texts == [f"ledgerlm budget forecast: {forecast.text()}"]
    assert "user Burner's budget ($10) runs out on " in forecast.text()
