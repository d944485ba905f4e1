"""The proxy's forecast loop end to end: real calls (official openai client, simulator upstream) burn the
budgets of a team, its key, the key's user and an end user fast; the loop (a fast interval) forecasts
every budget, alerts each one ONCE through the webhook channel (a local receiver) with the documented
text, does not re-send on the next intervals, and ``/key/info``, ``/team/info``, ``/user/info`` and
``/customer/info`` (``/end_user/info``) carry the same forecast, as does the dashboard's budgets table;
the team's Prometheus gauge is set.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from tests.budgets.receiver import Receiver, threaded_receiver
from tests.e2e.conftest import MASTER_KEY, Proxy
from tests.e2e.test_dashboard_api import Session

MESSAGES: Any = [{"role": "user", "content": "burn"}]
INTERVAL_S = 0.2


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with threaded_receiver() as rec:
        yield rec


@pytest.fixture(scope="module")
def forecast_proxy(proxy_factory: Any, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Proxy:
    database_url = f"sqlite:///{tmp_path_factory.mktemp('forecast-db')}/ledgerlm.db"
    spend_alerts = {
        "channels": ["webhook"],
        "webhook": {"endpoint": f"{receiver.url}/alerts", "flush_interval_s": 0.05},
        "forecast_interval_s": INTERVAL_S,
    }
    return proxy_factory(database_url, spend_alerts=spend_alerts)  # type: ignore[no-any-return]


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _alerts(receiver: Receiver) -> list[dict[str, Any]]:
    return [alert for batch in receiver.at("/alerts") for alert in batch]


def test_forecast_loop_alerts_each_burning_budget_once(forecast_proxy: Proxy, receiver: Receiver) -> None:
    proxy = forecast_proxy
    budget = {"max_budget": 0.0002, "budget_duration": "30d"}  # about 8 calls of the priced model
    team_id = proxy.new_team(team_alias="Burners", **budget)
    proxy.ok("POST", "/user/new", {"user_id": "u-burn", "user_alias": "Burner", **budget})
    proxy.ok("POST", "/customer/new", {"user_id": "eu-burn", "alias": "Burner Inc", **budget})
    key = proxy.new_key(team_id=team_id, user_id="u-burn", key_alias="burner", **budget)
    client = proxy.client(key)
    for _ in range(3):  # the burn: 3 calls in a minute, about 40% of each budget; 24 h rate -> days
        client.chat.completions.create(model="priced", messages=MESSAGES, max_tokens=5, user="eu-burn")
    proxy.wait_written()

    _wait(lambda: len(_alerts(receiver)) >= 4)
    watcher = proxy.app.state.proxy.extra["spend_alerts"].watcher
    checks = watcher.checks
    _wait(lambda: watcher.checks >= checks + 3)  # three more intervals: nothing is re-sent
    alerts = {(a["entity_kind"], a["entity_id"]): a for a in _alerts(receiver)}
    assert len(_alerts(receiver)) == 4 and set(alerts) == {
        ("team", team_id),
        ("key", proxy.ok("GET", "/key/info", key=key)["key"]),
        ("user", "u-burn"),
        ("end_user", "eu-burn"),
    }
    labels = {
        "team": "team Burners",
        "key": "key burner",
        "user": "user Burner",
        "end_user": "end user Burner Inc",
    }
    for (kind, _), alert in alerts.items():
        assert alert["type"] == "budget_forecast" and alert["runs_out_before_reset"] is True
        runs_out = datetime.fromisoformat(alert["runs_out_at"]).date().isoformat()
        reset = datetime.fromisoformat(alert["budget_reset_at"]).date().isoformat()
        assert runs_out < reset
        pattern = (
            rf"ledgerlm budget forecast: at the last 24 h rate \(\$0\.0000\d+/h\), {labels[kind]}'s "
            rf"budget \(\$0\.0002\) runs out on {runs_out} \(resets {reset}\)"
        )
        assert re.fullmatch(pattern, alert["message"]), alert["message"]

    shown = {
        "key": proxy.ok("GET", "/key/info", key=key),
        "team": proxy.ok("GET", f"/team/info?team_id={team_id}"),
        "user": proxy.ok("GET", "/user/info?user_id=u-burn"),
        "end_user": proxy.ok("GET", "/customer/info?end_user_id=eu-burn"),
    }
    assert proxy.ok("GET", "/end_user/info?end_user_id=eu-burn")["budget_forecast"]["runs_out_before_reset"]
    for kind, body in shown.items():
        forecast = body["budget_forecast"]
        assert forecast["runs_out_before_reset"] is True and forecast["window_hours"] == 24
        assert forecast["message"].startswith("at the last 24 h rate ($"), kind
        assert f"{labels[kind]}'s budget ($0.0002) runs out on " in forecast["message"]

    admin = Session(proxy)
    admin.login(MASTER_KEY)
    budgets = {(r["kind"], r["id"]): r for r in admin.ok("/ui/api/budgets")["data"]}
    for entity in alerts:  # the dashboard's budgets page: the loop's last forecast, no extra query
        forecast = budgets[entity]["forecast"]
        assert forecast["runs_out_before_reset"] is True and "runs out on" in forecast["message"]

    from ledgerlm.integrations.prometheus import default_metrics

    gauge = default_metrics().registry.get_sample_value(
        "ledgerlm_budget_forecast_runs_out_timestamp_seconds", {"scope": "team", "name": "Burners"}
    )
    latest = watcher.latest[("team", team_id)].runs_out_at.timestamp()  # the alert may predate a call
    assert gauge is not None and abs(gauge - latest) < 600  # refreshed each interval (now moves on)
