"""The Prometheus series of ledgerlm: ``PrometheusMetrics`` (the per-call series with bounded labels
and the proxy gauges, in one registry), ``LabelLimiter`` and ``ExporterStatsCollector``.

The table of series, the label bounds and the multiprocess mode are described in
``ledgerlm.integrations.prometheus`` (the callback, the process-wide metrics and ``/metrics``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ledgerlm.integrations.base import live_exporters
from ledgerlm.integrations.prometheus_litellm import LiteLLMMetrics

__all__ = ["BUDGET_SCOPES", "OTHER", "ExporterStatsCollector", "LabelLimiter", "PrometheusMetrics"]

OTHER = "__other__"
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
_OVERHEAD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
_TOKEN_TYPES = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_read": "cache_read_tokens",
    "cache_write": "cache_write_tokens",
    "reasoning": "reasoning_tokens",
}
BUDGET_SCOPES = frozenset({"global", "organization", "team", "user", "key", "end_user", "tag"})


class LabelLimiter:
    """Caps distinct values of one label: the first ``max_values`` pass, later ones become ``__other__``."""

    def __init__(self, max_values: int) -> None:
        self.max_values = max_values
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: Any) -> str:
        text = "unknown" if value in (None, "") else str(value)
        if text in self._seen:
            return text
        with self._lock:
            if len(self._seen) >= self.max_values:
                return OTHER
            self._seen.add(text)
        return text


class ExporterStatsCollector(Collector):
    """The batching exporters' own counters (this process), summed per exporter name."""

    OUTCOMES = ("sent", "retried", "spilled", "replayed", "dropped", "rejected", "errors")

    def collect(self) -> Iterator[Metric]:
        """One counter family (``exporter``, ``outcome``) and two gauges (``exporter``)."""
        totals: dict[str, dict[str, int]] = {}
        for exporter in live_exporters():
            stats = exporter.stats()
            into = totals.setdefault(exporter.name, {})
            for key, value in stats.items():
                into[key] = into.get(key, 0) + value
        events = CounterMetricFamily(
            "ledgerlm_exporter_events", "Exporter events by outcome.", labels=["exporter", "outcome"]
        )
        queued = GaugeMetricFamily("ledgerlm_exporter_queue_depth", "Events in memory.", labels=["exporter"])
        spool = GaugeMetricFamily(
            "ledgerlm_exporter_spool_bytes", "Disk overflow (bytes).", labels=["exporter"]
        )
        for name, stats in sorted(totals.items()):
            for outcome in self.OUTCOMES:
                events.add_metric([name, outcome], stats.get(outcome, 0))
            queued.add_metric([name], stats.get("queued", 0))
            spool.add_metric([name], stats.get("spool_bytes", 0))
        yield from (events, queued, spool)


class PrometheusMetrics:
    """The ledgerlm metric families in one registry (see the module docstring for the series)."""

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        key_allowlist: Iterable[str] = (),
        tag_allowlist: Iterable[str] = (),
        max_label_values: int = 200,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.key_allowlist = frozenset(key_allowlist)
        self.tag_allowlist = frozenset(tag_allowlist)
        self._limiters: dict[str, LabelLimiter] = {}
        self.max_label_values = max_label_values
        self._make_call_metrics()
        self._make_proxy_metrics()
        self.litellm = LiteLLMMetrics(self.registry, self.label, self._key_allowed)  # LiteLLM's names
        self.registry.register(ExporterStatsCollector())

    def _make_call_metrics(self) -> None:
        r, ns = self.registry, "ledgerlm"
        group = ["model_group", "provider"]
        self.requests = Counter(
            "requests", "LLM calls.", [*group, "status", "team"], namespace=ns, registry=r
        )
        self.failures = Counter(
            "request_failures", "Failed LLM calls.", [*group, "team", "error_type"], namespace=ns, registry=r
        )
        self.latency = Histogram(
            "request_latency_seconds", "Call latency (s).", [*group, "status"], namespace=ns,
            registry=r, buckets=_LATENCY_BUCKETS,
        )  # fmt: skip
        self.ttft = Histogram(
            "time_to_first_token_seconds", "Time to first token of streams (s).", group, namespace=ns,
            registry=r, buckets=_LATENCY_BUCKETS,
        )  # fmt: skip
        self.overhead = Histogram(
            "overhead_latency_seconds", "Gateway overhead per call (s).", group, namespace=ns,
            registry=r, buckets=_OVERHEAD_BUCKETS,
        )  # fmt: skip
        self.tokens = Counter("tokens", "Tokens by type.", [*group, "team", "type"], namespace=ns, registry=r)
        self.spend = Counter(
            "spend_usd", "Spend of priced calls (USD).", [*group, "team"], namespace=ns, registry=r
        )
        self.unpriced = Counter(
            "unpriced_requests", "Calls without a known price.", group, namespace=ns, registry=r
        )
        self.key_requests = Counter(
            "key_requests", "Calls of allow-listed keys.", ["key"], namespace=ns, registry=r
        )
        self.key_spend = Counter(
            "key_spend_usd", "Spend of allow-listed keys (USD).", ["key"], namespace=ns, registry=r
        )
        self.tag_requests = Counter(
            "tag_requests", "Calls of allow-listed tags.", ["tag"], namespace=ns, registry=r
        )
        self.tag_spend = Counter(
            "tag_spend_usd", "Spend of allow-listed tags (USD).", ["tag"], namespace=ns, registry=r
        )

    def _make_proxy_metrics(self) -> None:
        r, ns = self.registry, "ledgerlm"
        self.budget_remaining = Gauge(
            "budget_remaining_usd", "Budget left (USD).", ["scope", "name"], namespace=ns, registry=r,
            multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.capture_rate = Gauge(
            "capture_rate", "Ledger / provider-billed spend of the last reconciliation.", ["provider"],
            namespace=ns, registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.budget_runs_out = Gauge(
            "budget_forecast_runs_out_timestamp_seconds",
            "When a budget runs out at its recent burn rate (UNIX seconds; absent: not burning).",
            ["scope", "name"], namespace=ns, registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.unknown_usage_fields = Counter(
            "unknown_usage_fields", "Calls whose usage carried a field no mapping knows.",
            ["provider", "usage_field"], namespace=ns, registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "spend_writer_queue_depth", "Spend records waiting for the DB writer.", namespace=ns, registry=r,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.spool_events = Gauge(
            "spend_spool_events", "Spend records spooled to disk.", namespace=ns, registry=r,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.spool_bytes = Gauge(
            "spend_spool_bytes",
            "Spend spool size (bytes).",
            namespace=ns,
            registry=r,
            multiprocess_mode="livesum",
        )
        self.callback_drops = Counter(
            "callback_drops", "Callback events dropped.", ["callback"], namespace=ns, registry=r
        )
        self.ledger_anomalies = Counter(
            "ledger_anomalies", "Spend rows written flagged (kind: flagged) or in minimal form (minimal).",
            ["kind"], namespace=ns, registry=r,
        )  # fmt: skip
        self.tag_alerts = Counter(
            "tag_alerts", "Tag quarantine events and drift alerts.", ["event", "dimension"], namespace=ns,
            registry=r,
        )  # fmt: skip

    def _key_allowed(self, key_alias: Any, key_hash: Any) -> bool:
        return key_alias in self.key_allowlist or key_hash in self.key_allowlist

    def label(self, name: str, value: Any) -> str:
        """``value`` for label ``name``, capped at ``max_label_values`` distinct values."""
        limiter = self._limiters.get(name)
        if limiter is None:
            limiter = self._limiters.setdefault(name, LabelLimiter(self.max_label_values))
        return limiter(value)

    def record_call(self, event: Mapping[str, Any]) -> None:
        """Update the per-call series from a CallRecord JSON dict."""
        group = (self.label("model_group", event.get("model_group") or event.get("requested_model")),
                 self.label("provider", event.get("provider")))  # fmt: skip
        team = self.label("team", event.get("team_id"))
        status = "success" if event.get("status") == "success" else "failure"
        self.requests.labels(*group, status, team).inc()
        self.latency.labels(*group, status).observe(float(event.get("latency_s") or 0.0))
        if status == "failure":
            error_type = (event.get("error") or {}).get("type")
            self.failures.labels(*group, team, self.label("error_type", error_type)).inc()
        ttft = event.get("time_to_first_token_s")
        if event.get("stream") and ttft is not None:
            self.ttft.labels(*group).observe(float(ttft))
        overhead = (event.get("metadata") or {}).get("overhead_s")
        if isinstance(overhead, int | float):
            self.overhead.labels(*group).observe(float(overhead))
        usage = event.get("usage") or {}
        for token_type, key in _TOKEN_TYPES.items():
            if usage.get(key):
                self.tokens.labels(*group, team, token_type).inc(int(usage[key]))
        if usage.get("raw"):
            self._record_unknown_fields(str(event.get("provider") or "openai"), usage["raw"], group[1])
        self._record_cost(event, group, team)

    def _record_unknown_fields(self, provider: str, raw: Any, label: str) -> None:
        """Count the usage fields no mapping knows (``ledgerlm.usage.known_fields``)."""
        from ledgerlm.usage.dispatch import provider_family
        from ledgerlm.usage.known_fields import unknown_usage_fields

        for name in unknown_usage_fields(raw, provider_family(provider)):
            self.unknown_usage_fields.labels(label, self.label("usage_field", name)).inc()

    def _record_cost(self, event: Mapping[str, Any], group: tuple[str, str], team: str) -> None:
        total = (event.get("cost") or {}).get("total")
        usd = float(Decimal(str(total))) if total is not None else None
        if usd is None:
            self.unpriced.labels(*group).inc()
        else:
            self.spend.labels(*group, team).inc(usd)
        self.litellm.record_call(event, None if total is None else Decimal(str(total)))
        key = next(
            (k for k in (event.get("key_alias"), event.get("key_hash")) if k in self.key_allowlist), None
        )
        if key is not None:
            self.key_requests.labels(key).inc()
            if usd is not None:
                self.key_spend.labels(key).inc(usd)
        for tag in set(event.get("request_tags") or ()) & self.tag_allowlist:
            self.tag_requests.labels(tag).inc()
            if usd is not None:
                self.tag_spend.labels(tag).inc(usd)

    def set_budget_remaining(self, scope: str, name: str, remaining_usd: Decimal | float | None) -> None:
        """Budget left for ``scope`` (global/organization/team/user/key/end_user/tag) ``name`` (USD).

        ``key``/``user``/``end_user``/``tag`` budgets are exported only for allow-listed names (keys by
        alias or hash, tags by tag); ``None`` removes the series. Raises ``ValueError`` on an unknown scope.
        """
        if scope not in BUDGET_SCOPES:
            raise ValueError(f"unknown budget scope {scope!r}")
        if scope in ("key", "user", "end_user") and name not in self.key_allowlist:
            return
        if scope == "tag" and name not in self.tag_allowlist:
            return
        label = self.label(f"budget_{scope}", name)
        if remaining_usd is None:
            with contextlib.suppress(KeyError):
                self.budget_remaining.remove(scope, label)
            return
        self.budget_remaining.labels(scope, label).set(float(remaining_usd))
        self.litellm.set_remaining(scope, label, None, float(remaining_usd))

    def set_budget_forecast(self, scope: str, name: str, runs_out_at: float | None) -> None:
        """When ``scope``'s budget ``name`` runs out (UNIX seconds; ``None`` removes the series).
        Same allow-list rules as ``set_budget_remaining``."""
        if scope not in BUDGET_SCOPES:
            raise ValueError(f"unknown budget scope {scope!r}")
        if scope in ("key", "user", "end_user") and name not in self.key_allowlist:
            return
        label = self.label(f"budget_{scope}", name)
        if runs_out_at is None:
            with contextlib.suppress(KeyError):
                self.budget_runs_out.remove(scope, label)
            return
        self.budget_runs_out.labels(scope, label).set(runs_out_at)
