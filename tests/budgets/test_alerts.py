"""Soft-budget and threshold alerts reach a webhook and a Slack incoming webhook, once per period."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ledgerlm.budgets.alerts import AlertSettings, BudgetAlerts, HTTPAlertSender, crossed
from ledgerlm.budgets.reservations import Budgets
from ledgerlm.budgets.types import EntityLimits, EntityRef

from .conftest import Pair
from .prices import LinearPrice
from .receiver import http_receiver

PRICE = LinearPrice(Decimal("0.000001"), Decimal("0.000001"))
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10}


def test_crossed_levels() -> None:
    entity = EntityLimits(EntityRef("key", "k"), max_budget=Decimal(10), soft_budget=Decimal(3))
    assert crossed(entity, Decimal("2.99"), (Decimal("0.5"),)) == []
    assert crossed(entity, Decimal(8), (Decimal("0.5"), Decimal("0.8"), Decimal(1))) == [
        ("soft_budget", Decimal(3)),
        ("threshold_50", Decimal(5)),
        ("threshold_80", Decimal(8)),
    ]


async def test_alerts_sent_once_per_period_to_webhook_and_slack(pair: Pair) -> None:
    reset_at = datetime(2031, 1, 1, tzinfo=UTC)
    team = EntityLimits(
        EntityRef("team", "team-alerts"),
        max_budget=Decimal(1),
        soft_budget=Decimal("0.3"),
        budget_reset_at=reset_at,
    )
    async with http_receiver() as receiver:
        settings = AlertSettings(
            webhook_urls=(receiver.url + "/hook",), slack_webhook_urls=(receiver.url + "/slack",)
        )
        sender = HTTPAlertSender(settings)
        hooks = [BudgetAlerts(backend, sender, settings) for backend in (pair.first, pair.second)]
        engines = [
            Budgets(backend, on_settled=hook)
            for backend, hook in zip((pair.first, pair.second), hooks, strict=True)
        ]
        for i, cost in enumerate(["0.2", "0.15", "0.1", "0.05"]):  # 0.2, 0.35, 0.45, 0.5
            engine = engines[i % 2]
            reservation = await engine.reserve([team], price=PRICE, body=BODY, request_id=str(i))
            await engine.settle(reservation, Decimal(cost))
        for hook in hooks:
            await hook.drain()
        await sender.close()
    events = [body["event"] for body in receiver.at("/hook")]
    assert events == ["soft_budget", "threshold_50"]
    first = receiver.at("/hook")[0]
    assert first["entity_kind"] == "team" and first["entity_id"] == "team-alerts"
    assert first["spend"] == "0.35" and first["limit"] == "0.3"
    assert first["budget_reset_at"] == reset_at.isoformat()
    slack = receiver.at("/slack")
    assert len(slack) == 2 and set(slack[0]) == {"text"}
    assert "team 'team-alerts' reached soft budget" in slack[0]["text"]
    assert sender.failures == 0


async def test_failed_delivery_is_counted_not_raised(pair: Pair) -> None:
    entity = EntityLimits(EntityRef("key", "k-alert"), soft_budget=Decimal(0))
    sender = HTTPAlertSender(AlertSettings(webhook_urls=("http://127.0.0.1:9/unreachable",), timeout_s=2))
    alerts = BudgetAlerts(pair.first, sender, background=False)
    sent = await alerts.check(entity)
    await sender.close()
    assert [a.event for a in sent] == ["soft_budget"]
    assert sender.failures == 1
