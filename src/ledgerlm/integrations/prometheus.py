"""Prometheus metrics: per-call series with bounded labels, proxy gauges, and the ``/metrics`` ASGI app.

Series (prefix ``ledgerlm_``; labels in braces):

| metric | type | labels |
| --- | --- | --- |
| ``requests_total`` | counter | model_group, provider, status, team |
| ``request_failures_total`` | counter | model_group, provider, team, error_type |
| ``request_latency_seconds`` | histogram | model_group, provider, status |
| ``time_to_first_token_seconds`` | histogram | model_group, provider |
| ``overhead_latency_seconds`` | histogram | model_group, provider |
| ``tokens_total`` | counter | model_group, provider, team, type (input/output/cache_read/...) |
| ``spend_usd_total`` | counter | model_group, provider, team |
| ``unpriced_requests_total`` | counter | model_group, provider |
| ``key_requests_total`` / ``key_spend_usd_total`` | counter | key (allow-listed keys only) |
| ``tag_requests_total`` / ``tag_spend_usd_total`` | counter | tag (allow-listed tags only) |
| ``budget_remaining_usd`` | gauge | scope, name |
| ``budget_forecast_runs_out_timestamp_seconds`` | gauge | scope, name (burn-rate forecast) |
| ``capture_rate`` | gauge | provider (ledger / provider-billed USD of the last reconciliation) |
| ``unknown_usage_fields_total`` | counter | provider, usage_field (a usage field no mapping knows) |
| ``spend_writer_queue_depth`` | gauge | |
| ``spend_spool_events`` / ``spend_spool_bytes`` | gauge | |
| ``callback_drops_total`` | counter | callback |
| ``ledger_anomalies_total`` | counter | kind (``flagged``: clamped/cut values; ``minimal``: minimal row) |
| ``tag_alerts_total`` | counter | event (``tag_quarantine`` / ``tag_drift``), dimension |
| ``exporter_events_total`` | counter | exporter, outcome (sent, retried, spilled, dropped, ...) |
| ``exporter_queue_depth`` / ``exporter_spool_bytes`` | gauge | exporter |

The same calls are also counted under LiteLLM's metric names (``litellm_spend_metric``, ...:
``ledgerlm.integrations.prometheus_litellm``) so LiteLLM's Grafana dashboards work unchanged.

Bounded by design: no label carries a per-request, per-key, per-user or per-tag value unless the
operator allow-lists it (``key_allowlist`` by key alias or key hash, ``tag_allowlist``). Even the
bounded labels (model group, team, error type, ...) are capped at ``max_label_values`` distinct values
per label; later values are reported as ``__other__``.

Multiprocess: when ``PROMETHEUS_MULTIPROC_DIR`` is set (before ``prometheus_client`` is imported, as its
docs require), every worker writes its samples to that directory and ``metrics_app`` merges them with
``MultiProcessCollector``; gauges use ``livesum`` (queue depth, spool size) or ``mostrecent`` (budget).
The process manager calls ``mark_worker_dead(pid)`` when a worker exits, so its live gauges go away.

The series themselves (``PrometheusMetrics``) are defined in ``ledgerlm.integrations.prometheus_series``;
this module holds the ``prometheus`` callback, the process-wide metrics and the ``/metrics`` app.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, make_asgi_app
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from ledgerlm.custom_logger import CustomLogger
from ledgerlm.integrations.events import record_from_kwargs, to_export_dict
from ledgerlm.integrations.prometheus_series import (
    OTHER,
    ExporterStatsCollector,
    PrometheusMetrics,
)
from ledgerlm.integrations.settings import Lookup
from ledgerlm.record import CallRecord, RecordEvent

__all__ = [
    "OTHER",
    "PrometheusExporter",
    "PrometheusMetrics",
    "configure",
    "default_metrics",
    "inc_callback_drops",
    "mark_worker_dead",
    "metrics_app",
    "observe_overhead",
    "record_call",
    "set_budget_forecast",
    "set_budget_remaining",
    "set_capture_rate",
    "set_spend_queue_depth",
    "set_spend_spool_size",
]

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


class PrometheusExporter(CustomLogger):
    """The ``prometheus`` callback: updates ``metrics`` (default: ``default_metrics()``, looked up at each
    call so a later ``configure`` is honoured) on every call."""

    name = "prometheus"
    record_stage = 30
    """The metrics stage runs before the exporters (``ledgerlm.callbacks.pipeline``)."""

    def __init__(self, metrics: PrometheusMetrics | None = None) -> None:
        self._metrics = metrics

    @property
    def metrics(self) -> PrometheusMetrics:
        """The metrics this callback updates (the process-wide ones unless given)."""
        return self._metrics if self._metrics is not None else default_metrics()

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> PrometheusExporter:
        """Configure the process-wide metrics from config/env (``key_allowlist`` /
        ``LEDGERLM_PROMETHEUS_KEY_ALLOWLIST``, ``tag_allowlist`` / ``LEDGERLM_PROMETHEUS_TAG_ALLOWLIST``,
        comma-separated or lists; ``max_label_values``) and return the callback."""
        look = Lookup(settings, env)
        configure(
            key_allowlist=_names(look.get("key_allowlist", "LEDGERLM_PROMETHEUS_KEY_ALLOWLIST")),
            tag_allowlist=_names(look.get("tag_allowlist", "LEDGERLM_PROMETHEUS_TAG_ALLOWLIST")),
            max_label_values=look.get_int("max_label_values", default=200),
        )
        return cls()

    def record(self, record: CallRecord | Mapping[str, Any]) -> None:
        """Update the series for one call (CallRecord or its JSON dict)."""
        self.metrics.record_call(to_export_dict(record, content_logging=False))

    def consume_records(self, events: Sequence[RecordEvent]) -> None:
        """The metrics stage (``ledgerlm.callbacks.pipeline``): each call's ``CallRecord`` straight to
        :meth:`record`, no LiteLLM ``kwargs`` in between."""
        for event in events:
            self.record(event.record)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Forward ``kwargs["standard_logging_object"]`` to ``record``."""
        self._from_kwargs(kwargs)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Forward ``kwargs["standard_logging_object"]`` to ``record``."""
        self._from_kwargs(kwargs)

    def _from_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        record = record_from_kwargs(kwargs)
        if record is not None:
            self.record(record)


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


# -- process-wide metrics (created on first use, never at import) -----------------------------------

_default: PrometheusMetrics | None = None
_default_lock = threading.Lock()


def default_metrics() -> PrometheusMetrics:
    """The process-wide metrics (created on first use with no allow-lists)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PrometheusMetrics()
        return _default


def configure(
    *, key_allowlist: Iterable[str] = (), tag_allowlist: Iterable[str] = (), max_label_values: int = 200
) -> PrometheusMetrics:
    """Set the allow-lists and label cap of the process-wide metrics (series already there are kept)."""
    metrics = default_metrics()
    metrics.key_allowlist = frozenset(key_allowlist)
    metrics.tag_allowlist = frozenset(tag_allowlist)
    metrics.max_label_values = max_label_values
    return metrics


def metrics_app(metrics: PrometheusMetrics | None = None) -> ASGIApp:
    """ASGI app serving the Prometheus text format (mount it at ``GET /metrics``).

    Serves ``metrics`` (default: the process-wide metrics, looked up per request); with
    ``PROMETHEUS_MULTIPROC_DIR`` set, merges every worker's samples from that directory instead.
    """

    async def app(
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if directory:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
            registry.register(ExporterStatsCollector())  # this worker's exporters
        else:
            registry = (metrics or default_metrics()).registry
        await make_asgi_app(registry)(scope, receive, send)

    return app


def record_call(record: CallRecord | Mapping[str, Any]) -> None:
    """Update the per-call series of the process-wide metrics."""
    default_metrics().record_call(to_export_dict(record, content_logging=False))


def set_spend_queue_depth(depth: int) -> None:
    """Spend records waiting for the database writer (records)."""
    default_metrics().queue_depth.set(depth)


def set_spend_spool_size(events: int, size_bytes: int | None = None) -> None:
    """Spend records spooled to local disk (records, and bytes when known)."""
    metrics = default_metrics()
    metrics.spool_events.set(events)
    if size_bytes is not None:
        metrics.spool_bytes.set(size_bytes)


def set_capture_rate(provider: str, rate: Decimal | None) -> None:
    """The capture rate (ledger / provider-billed USD) of ``provider``'s last reconciliation;
    ``None`` (the provider billed nothing) removes the series."""
    metrics = default_metrics()
    name = metrics.label("provider", provider)
    if rate is None:
        with contextlib.suppress(KeyError):
            metrics.capture_rate.remove(name)
    else:
        metrics.capture_rate.labels(name).set(float(rate))


def inc_callback_drops(callback: str, count: int = 1) -> None:
    """Count callback events dropped by the dispatcher (``callback``: the callback's name)."""
    metrics = default_metrics()
    metrics.callback_drops.labels(metrics.label("callback", callback)).inc(count)


def set_budget_remaining(scope: str, name: str, remaining_usd: Decimal | float | None) -> None:
    """See ``PrometheusMetrics.set_budget_remaining`` (process-wide metrics)."""
    default_metrics().set_budget_remaining(scope, name, remaining_usd)


def set_budget_forecast(scope: str, name: str, runs_out_at: float | None) -> None:
    """See ``PrometheusMetrics.set_budget_forecast`` (process-wide metrics)."""
    default_metrics().set_budget_forecast(scope, name, runs_out_at)


def observe_overhead(seconds: float, *, model_group: str | None, provider: str | None) -> None:
    """Gateway overhead of one call (seconds), when not carried in ``metadata["overhead_s"]``."""
    metrics = default_metrics()
    metrics.overhead.labels(
        metrics.label("model_group", model_group), metrics.label("provider", provider)
    ).observe(seconds)


def mark_worker_dead(pid: int) -> None:
    """Multiprocess mode: drop the live gauges of an exited worker (call from the child-exit hook)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
