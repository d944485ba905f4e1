"""Slack alerts against a real local receiver, and the exporter registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from exporter_support import Receiver, make_record, wait_until

from ledgerlm.integrations import exporter_names, get_exporter, slack
from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.datadog import DatadogExporter
from ledgerlm.integrations.file import FileExporter
from ledgerlm.integrations.otel import OtelExporter
from ledgerlm.integrations.prometheus import PrometheusExporter
from ledgerlm.integrations.settings import BatchSettings
from ledgerlm.integrations.slack import AlertLimiter, SlackAlerter
from ledgerlm.integrations.webhook import WebhookExporter

FAST = BatchSettings(flush_interval_s=0.02, backoff_initial_s=0.01, backoff_max_s=0.05, max_retries=2)


@pytest.fixture
def no_default_alerter() -> Iterator[None]:
    slack.set_default_alerter(None)
    yield
    slack.set_default_alerter(None)


def _texts(receiver: Receiver) -> list[str]:
    return [orjson.loads(r.body)["text"] for r in receiver.requests]


async def test_failure_alerts_are_rate_limited(receiver: Receiver) -> None:
    now = [1000.0]
    alerter = SlackAlerter(f"{receiver.url}/hook", alert_interval_s=60, settings=FAST, clock=lambda: now[0])
    error = {"type": "RateLimitError", "status": 429, "message": "slow <down> & retry"}
    try:
        assert not alerter.enqueue(make_record())  # a success: no alert
        assert alerter.enqueue(make_record(id="f-1", status="failure", error=error))
        for i in range(5):  # a storm of the same failure within the interval
            assert not alerter.enqueue(make_record(id=f"f-storm-{i}", status="failure", error=error))
        assert await alerter.aflush()
        now[0] += 61
        assert alerter.enqueue(make_record(id="f-2", status="failure", error=error))
        assert await alerter.aflush()
    finally:
        await alerter.aclose()

    first, second = _texts(receiver)
    assert "RateLimitError" in first and "(429)" in first
    assert "model group `gpt-4o-mini`" in first and "team `team-a`" in first and "request `f-1`" in first
    assert "slow &lt;down&gt; &amp; retry" in first  # escaped as Slack asks
    assert "secret prompt" not in first and "a" * 64 not in first  # no content, no key hash
    assert "request `f-2`" in second and "(5 similar alerts suppressed)" in second


async def test_alert_function_for_budgets(
    receiver: Receiver, tmp_path: Path, no_default_alerter: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    assert slack.alert("no webhook yet") is False

    exporter = get_exporter("slack", {"webhook_url": f"{receiver.url}/hook", "flush_interval_s": 0.02})
    assert isinstance(exporter, SlackAlerter)
    try:
        assert slack.alert("Team team-a reached 80% of its $100.00 budget")
        assert slack.alert("Team team-b reached 100% of its $50.00 budget")
        assert not slack.alert("Team team-a reached 80% of its $100.00 budget")  # same alert again
        await wait_until(lambda: len(receiver.requests) >= 1)
        assert await exporter.aflush()
    finally:
        await exporter.aclose()
    text = "\n\n".join(_texts(receiver))
    assert "team-a reached 80%" in text and "team-b reached 100%" in text
    assert text.count("team-a reached 80%") == 1


def test_alert_limiter_global_cap() -> None:
    now = [0.0]
    limiter = AlertLimiter(interval_s=60, per_minute=3, clock=lambda: now[0])
    assert [limiter.hit(i)[0] for i in range(5)] == [True, True, True, False, False]
    now[0] = 61.0
    assert limiter.hit(3) == (True, 1)  # key 3 was suppressed once before


def test_registry_names_and_errors(tmp_path: Path) -> None:
    assert {"otel", "prometheus", "langfuse", "datadog", "generic_api", "webhook", "file", "slack"} <= set(
        exporter_names()
    )
    with pytest.raises(KeyError, match="unknown exporter"):
        get_exporter("nope", {})
    with pytest.raises(KeyError, match="use `file`"):
        get_exporter("gcs_bucket", {})
    with pytest.raises(ValueError, match="s3_bucket_name"):
        get_exporter("s3", {"litellm_settings": {}})
    with pytest.raises(ValueError, match="GENERIC_LOGGER_ENDPOINT"):
        get_exporter("generic_api", {"litellm_settings": {}})
    assert isinstance(get_exporter("prometheus", {}), PrometheusExporter)


def test_registry_reads_a_proxy_config(tmp_path: Path) -> None:
    config = {
        "model_list": [],
        "general_settings": {"spool_dir": str(tmp_path / "spool")},
        "litellm_settings": {"callbacks": ["my_hook", "file"], "turn_off_message_logging": True},
        "callback_settings": {
            "my_hook": {
                "callback_type": "generic_api",
                "endpoint": "http://127.0.0.1:9/x",
                "content_logging": True,
            },
            "file": {"directory": str(tmp_path / "files")},
            "datadog": {"site": "us5.datadoghq.com"},
        },
        "environment_variables": {"DD_API_KEY": "from-config"},
    }
    hook = get_exporter("my_hook", config)
    assert isinstance(hook, WebhookExporter) and hook.endpoint == "http://127.0.0.1:9/x"
    assert hook.settings.content_logging is False  # turn_off_message_logging wins
    assert hook.settings.spool_dir == tmp_path / "spool" / "exporters"
    sink = get_exporter("file", config)
    assert isinstance(sink, FileExporter) and sink.directory == tmp_path / "files"
    dd = get_exporter("datadog", config)
    assert (
        isinstance(dd, DatadogExporter) and dd.url == "https://http-intake.logs.us5.datadoghq.com/api/v2/logs"
    )
    otel = get_exporter("otel", {"endpoint": "http://collector:4318", "metrics": False})
    assert isinstance(otel, OtelExporter) and otel.traces_endpoint == "http://collector:4318/v1/traces"
    for exporter in (hook, sink, dd, otel):
        assert isinstance(exporter, BatchingExporter)
        exporter.close()  # never started: returns at once
