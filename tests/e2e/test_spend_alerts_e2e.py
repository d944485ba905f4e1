"""Spend alerts through the real proxy (openai client, simulator upstream, SQLite store).

A team's steady baseline is crafted into the detector's hourly series (three past hours of tiny spend:
the test cannot wait hours); then real calls spike the current hour. Proves: the rule fires once (one
webhook delivery, its text), the team is throttled to its rpm cap (429 naming the rule) until the admin
clears it (``POST /alerts/throttle/clear``; a virtual key may not), and ``/team/info`` / ``/key/info``
carry the burn-rate ``budget_forecast``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import openai
import pytest
from tests.budgets.receiver import Receiver, http_receiver
from tests.e2e.conftest import Proxy

MESSAGES: Any = [{"role": "user", "content": "spend a little"}]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        async with http_receiver() as rec:
            holder["rec"] = rec
            holder["stop"] = asyncio.Event()
            ready.set()
            await holder["stop"].wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield holder["rec"]
    loop.call_soon_threadsafe(holder["stop"].set)
    thread.join(10)
    loop.close()


@pytest.fixture(scope="module")
def alert_proxy(proxy_factory: Any, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Proxy:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('alerts-db')}/ledgerlm.db"
    spend_alerts = {
        "channels": ["webhook"],
        "webhook": {"endpoint": f"{receiver.url}/alerts", "flush_interval_s": 0.05},
        "forecast_interval_s": 0,
        "rules": [
            {"name": "team_spike", "metric": "spend_per_hour", "dimensions": ["team"], "factor": 3,
             "min_baseline_hours": 3, "action": "throttle", "throttle_rpm": 2},
        ],
    }  # fmt: skip
    return proxy_factory(database_url, spend_alerts=spend_alerts)  # type: ignore[no-any-return]


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _call(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="priced", messages=MESSAGES, max_tokens=5)


def test_spike_alerts_once_throttles_until_cleared_and_forecasts(
    alert_proxy: Proxy, receiver: Receiver
) -> None:
    team_id = alert_proxy.new_team(team_alias="Search", max_budget=1, budget_duration="30d")
    key = alert_proxy.new_key(team_id=team_id, key_alias="search-svc", max_budget=0.5)
    setup = alert_proxy.app.state.proxy.extra["spend_alerts"]
    hour = int(time.time() // 3600)
    for past in (hour - 3, hour - 2, hour - 1):  # the crafted steady baseline: $0.0000001 an hour
        setup.detector.baseline.observe(
            [("team", team_id)], past, spend=Decimal("0.0000001"), tokens=10, failed=False
        )
    client = alert_proxy.client(key)
    _call(client)  # the spike: far above the baseline
    _wait(lambda: alert_proxy.ok("GET", "/alerts/throttles")["data"])
    [throttle] = alert_proxy.ok("GET", "/alerts/throttles")["data"]
    assert throttle["dimension"] == "team" and throttle["value"] == team_id and throttle["rpm"] == 2

    _call(client)
    _call(client)  # 2 requests in the minute: the cap
    with pytest.raises(openai.RateLimitError) as refused:
        _call(client)
    assert "throttled to 2 rpm by spend alert rule 'team_spike'" in str(refused.value)
    assert refused.value.response.headers.get("retry-after")

    status, _, _ = alert_proxy.request(
        "POST", "/alerts/throttle/clear", {"dimension": "team", "value": team_id}, key=key
    )
    assert status in (401, 403)  # a virtual key may not clear a throttle
    status, body, _ = alert_proxy.request(
        "POST", "/alerts/throttle/clear", {"dimension": "nope", "value": "x"}
    )
    assert status == 400 and body["error"]["param"] == "dimension"
    assert alert_proxy.ok("POST", "/alerts/throttle/clear", {"dimension": "team", "value": team_id}) == {
        "cleared": True
    }
    _call(client)  # admitted again; the rule does not fire twice in the hour
    assert alert_proxy.ok("GET", "/alerts/throttles")["data"] == []

    _wait(lambda: bool(receiver.at("/alerts")))
    time.sleep(0.3)  # a second delivery would have arrived by now
    [[alert]] = receiver.at("/alerts")
    assert alert["type"] == "spend_alert" and alert["rule"] == "team_spike" and alert["value"] == team_id
    assert alert["message"].startswith(
        f"ledgerlm spend alert [team_spike]: team {team_id} spend_per_hour is $"
    )
    assert alert["message"].endswith("; throttled to 2 rpm until an admin clears it")
    [recent] = alert_proxy.ok("GET", "/alerts/recent")["data"]
    assert recent["id"] == alert["id"]

    alert_proxy.wait_written()
    team = alert_proxy.ok("GET", f"/team/info?team_id={team_id}")
    forecast = team["budget_forecast"]
    assert forecast["window_hours"] == 24 and Decimal(str(forecast["burn_rate_per_hour"])) > 0
    assert forecast["runs_out_at"] is not None and forecast["budget_reset_at"] is not None
    assert forecast["message"].startswith("at the last 24 h rate ($")
    assert "team Search's budget ($1)" in forecast["message"]
    info = alert_proxy.ok("GET", "/key/info", key=key)
    assert info["budget_forecast"]["message"].startswith("at the last 24 h rate")
    assert "key search-svc's budget ($0.5)" in info["budget_forecast"]["message"]
