"""Spend alerts against crafted traffic: a steady baseline, then a spike; a budget burning fast.

Alerts go through the real exporters (Slack, webhook, Sentry) to a real local HTTP receiver; the
tests assert the alert, its text, its single delivery per channel, and the throttle action.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from aiohttp import web
from sentry_sdk.envelope import Envelope

from ledgerlm.budgets.alert_channels import SentryChannel, SlackChannel, WebhookChannel, build_channels
from ledgerlm.budgets.baseline import HourlyBaseline
from ledgerlm.budgets.forecast import forecast_budget
from ledgerlm.budgets.forecast_watch import ForecastWatcher
from ledgerlm.budgets.spend_alerts import AlertRule, SpendAlerts, parse_rules
from ledgerlm.errors import RateLimitError
from ledgerlm.integrations.sentry import SentryExporter
from ledgerlm.integrations.slack import SlackAlerter
from ledgerlm.integrations.webhook import WebhookExporter
from ledgerlm.store import teams
from ledgerlm.store.engine import create_engine
from ledgerlm.store.migrate import migrate_async
from ledgerlm.store.tables import spend_logs
from ledgerlm.store.tables import teams as team_table

FAST = {"flush_interval_s": 0.02, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_retries": 2}
H0 = 1_796_000_000 // 3600  # an hour number (epoch seconds // 3600)


class Capture:
    """A real HTTP server recording raw POST bodies per path."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[bytes]] = {}
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.setdefault(request.path, []).append(await request.read())
        return web.Response(text="{}", content_type="application/json")


@pytest.fixture
async def capture() -> AsyncIterator[Capture]:
    cap = Capture()
    app = web.Application()
    app.router.add_post("/{tail:.*}", cap.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    cap.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield cap
    await runner.cleanup()


def _call(team: str, cost: str, *, failed: bool = False, tokens: int = 100) -> dict[str, Any]:
    return {
        "id": f"req-{uuid.uuid4().hex}",
        "status": "failure" if failed else "success",
        "team_id": team,
        "key_hash": "k" * 64,
        "key_alias": "svc-search",
        "model_group": "gpt-4o",
        "request_tags": ["feature:search"],
        "usage": {"input_tokens": tokens, "output_tokens": 0},
        "cost": {"total": cost},
    }


class Clock:
    def __init__(self, hour: int) -> None:
        self.now = hour * 3600.0 + 60

    def __call__(self) -> float:
        return self.now


def _exporters(capture: Capture) -> tuple[SlackAlerter, WebhookExporter, SentryExporter]:
    slack = SlackAlerter.from_settings({**FAST, "webhook_url": f"{capture.url}/slack"}, {})
    hook = WebhookExporter.from_settings({**FAST, "endpoint": f"{capture.url}/hook"}, {})
    dsn = f"http://pub@{capture.url.removeprefix('http://')}/9"
    sentry = SentryExporter.from_settings(FAST, {"SENTRY_DSN": dsn})
    return slack, hook, sentry


async def test_spike_over_baseline_alerts_once_on_every_channel_and_throttles(capture: Capture) -> None:
    clock = Clock(H0)
    slack, hook, sentry = _exporters(capture)
    rules = parse_rules(
        [{"name": "team_spike", "metric": "spend_per_hour", "dimensions": ["team"], "factor": 3,
          "min_baseline_hours": 3, "min_current": 1, "action": "throttle", "throttle_rpm": 5}]
    )  # fmt: skip
    alerts = SpendAlerts(
        rules, channels=[SlackChannel(slack), WebhookChannel(hook), SentryChannel(sentry)], clock=clock
    )
    for _hour in range(6):  # steady: $1.00 an hour (10 calls of $0.10)
        for _ in range(10):
            assert alerts.observe(_call("search", "0.10")) == []
        clock.now += 3600
    fired = []
    for _ in range(40):  # the spike: $4.00 in one hour
        fired.extend(alerts.observe(_call("search", "0.10")))
    [anomaly] = fired  # fires once (at $3.00, 3x), de-duplicated after
    assert anomaly.dimension == "team" and anomaly.value == "search"
    assert anomaly.current == Decimal("3.00") and anomaly.baseline == Decimal("1.00")
    hour = datetime.fromtimestamp((H0 + 6) * 3600, UTC).strftime("%Y-%m-%d %H:00")
    assert anomaly.text() == (
        f"ledgerlm spend alert [team_spike]: team search spend_per_hour is $3.0000 in the hour from {hour} "
        "UTC, 3.0x its 6 h baseline of $1.0000; throttled to 5 rpm until an admin clears it"
    )
    try:
        for exporter in (slack, hook, sentry):
            assert await exporter.aflush()
    finally:
        for exporter in (slack, hook, sentry):
            await exporter.aclose()
    [slack_body] = capture.bodies["/slack"]
    assert orjson.loads(slack_body)["text"] == anomaly.text()
    [hook_body] = capture.bodies["/hook"]
    [payload] = orjson.loads(hook_body)
    assert (
        payload["type"] == "spend_alert" and payload["rule"] == "team_spike" and payload["current"] == "3.00"
    )
    [sentry_body] = capture.bodies["/api/9/envelope/"]
    event = Envelope.deserialize(sentry_body).get_event()
    assert event is not None and event["message"]["formatted"] == anomaly.text()

    throttles = alerts.throttles
    assert [t["value"] for t in throttles.active()] == ["search"]
    keys = [("team", "search"), ("model", "gpt-4o")]
    for _ in range(5):
        throttles.check(keys)
    with pytest.raises(RateLimitError, match="throttled to 5 rpm") as caught:
        throttles.check(keys)
    assert caught.value.status_code == 429
    throttles.check([("team", "other")])  # other teams are not throttled
    assert throttles.clear(("team", "search"))
    throttles.check(keys)  # cleared by an admin


def test_ratio_metrics_and_bounded_cardinality() -> None:
    clock = Clock(H0)
    rule = AlertRule.from_mapping(
        {"name": "errors", "metric": "error_share", "dimensions": ["model"], "factor": 2, "min_requests": 10}
    )
    alerts = SpendAlerts([rule], clock=clock, baseline=HourlyBaseline(window_hours=24, max_series=5))
    for _ in range(4):
        for i in range(10):
            alerts.observe(_call(f"t{i}", "0.01", failed=i == 0))  # 10% errors
        clock.now += 3600
    fired = [a for i in range(10) for a in alerts.observe(_call("t", "0.01", failed=i < 5))]
    [anomaly] = fired  # 50% vs 10%: fired once at the 10th call (min_requests)
    assert anomaly.current == Decimal("0.5") and "50.0%" in anomaly.text()
    assert len(alerts.baseline) <= 5 and alerts.baseline.evicted > 0
    with pytest.raises(ValueError, match="throttle_rpm"):
        AlertRule.from_mapping({"name": "x", "action": "throttle"})
    with pytest.raises(ValueError, match="metric"):
        AlertRule.from_mapping({"name": "x", "metric": "cost"})
    with pytest.raises(ValueError, match="unknown channel"):
        build_channels(["pager"], {})


def test_forecast_text_and_states() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    reset = datetime(2027, 1, 1, tzinfo=UTC)
    forecast = forecast_budget(
        ("team", "t-1", "Search"), (Decimal(40), Decimal(100), reset), (24, Decimal("4.8")), now
    )
    assert forecast.rate_per_hour == Decimal("0.2")
    assert forecast.runs_out_at == now + timedelta(hours=300)  # $60 left at $0.20/h
    assert forecast.before_reset
    assert forecast.text() == (
        "at the last 24 h rate ($0.2000/h), team Search's budget ($100) runs out on 2026-12-19 "
        "(resets 2027-01-01)"
    )
    idle = forecast_budget(
        ("team", "t-1", "Search"), (Decimal(40), Decimal(100), reset), (24, Decimal(0)), now
    )
    assert idle.runs_out_at is None and not idle.before_reset


async def test_forecast_watcher_alerts_a_budget_burning_fast_once(tmp_path: Path, capture: Capture) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ledger.db'}")
    await migrate_async(engine)
    now = datetime.now(UTC)
    reset = now + timedelta(days=30)
    await teams.create_team(
        engine,
        "t-search",
        {"team_alias": "Search", "max_budget": Decimal(100), "budget_duration": "30d"}
        | {"budget_reset_at": reset},
    )
    await teams.create_team(engine, "t-idle", {"team_alias": "Idle", "max_budget": Decimal(100)})
    async with engine.begin() as conn:  # $24 in the last 24 h: $1/h, $60 left: 60 h < 30 days
        await conn.execute(sa.update(team_table).where(team_table.c.team_id == "t-search").values(spend=40))
        for i in range(24):
            start = now - timedelta(hours=i, minutes=5)
            await conn.execute(
                sa.insert(spend_logs).values(
                    request_id=f"r{i}", call_type="acompletion", spend=Decimal(1), startTime=start,
                    endTime=start, model="gpt-4o", team_id="t-search", request_tags=[], metadata={},
                    status="success",
                )
            )  # fmt: skip
    hook = WebhookExporter.from_settings({**FAST, "endpoint": f"{capture.url}/hook"}, {})
    watcher = ForecastWatcher(lambda: engine, [WebhookChannel(hook)])
    try:
        [fired] = await watcher.check_once(now)
        assert await watcher.check_once(now) == []  # once per budget period
        assert await hook.aflush()
    finally:
        await hook.aclose()
        await engine.dispose()
    assert fired.entity_id == "t-search" and fired.rate_per_hour == Decimal(1)
    from ledgerlm.integrations.prometheus import default_metrics

    gauge = default_metrics().registry.get_sample_value(
        "ledgerlm_budget_forecast_runs_out_timestamp_seconds", {"scope": "team", "name": "Search"}
    )
    assert fired.runs_out_at is not None and gauge == fired.runs_out_at.timestamp()
    assert fired.text().startswith(
        "at the last 24 h rate ($1.0000/h), team Search's budget ($100) runs out on "
    )
    [body] = capture.bodies["/hook"]
    [payload] = orjson.loads(body)
    assert payload["type"] == "budget_forecast" and payload["runs_out_before_reset"] is True
    assert payload["message"] == f"ledgerlm budget forecast: {fired.text()}"
