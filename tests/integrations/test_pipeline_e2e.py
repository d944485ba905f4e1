"""End to end: real SDK calls to the project's provider simulator over HTTP, the callback dispatcher, and
exporters shipping to real local receivers (webhook, OTLP, Slack) and Prometheus."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from exporter_support import Receiver
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import ledgerlm
from ledgerlm.callbacks import aflush
from ledgerlm.integrations import get_exporter
from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.prometheus import PrometheusExporter, PrometheusMetrics
from ledgerlm.simulator import Simulator

MESSAGES = [{"role": "user", "content": "Say hello to the exporters."}]


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    with Simulator() as sim:
        yield f"{sim.url}/v1"


async def test_sdk_calls_reach_every_exporter(base: str, receiver: Receiver) -> None:
    fast: dict[str, Any] = {"flush_interval_s": 0.02, "max_retries": 1, "backoff_initial_s": 0.01}
    webhook = get_exporter("generic_api", {**fast, "endpoint": f"{receiver.url}/hook"})
    otel = get_exporter("otel", {**fast, "endpoint": receiver.url, "metrics": False})
    slack = get_exporter("slack", {**fast, "webhook_url": f"{receiver.url}/slack"})
    metrics = PrometheusMetrics()
    exporters: list[Any] = [webhook, otel, slack, PrometheusExporter(metrics)]
    call = {"api_base": base, "api_key": "sk-test", "num_retries": 0, "callbacks": exporters}
    try:
        response = await ledgerlm.acompletion("openai/gpt-4o-mini", MESSAGES, **call)
        stream = await ledgerlm.acompletion("openai/gpt-4o-mini", MESSAGES, stream=True, **call)
        async for _chunk in stream:
            pass
        with pytest.raises(ledgerlm.errors.RateLimitError):
            await ledgerlm.acompletion(
                "openai/gpt-4o-mini", MESSAGES, extra_headers={"x-sim": '{"error_status": 429}'}, **call
            )
        await aflush()
        for exporter in (webhook, otel, slack):
            assert isinstance(exporter, BatchingExporter)
            assert await exporter.aflush()
    finally:
        for exporter in (webhook, otel, slack):
            assert isinstance(exporter, BatchingExporter)
            await exporter.aclose()

    records = [e for r in receiver.requests if r.path == "/hook" for e in orjson.loads(r.body)]
    assert sorted(r["status"] for r in records) == ["failure", "success", "success"]
    plain = next(r for r in records if r["status"] == "success" and not r["stream"])
    assert plain["response_id"] == response.id
    assert plain["usage"]["input_tokens"] == response.usage.prompt_tokens
    assert plain["cost"]["total"] is not None  # priced by the catalog
    assert plain["messages"] is None  # content logging off by default

    spans = [
        span
        for r in receiver.requests
        if r.path == "/v1/traces"
        for rs in ExportTraceServiceRequest.FromString(r.body).resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    assert len(spans) == 3 and all(s.name == "chat gpt-4o-mini" for s in spans)

    alerts = [orjson.loads(r.body)["text"] for r in receiver.requests if r.path == "/slack"]
    assert len(alerts) == 1 and "RateLimitError" in alerts[0]

    requests = metrics.registry.get_sample_value(
        "ledgerlm_requests_total",
        {"model_group": "openai/gpt-4o-mini", "provider": "openai", "status": "success", "team": "unknown"},
    )
    assert requests == 2
