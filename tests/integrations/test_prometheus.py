"""Prometheus metrics through the real ``/metrics`` ASGI app, parsed with prometheus_client's parser."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from exporter_support import Receiver, make_record, serve_asgi
from prometheus_client.parser import text_string_to_metric_families

from ledgerlm.integrations.prometheus import (
    OTHER,
    PrometheusExporter,
    PrometheusMetrics,
    mark_worker_dead,
    metrics_app,
)
from ledgerlm.integrations.settings import BatchSettings
from ledgerlm.integrations.webhook import WebhookExporter

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def _scrape(metrics: PrometheusMetrics | None = None) -> tuple[str, Samples]:
    async with (
        serve_asgi(metrics_app(metrics)) as url,
        aiohttp.ClientSession() as client,
        client.get(f"{url}/metrics") as resp,
    ):
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = await resp.text()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, samples


def _get(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples[(metric, tuple(sorted(labels.items())))]


async def test_call_series_values() -> None:
    metrics = PrometheusMetrics(key_allowlist={"svc-chat"}, tag_allowlist={"prod"})
    exporter = PrometheusExporter(metrics)
    ok = make_record(metadata={"overhead_s": 0.004})
    failed = make_record(
        status="failure",
        error={"type": "RateLimitError", "message": "slow down"},
        cost={"total": None, "unpriced_reason": "no price"},
        usage={},
        stream=False,
    )
    await exporter.async_log_success_event({"standard_logging_object": ok}, None, 0, 1)
    await exporter.async_log_failure_event({"standard_logging_object": failed}, None, 0, 1)
    _, samples = await _scrape(metrics)

    group = {"model_group": "gpt-4o-mini", "provider": "openai"}
    assert _get(samples, "ledgerlm_requests_total", **group, status="success", team="team-a") == 1
    assert _get(samples, "ledgerlm_requests_total", **group, status="failure", team="team-a") == 1
    assert (
        _get(samples, "ledgerlm_request_failures_total", **group, team="team-a", error_type="RateLimitError")
        == 1
    )
    assert _get(samples, "ledgerlm_tokens_total", **group, team="team-a", type="input") == 1200
    assert _get(samples, "ledgerlm_tokens_total", **group, team="team-a", type="cache_read") == 1000
    assert _get(samples, "ledgerlm_tokens_total", **group, team="team-a", type="reasoning") == 120
    assert _get(samples, "ledgerlm_spend_usd_total", **group, team="team-a") == pytest.approx(0.000375)
    assert _get(samples, "ledgerlm_unpriced_requests_total", **group) == 1
    assert _get(samples, "ledgerlm_request_latency_seconds_count", **group, status="success") == 1
    assert _get(samples, "ledgerlm_request_latency_seconds_bucket", **group, status="success", le="2.5") == 1
    assert _get(samples, "ledgerlm_request_latency_seconds_bucket", **group, status="success", le="1.0") == 0
    assert _get(samples, "ledgerlm_overhead_latency_seconds_sum", **group) == pytest.approx(0.004)
    assert _get(samples, "ledgerlm_time_to_first_token_seconds_count", **group) == 1
    assert _get(samples, "ledgerlm_key_requests_total", key="svc-chat") == 2
    assert _get(samples, "ledgerlm_key_spend_usd_total", key="svc-chat") == pytest.approx(0.000375)
    assert _get(samples, "ledgerlm_tag_requests_total", tag="prod") == 2
    assert not any(("tag", "chatbot") in labels for _, labels in samples)  # not allow-listed


async def test_series_stay_bounded_with_10000_distinct_keys() -> None:
    metrics = PrometheusMetrics(key_allowlist={"allowed-key"}, tag_allowlist={"prod"}, max_label_values=20)

    def call(i: int) -> dict[str, object]:
        return make_record(
            id=f"r{i}",
            key_hash=f"{i:064x}",
            key_alias="allowed-key" if i == 7 else f"key-{i}",
            user_id=f"user-{i}",
            end_user=f"customer-{i}",
            team_id=f"team-{i % 500}",
            request_tags=["prod", f"session-{i}"],
            messages=None,
            response=None,
        )

    for i in range(1_000):
        metrics.record_call(call(i))
        metrics.set_budget_remaining("key", f"key-{i}", Decimal("5"))
    _, samples_1k = await _scrape(metrics)
    for i in range(1_000, 10_000):
        metrics.record_call(call(i))
        metrics.set_budget_remaining("key", f"key-{i}", Decimal("5"))
    text_10k, samples_10k = await _scrape(metrics)

    # ledgerlm_exporter_* series describe live exporter objects (other tests' exporters may be garbage
    # collected between the two scrapes), not calls: compare the call-labelled series only
    def call_series(samples: Samples) -> set[object]:
        return {s for s in samples if not s[0].startswith("ledgerlm_exporter_")}

    assert call_series(samples_10k) == call_series(samples_1k)  # 9,000 more keys added no series at all
    assert len(samples_10k) < 2_000  # ledgerlm's series and the same calls under LiteLLM's names
    assert "key-42" not in text_10k and "customer-" not in text_10k and "session-" not in text_10k
    teams = {dict(labels).get("team") for _, labels in samples_10k} - {None}
    assert len(teams) == 21 and OTHER in teams  # 20 distinct teams + __other__
    assert _get(samples_10k, "ledgerlm_key_requests_total", key="allowed-key") == 1
    assert _get(samples_10k, "ledgerlm_tag_requests_total", tag="prod") == 10_000
    total = sum(v for (name, _), v in samples_10k.items() if name == "ledgerlm_requests_total")
    assert total == 10_000
    litellm_total = sum(v for (name, _), v in samples_10k.items() if name == "litellm_requests_metric_total")
    assert litellm_total == 10_000  # LiteLLM's names count the same calls (its Grafana dashboards work)
    assert _get(samples_10k, "litellm_requests_metric_total", **_litellm_labels("allowed-key", 7)) == 1


async def test_proxy_gauges_and_budget() -> None:
    metrics = PrometheusMetrics(key_allowlist={"vip"})
    metrics.queue_depth.set(12)
    metrics.spool_events.set(3)
    metrics.callback_drops.labels(metrics.label("callback", "langfuse")).inc(2)
    metrics.set_budget_remaining("team", "team-a", Decimal("12.50"))
    metrics.set_budget_remaining("key", "vip", 3)
    metrics.set_budget_remaining("key", "someone-else", 3)  # not allow-listed: not exported
    metrics.set_budget_remaining("global", "all", Decimal("100"))
    metrics.set_budget_remaining("global", "all", None)  # removed
    with pytest.raises(ValueError, match="scope"):
        metrics.set_budget_remaining("planet", "x", 1)
    _, samples = await _scrape(metrics)
    assert _get(samples, "ledgerlm_spend_writer_queue_depth") == 12
    assert _get(samples, "ledgerlm_spend_spool_events") == 3
    assert _get(samples, "ledgerlm_callback_drops_total", callback="langfuse") == 2
    assert _get(samples, "ledgerlm_budget_remaining_usd", scope="team", name="team-a") == 12.5
    assert _get(samples, "ledgerlm_budget_remaining_usd", scope="key", name="vip") == 3
    budgets = {dict(labels)["name"] for name, labels in samples if name == "ledgerlm_budget_remaining_usd"}
    assert budgets == {"team-a", "vip"}


WORKER = textwrap.dedent(
    """
    import sys
    from ledgerlm.integrations import prometheus
    sys.path.insert(0, sys.argv[1])
    from exporter_support import Receiver, make_record, serve_asgi
    for i in range(3):
        prometheus.record_call(make_record(team_id="team-mp"))
    prometheus.set_spend_queue_depth(5)
    prometheus.inc_callback_drops("webhook")
    """
)


async def test_multiprocess_workers_are_merged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc), "PATH": "/usr/bin:/bin"}
    here = str(Path(__file__).parent)
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, here], env=env) for _ in range(2)]
    assert [w.wait(timeout=60) for w in workers] == [0, 0]

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(multiproc))
    _, samples = await _scrape()
    labels = {"model_group": "gpt-4o-mini", "provider": "openai", "status": "success", "team": "team-mp"}
    assert _get(samples, "ledgerlm_requests_total", **labels) == 6
    assert _get(samples, "ledgerlm_callback_drops_total", callback="webhook") == 2
    assert _get(samples, "ledgerlm_spend_writer_queue_depth") == 10  # livesum over both workers
    for worker in workers:
        mark_worker_dead(worker.pid)  # the process manager's child-exit hook
    _, samples = await _scrape()
    assert _get(samples, "ledgerlm_requests_total", **labels) == 6  # counters survive the workers
    assert ("ledgerlm_spend_writer_queue_depth", ()) not in samples  # live gauges do not


class _ProbeExporter(WebhookExporter):
    name = "probe_exporter"


async def test_exporter_counters_are_exported(receiver: Receiver) -> None:
    exporter = _ProbeExporter(f"{receiver.url}/hook", settings=BatchSettings(flush_interval_s=0.02))
    try:
        for _ in range(3):
            exporter.enqueue(make_record())
        assert await exporter.aflush()
        _, samples = await _scrape(PrometheusMetrics())
    finally:
        await exporter.aclose()
    assert _get(samples, "ledgerlm_exporter_events_total", exporter="probe_exporter", outcome="sent") == 3
    assert _get(samples, "ledgerlm_exporter_events_total", exporter="probe_exporter", outcome="dropped") == 0
    assert _get(samples, "ledgerlm_exporter_queue_depth", exporter="probe_exporter") == 0


def _litellm_labels(alias: str, i: int) -> dict[str, str]:
    """The LiteLLM-named labels of call ``i`` made with an allow-listed key (its key labels are kept)."""
    return {
        "end_user": "",
        "hashed_api_key": f"{i:064x}",
        "api_key_alias": alias,
        "model": "gpt-4o-mini",
        "team": f"team-{i % 500}",
        "team_alias": "unknown",
        "user": "",
    }
