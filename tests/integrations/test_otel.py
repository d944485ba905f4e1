"""OpenTelemetry exporter against a real OTLP/HTTP receiver that decodes the protobuf requests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from exporter_support import Receiver, make_record
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from ledgerlm.integrations.otel import OtelExporter, parse_otlp_headers

FAST = {"flush_interval_s": 0.02, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_retries": 2}
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    return getattr(value, kind)


def _attrs(items: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in items if isinstance(kv, KeyValue)}


def _spans(receiver: Receiver) -> list[tuple[Span, dict[str, Any], dict[str, Any]]]:
    """(span, span attributes, resource attributes) of every span received on /v1/traces."""
    out = []
    for req in receiver.requests:
        if req.path != "/v1/traces":
            continue
        assert req.headers["Content-Type"] == "application/x-protobuf"
        message = ExportTraceServiceRequest.FromString(req.body)
        for resource_spans in message.resource_spans:
            resource = _attrs(resource_spans.resource.attributes)
            for scope_spans in resource_spans.scope_spans:
                assert scope_spans.scope.name == "ledgerlm"
                out.extend((span, _attrs(span.attributes), resource) for span in scope_spans.spans)
    return out


@pytest.fixture
async def make_otel(receiver: Receiver) -> AsyncIterator[Callable[..., OtelExporter]]:
    made: list[OtelExporter] = []

    def factory(settings: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> OtelExporter:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "gw-test", **(env or {})}
        exporter = OtelExporter.from_settings({**FAST, **(settings or {})}, env)
        made.append(exporter)
        return exporter

    yield factory
    for exporter in made:
        await asyncio.to_thread(exporter.close)


async def test_span_has_genai_attributes_cost_and_ids(
    receiver: Receiver, make_otel: Callable[..., OtelExporter]
) -> None:
    exporter = make_otel({"metrics": False})
    record = make_record(id="req-otel-1", api_base="https://api.openai.com/v1")
    exporter.enqueue(record)
    assert await exporter.aflush()

    [(span, attrs, resource)] = _spans(receiver)
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == Span.SPAN_KIND_CLIENT
    assert span.start_time_unix_nano == 1_764_400_000_250_000_000
    assert span.end_time_unix_nano == 1_764_400_001_750_000_000
    assert resource["service.name"] == "gw-test"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.system"] == "openai"  # default mode keeps the v1.36 name too
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.response.model"] == "gpt-4o-mini-2024-07-18"
    assert attrs["gen_ai.response.id"] == "chatcmpl-123"
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.usage.input_tokens"] == 1200
    assert attrs["gen_ai.usage.output_tokens"] == 300
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 0
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 120
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.max_tokens"] == 512
    assert attrs["gen_ai.request.top_p"] == 0.9
    assert attrs["server.address"] == "api.openai.com" and attrs["server.port"] == 443
    assert attrs["ledgerlm.cost.total_usd"] == pytest.approx(0.000375)
    assert attrs["ledgerlm.cost.total_decimal"] == "0.000375"
    assert attrs["ledgerlm.cost.output_usd"] == pytest.approx(0.00027)
    assert attrs["ledgerlm.cost.priced"] is True
    assert attrs["ledgerlm.request.tags"] == ["prod", "chatbot"]
    assert attrs["ledgerlm.team.id"] == "team-a"
    assert attrs["ledgerlm.key.hash"] == "a" * 64
    assert attrs["ledgerlm.end_user.id"] == "customer-9"
    assert attrs["ledgerlm.request.id"] == "req-otel-1"
    assert attrs["ledgerlm.requested_model"] == "gpt-4o-mini"
    assert "gen_ai.prompt" not in attrs and "gen_ai.input.messages" not in attrs  # content off
    assert "error.type" not in attrs
    assert span.status.code == 0  # UNSET


async def test_failure_unpriced_and_traceparent(
    receiver: Receiver, make_otel: Callable[..., OtelExporter]
) -> None:
    exporter = make_otel({"metrics": False})
    record = make_record(
        status="failure",
        error={"type": "RateLimitError", "status": 429, "message": "rate limited"},
        cost={"total": None, "unpriced_reason": "model not in catalog"},
        metadata={"traceparent": TRACEPARENT, "tracestate": "vendor=x", "session_id": "conv-7"},
        usage={"input_tokens": 50, "input_audio_tokens": 20, "output_tokens": 0},
        finish_reasons=[],
    )
    exporter.enqueue(record)
    assert await exporter.aflush()

    [(span, attrs, _)] = _spans(receiver)
    assert span.trace_id.hex() == "0af7651916cd43dd8448eb211c80319c"
    assert span.parent_span_id.hex() == "b7ad6b7169203331"
    assert span.trace_state == "vendor=x"
    assert attrs["error.type"] == "RateLimitError"
    assert span.status.code == 2 and span.status.message == "rate limited"  # ERROR
    assert attrs["ledgerlm.cost.priced"] is False
    assert attrs["ledgerlm.cost.unpriced_reason"] == "model not in catalog"
    assert "ledgerlm.cost.total_usd" not in attrs  # unpriced is never a fake $0
    assert attrs["gen_ai.conversation.id"] == "conv-7"
    assert attrs["gen_ai.usage.audio.input_tokens"] == 20
    assert "gen_ai.usage.image.input_tokens" not in attrs  # not reported by the provider


async def test_latest_experimental_names_and_content(
    receiver: Receiver, make_otel: Callable[..., OtelExporter]
) -> None:
    exporter = make_otel(
        {"metrics": False, "content_logging": True},
        {"OTEL_SEMCONV_STABILITY_OPT_IN": "http,gen_ai_latest_experimental"},
    )
    exporter.enqueue(
        make_record(
            provider="anthropic", requested_model="anthropic/claude-sonnet-4-5", model="claude-sonnet-4-5"
        )
    )
    assert await exporter.aflush()

    [(span, attrs, _)] = _spans(receiver)
    assert span.name == "chat claude-sonnet-4-5"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert "gen_ai.system" not in attrs
    assert attrs["gen_ai.response.time_to_first_chunk"] == 0.25
    assert attrs["gen_ai.request.stream"] is True
    assert (
        attrs["gen_ai.input.messages"]
        == '[{"role":"user","parts":[{"type":"text","content":"secret prompt"}]}]'
    )
    assert '"content":"secret answer"' in attrs["gen_ai.output.messages"]
    assert "gen_ai.prompt" not in attrs


async def test_genai_metrics(receiver: Receiver, make_otel: Callable[..., OtelExporter]) -> None:
    exporter = make_otel({"metric_export_interval_s": 3600})
    exporter.enqueue(make_record())
    exporter.enqueue(make_record(stream=False, usage={"input_tokens": 10, "output_tokens": 5}))
    assert await exporter.aflush()
    assert await asyncio.to_thread(exporter.flush_metrics)

    metrics: dict[str, Any] = {}
    for req in receiver.requests:
        if req.path == "/v1/metrics":
            message = ExportMetricsServiceRequest.FromString(req.body)
            for rm in message.resource_metrics:
                for sm in rm.scope_metrics:
                    metrics.update({m.name: m for m in sm.metrics})
    tokens = metrics["gen_ai.client.token.usage"]
    assert tokens.unit == "{token}"
    by_type = {_attrs(p.attributes)["gen_ai.token.type"]: p for p in tokens.histogram.data_points}
    assert by_type["input"].sum == 1210 and by_type["input"].count == 2
    assert by_type["output"].sum == 305
    point = by_type["input"]
    assert _attrs(point.attributes)["gen_ai.provider.name"] == "openai"
    assert list(point.explicit_bounds)[:3] == [1, 4, 16]
    duration = metrics["gen_ai.client.operation.duration"]
    assert duration.unit == "s" and duration.histogram.data_points[0].count == 2
    assert duration.histogram.data_points[0].sum == pytest.approx(3.0)
    first_chunk = metrics["gen_ai.client.operation.time_to_first_chunk"]
    assert first_chunk.histogram.data_points[0].count == 1  # only the streamed call
    cost = metrics["ledgerlm.client.cost"]
    assert sum(p.as_double for p in cost.sum.data_points) == pytest.approx(0.00075)


def test_otlp_headers_env_format() -> None:
    assert parse_otlp_headers("api-key=a%20b, x-tenant=t1") == {"api-key": "a b", "x-tenant": "t1"}
    exporter = OtelExporter.from_settings({}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/t"})
    assert exporter.traces_endpoint == "http://c:4318/t"
    assert exporter.metrics_endpoint == "http://localhost:4318/v1/metrics"
    assert OtelExporter.from_settings({"metrics": "false"}, {}).metrics_endpoint is None
