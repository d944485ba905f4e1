"""Operational alerts through the budget alert channels (issues 14 and 20), on SQLite and PostgreSQL.

A real proxy (thread), the simulator, the official openai client, and a local HTTP receiver standing in
for the webhook and the Slack incoming webhook. Proves: a spend row flagged in ``metadata.anomalies``
(clamped poisoned usage) and a row written in its minimal form (the database refuses the full row: a
real CHECK constraint / trigger) each raise one alert and count in ``ledgerlm_ledger_anomalies_total``;
a tag quarantine (policy from ``litellm_settings.tag_policies``) alerts once per day and dimension and
counts every event; a drift report whose untagged share passes the threshold alerts once per period
and dimension; ``require_auth_for_metrics_endpoint: false`` opens ``/metrics``.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from tests.budgets.receiver import Receiver, http_receiver
from tests.e2e.conftest import SIM_KEY, Proxy, sync_url

from ledgerlm.simulator import Simulator

MESSAGES = [{"role": "user", "content": "hi"}]
REFUSED_IP = "198.51.100.77"  # the test's CHECK constraint refuses rows from this address


def _models(sim_url: str) -> list[dict[str, Any]]:
    priced = {"input_cost_per_token": "0", "output_cost_per_token": "0.00001"}
    base = {"api_base": f"{sim_url}/v1", "api_key": SIM_KEY, **priced}
    return [
        {"model_name": "fine", "litellm_params": {"model": "openai/sim-fine", **base}},
        {"model_name": "poison", "litellm_params": {"model": "openai/sim-poison", **base}},
    ]


def _start(proxy_factory: Any, simulator: Simulator, database_url: str, receiver: Receiver) -> Proxy:
    simulator.models["sim-fine"] = {"completion_tokens": 10}
    simulator.models["sim-poison"] = {"completion_tokens": 2**63}
    alerts = {"webhook_urls": [receiver.url + "/hook"], "slack_webhook_urls": [receiver.url + "/slack"]}
    env = {"required": True, "allowed": ["production"], "action": "quarantine"}
    started: Proxy = proxy_factory(
        database_url,
        model_list=_models(simulator.url),
        budget_settings={"alerts": alerts},
        general_settings={"tag_drift_alert_threshold": 0.1},
        litellm_settings={
            "callbacks": ["prometheus"],
            "require_auth_for_metrics_endpoint": False,
            "tag_policies": {"env": env},  # LiteLLM's layout: beside extra_spend_tag_headers
        },
    )
    return started


def _chat(proxy: Proxy, model: str, tags: list[str], headers: dict[str, str] | None = None) -> str:
    client = proxy.client()
    raw = client.chat.completions.with_raw_response.create(
        model=model,
        messages=MESSAGES,  # type: ignore[arg-type]
        max_tokens=10,
        extra_body={"tags": tags},
        extra_headers=headers or {},
    )
    assert raw.status_code == 200
    return str(raw.headers["x-request-id"])


def _metrics(proxy: Proxy) -> str:
    """``/metrics`` WITHOUT any key (the setting opens it)."""
    with urllib.request.urlopen(f"{proxy.url}/metrics", timeout=10) as response:
        assert response.status == 200
        return str(response.read().decode())


def _counter(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _events(receiver: Receiver, event: str, at_least: int = 1) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        found = [b for b in receiver.at("/hook") if b.get("event") == event]
        if len(found) >= at_least:
            return found
        assert time.monotonic() < deadline, f"no {event} alert; got {receiver.at('/hook')}"
        await asyncio.sleep(0.02)


def _refuse_rows_from(database_url: str, ip: str, on: bool) -> None:
    """A real CHECK constraint (PostgreSQL) / trigger (SQLite) refusing the full row of one address."""
    engine = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
    pg = database_url.startswith("postgresql")
    with engine.begin() as conn:
        if on and pg:
            conn.exec_driver_sql(
                "ALTER TABLE spend_logs ADD CONSTRAINT no_ip CHECK "
                f"(requester_ip_address IS NULL OR requester_ip_address <> '{ip}')"
            )
        elif on:
            conn.exec_driver_sql(
                "CREATE TRIGGER no_ip BEFORE INSERT ON spend_logs "
                f"WHEN NEW.requester_ip_address = '{ip}' BEGIN SELECT RAISE(ABORT, 'no ip'); END"
            )
        else:
            drop = "ALTER TABLE spend_logs DROP CONSTRAINT no_ip" if pg else "DROP TRIGGER no_ip"
            conn.exec_driver_sql(drop)
    engine.dispose()


async def test_ledger_anomalies_alert_and_count(
    proxy_factory: Any, simulator: Simulator, database_url: str
) -> None:
    run = asyncio.get_running_loop().run_in_executor
    async with http_receiver() as receiver:
        proxy = _start(proxy_factory, simulator, database_url, receiver)
        before = _counter(await run(None, _metrics, proxy), "ledgerlm_ledger_anomalies_total", kind="flagged")
        poisoned = await run(None, _chat, proxy, "poison", ["env:production"])
        await run(None, _chat, proxy, "poison", ["env:production"])  # a second one: counted, not re-sent
        await run(None, proxy.wait_written)
        flagged = (await _events(receiver, "ledger_anomaly"))[0]
        assert flagged["type"] == "ledgerlm_alert" and flagged["details"]["request_id"] == poisoned
        assert {"completion_tokens", "spend"} <= {a["field"] for a in flagged["details"]["anomalies"]}
        assert any("clamped or cut" in b["text"] for b in receiver.at("/slack"))
        text = await run(None, _metrics, proxy)
        assert _counter(text, "ledgerlm_ledger_anomalies_total", kind="flagged") == before + 2
        assert len([b for b in receiver.at("/hook") if b["event"] == "ledger_anomaly"]) == 1  # once an hour

        await run(None, _refuse_rows_from, database_url, REFUSED_IP, True)
        try:
            forwarded = {"X-Forwarded-For": REFUSED_IP}
            refused = await run(None, _chat, proxy, "fine", ["env:production"], forwarded)
            await run(None, proxy.wait_written)
            minimal = (await _events(receiver, "ledger_minimal_row"))[0]
        finally:
            await run(None, _refuse_rows_from, database_url, REFUSED_IP, False)
        assert minimal["details"]["request_id"] == refused
        assert proxy.row(refused)["metadata"]["anomalies"][0]["field"] == "*"  # the minimal form, counted
        text = await run(None, _metrics, proxy)
        assert _counter(text, "ledgerlm_ledger_anomalies_total", kind="minimal") >= 1


async def test_tag_quarantine_and_drift_alert_once(
    proxy_factory: Any, simulator: Simulator, database_url: str
) -> None:
    run = asyncio.get_running_loop().run_in_executor
    async with http_receiver() as receiver:
        proxy = _start(proxy_factory, simulator, database_url, receiver)
        series = "ledgerlm_tag_alerts_total"
        before = _counter(await run(None, _metrics, proxy), series, event="tag_quarantine", dimension="env")
        untagged = await run(None, _chat, proxy, "fine", [f"job:{uuid.uuid4().hex[:6]}"])
        await run(None, _chat, proxy, "fine", ["env:prdo"])  # invalid: quarantined again, same day
        await run(None, proxy.wait_written)
        assert "env:untagged" in proxy.row(untagged)["request_tags"]  # the policy from litellm_settings
        alert = (await _events(receiver, "tag_quarantine"))[0]
        assert alert["subject"] == "env" and alert["details"]["quarantined_as"] == "env:untagged"
        text = await run(None, _metrics, proxy)
        assert _counter(text, series, event="tag_quarantine", dimension="env") == before + 2
        assert len([b for b in receiver.at("/hook") if b["event"] == "tag_quarantine"]) == 1  # once a day

        today = datetime.now(UTC).date().isoformat()
        # dimension job: only one call of this module carries a value (>= half the spend is untagged)
        query = f"/tags/drift?start_date={today}&end_date={today}&dimension=job"
        for _ in range(2):  # the same period twice: one alert
            report = await run(None, proxy.ok, "GET", query)
        assert [a["dimension"] for a in report["alerts"]] == ["job"]
        drift = (await _events(receiver, "tag_drift"))[0]
        assert drift["subject"] == "job" and drift["details"]["from"] == today
        shown = Decimal(str(report["alerts"][0]["untagged_share"]))
        assert Decimal(drift["details"]["untagged_share"]) == shown
        await asyncio.sleep(0.2)
        assert len([b for b in receiver.at("/hook") if b["event"] == "tag_drift"]) == 1
        slack = [b["text"] for b in receiver.at("/slack")]
        assert any(re.search(r"untagged share .* passed the threshold", text) for text in slack)
