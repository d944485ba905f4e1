"""OpenTelemetry exporter: one GenAI span per call over OTLP/HTTP (protobuf), plus GenAI metrics.

Spans: named ``{gen_ai.operation.name} {gen_ai.request.model}`` (e.g. ``chat gpt-4o-mini``), kind CLIENT,
with the call's own start/end times and the attributes of ``otel_attributes.span_attributes``. A
``traceparent`` (W3C Trace Context) in the record's ``metadata`` (the proxy puts the incoming header
there) makes the span a child of the caller's span. Span and trace ids are derived from the request id,
so a resent batch carries the same ids (idempotent). Spans go through the batching base (queue,
retries, disk spool), encoded with the OTLP protobuf encoder of ``opentelemetry-exporter-otlp-proto``
and POSTed as ``application/x-protobuf`` to ``{endpoint}/v1/traces``. Every call is exported, whatever
the parent's sampled flag (each call is a ledger entry).

Metrics (``opentelemetry-sdk`` MeterProvider with the OTLP/HTTP metric exporter, periodic):
``gen_ai.client.token.usage`` (histogram, ``{token}``, ``gen_ai.token.type`` = input/output),
``gen_ai.client.operation.duration`` (histogram, s), ``gen_ai.client.operation.time_to_first_chunk``
(histogram, s, streams) and ``ledgerlm.client.cost`` (counter, USD, priced calls only). Bucket
boundaries are the conventions' advice.

Settings (mapping key / env var): ``endpoint`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` (default
``http://localhost:4318``), ``traces_endpoint`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
``metrics_endpoint`` / ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT``, ``headers`` /
``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``, URL-encoded values), ``service_name`` /
``OTEL_SERVICE_NAME`` (default ``ledgerlm``), ``metrics`` (default true), ``metric_export_interval_s``
(default 60), ``semconv_opt_in`` / ``OTEL_SEMCONV_STABILITY_OPT_IN``, plus the common batching settings.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import unquote

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.metrics import Counter, Histogram
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.otel_attributes import (
    latest_experimental,
    metric_attributes,
    operation_name,
    request_model,
    span_attributes,
)
from ledgerlm.integrations.settings import BatchSettings, Lookup
from ledgerlm.version import __version__

__all__ = ["OtelExporter", "build_span", "parse_otlp_headers"]

_SCOPE = InstrumentationScope("ledgerlm", __version__)
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


def parse_otlp_headers(value: str | Mapping[str, Any] | None) -> dict[str, str]:
    """``OTEL_EXPORTER_OTLP_HEADERS`` (``k=v,k2=v2``, values URL-encoded) or a mapping -> headers."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for part in value.split(","):
        name, sep, val = part.partition("=")
        if sep and name.strip():
            out[unquote(name.strip())] = unquote(val.strip())
    return out


def _ns(seconds: Any) -> int:
    """Epoch seconds (float) -> nanoseconds, without float rounding drift."""
    return int(Decimal(repr(float(seconds))) * 1_000_000_000)


def _ids(record_id: str) -> tuple[int, int]:
    """Stable (trace_id, span_id) derived from the request id (never zero)."""
    digest = hashlib.sha256(record_id.encode()).digest()
    return int.from_bytes(digest[:16], "big") or 1, int.from_bytes(digest[16:24], "big") or 1


def _parent(metadata: Mapping[str, Any]) -> SpanContext | None:
    """The remote parent from a W3C ``traceparent`` (and ``tracestate``) in ``metadata``, if valid."""
    traceparent = metadata.get("traceparent")
    if not isinstance(traceparent, str):
        return None
    carrier = {"traceparent": traceparent}
    if isinstance(metadata.get("tracestate"), str):
        carrier["tracestate"] = metadata["tracestate"]
    context = TraceContextTextMapPropagator().extract(carrier)
    parent = trace.get_current_span(context).get_span_context()
    return parent if parent.is_valid else None


def build_span(event: Mapping[str, Any], *, resource: Resource, latest: bool, content: bool) -> ReadableSpan:
    """The finished span of one call (CallRecord JSON dict ``event``)."""
    trace_id, span_id = _ids(str(event["id"]))
    parent = _parent(event.get("metadata") or {})
    if parent is not None:
        trace_id = parent.trace_id
    context = SpanContext(
        trace_id,
        span_id,
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=parent.trace_state if parent is not None else None,
    )
    status = Status(StatusCode.UNSET)
    if event.get("status") == "failure":
        error = event.get("error") or {}
        status = Status(StatusCode.ERROR, str(error.get("message") or error.get("type") or "error"))
    return ReadableSpan(
        name=f"{operation_name(event)} {request_model(event)}",
        context=context,
        parent=parent,
        resource=resource,
        attributes=span_attributes(event, latest=latest, content=content),
        kind=SpanKind.CLIENT,
        status=status,
        start_time=_ns(event["start_time"]),
        end_time=_ns(event["end_time"]),
        instrumentation_scope=_SCOPE,
    )


@dataclass
class _Instruments:
    provider: MeterProvider
    tokens: Histogram
    duration: Histogram
    first_chunk: Histogram
    cost: Counter


class OtelExporter(BatchingExporter):
    """GenAI spans via the batching base; GenAI metrics via the SDK's periodic OTLP reader."""

    name: ClassVar[str] = "otel"

    def __init__(
        self,
        traces_endpoint: str,
        *,
        metrics_endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        service_name: str = "ledgerlm",
        latest: bool = False,
        metric_export_interval_s: float = 60.0,
        settings: BatchSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.traces_endpoint = traces_endpoint
        self.metrics_endpoint = metrics_endpoint
        self.headers = dict(headers or {})
        self.latest = latest
        self.resource = Resource.create({"service.name": service_name})
        self.metric_export_interval_s = metric_export_interval_s
        self._instruments: _Instruments | None = None
        self._instruments_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None) -> OtelExporter:
        """Build from config/env (see the module docstring)."""
        look = Lookup(settings, env)
        base = (look.get_str("endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT") or "http://localhost:4318").rstrip(
            "/"
        )
        traces = look.get_str("traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or f"{base}/v1/traces"
        metrics = (
            look.get_str("metrics_endpoint", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or f"{base}/v1/metrics"
        )
        return cls(
            traces,
            metrics_endpoint=metrics if look.get_bool("metrics", default=True) else None,
            headers=parse_otlp_headers(look.get("headers", "OTEL_EXPORTER_OTLP_HEADERS")),
            service_name=look.get_str("service_name", "OTEL_SERVICE_NAME", default="ledgerlm") or "ledgerlm",
            latest=latest_experimental(look.get_str("semconv_opt_in", "OTEL_SEMCONV_STABILITY_OPT_IN")),
            metric_export_interval_s=look.get_float("metric_export_interval_s", default=60.0),
            settings=BatchSettings.from_settings(settings, env),
        )

    # -- traces ------------------------------------------------------------------------------------

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """Encode the spans (ExportTraceServiceRequest protobuf) and POST them."""
        content = self.settings.content_logging
        spans = [build_span(e, resource=self.resource, latest=self.latest, content=content) for e in events]
        body = encode_spans(spans).SerializeToString()
        headers = {**self.headers, "Content-Type": "application/x-protobuf"}
        await self.post(self.traces_endpoint, body, headers)

    # -- metrics -----------------------------------------------------------------------------------

    def _get_instruments(self) -> _Instruments | None:
        if self.metrics_endpoint is None:
            return None
        with self._instruments_lock:
            if self._instruments is None:
                self._instruments = self._make_instruments(self.metrics_endpoint)
        return self._instruments

    def _make_instruments(self, endpoint: str) -> _Instruments:
        exporter = OTLPMetricExporter(
            endpoint=endpoint, headers=self.headers, timeout=self.settings.request_timeout_s
        )
        reader = PeriodicExportingMetricReader(
            exporter, export_interval_millis=self.metric_export_interval_s * 1000
        )
        provider = MeterProvider(resource=self.resource, metric_readers=[reader])
        meter = provider.get_meter("ledgerlm", __version__)
        return _Instruments(
            provider=provider,
            tokens=meter.create_histogram(
                "gen_ai.client.token.usage",
                unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
            ),
            duration=meter.create_histogram(
                "gen_ai.client.operation.duration",
                unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            ),
            first_chunk=meter.create_histogram(
                "gen_ai.client.operation.time_to_first_chunk",
                unit="s",
                description="Time to receive the first chunk of a streamed response.",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            ),
            cost=meter.create_counter(
                "ledgerlm.client.cost", unit="USD", description="Spend of priced calls."
            ),
        )

    def observe(self, event: Mapping[str, Any]) -> None:
        """Record the call's metrics (in memory; the SDK's reader exports them periodically)."""
        instruments = self._get_instruments()
        if instruments is None:
            return
        attrs = metric_attributes(event)
        instruments.duration.record(float(event.get("latency_s") or 0.0), attrs)
        ttft = event.get("time_to_first_token_s")
        if event.get("stream") and ttft is not None:
            instruments.first_chunk.record(float(ttft), attrs)
        usage = event.get("usage") or {}
        for token_type, key in (("input", "input_tokens"), ("output", "output_tokens")):
            if usage.get(key):
                instruments.tokens.record(int(usage[key]), {**attrs, "gen_ai.token.type": token_type})
        total = (event.get("cost") or {}).get("total")
        if total is not None:
            instruments.cost.add(float(total), attrs)

    def flush_metrics(self, timeout_s: float = 10.0) -> bool:
        """Export the metrics now (blocks up to ``timeout_s``); True on success or when disabled."""
        instruments = self._instruments
        return instruments is None or instruments.provider.force_flush(int(timeout_s * 1000))

    def close(self, timeout: float = 30.0) -> None:
        """Stop spans (see ``BatchingExporter.close``), then the metrics reader (final export)."""
        super().close(timeout)
        with self._instruments_lock:
            instruments, self._instruments = self._instruments, None
            self.metrics_endpoint = None
        if instruments is not None:
            instruments.provider.shutdown()
