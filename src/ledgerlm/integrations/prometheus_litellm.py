"""The same call metrics under LiteLLM's Prometheus names, so LiteLLM's Grafana dashboards work unchanged.

Series (prometheus_client adds ``_total`` to counters, as in LiteLLM): counters
``litellm_requests_metric``, ``litellm_spend_metric`` (USD), ``litellm_total_tokens``,
``litellm_input_tokens``, ``litellm_output_tokens`` (labels ``CALL``); ``litellm_proxy_total_requests_metric``
(``PROXY`` + status_code) and ``litellm_proxy_failed_requests_metric`` (``PROXY`` + exception_status,
exception_class); histograms ``litellm_request_total_latency_metric`` and
``litellm_llm_api_time_to_first_token_metric`` (s; labels ``LATENCY``); gauges
``litellm_remaining_team_budget_metric`` (team, team_alias) and ``litellm_remaining_api_key_budget_metric``
(hashed_api_key, api_key_alias), USD.

Names and label names are LiteLLM's (``litellm/integrations/prometheus.py``); the values stay bounded like
ledgerlm's own series: the key labels carry a value only for allow-listed keys (``key_allowlist``), the
``user`` and ``end_user`` labels are always ``""``, and every label is capped at ``max_label_values``
(``__other__``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["CALL", "LATENCY", "PROXY", "LiteLLMMetrics"]

Label = Callable[[str, Any], str]
CALL = ["end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user"]
LATENCY = ["model", "hashed_api_key", "api_key_alias", "team", "team_alias"]
PROXY = ["end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user"]
_BUCKETS = (0.005, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class LiteLLMMetrics:
    """LiteLLM-named series in ``registry``; ``label(name, value)`` caps values (``PrometheusMetrics.label``)
    and ``allowed(key_alias, key_hash)`` says whether per-key labels may carry a value."""

    def __init__(
        self, registry: CollectorRegistry, label: Label, allowed: Callable[[Any, Any], bool]
    ) -> None:
        self._label = label
        self._allowed = allowed
        r = registry
        self.requests = Counter("litellm_requests_metric", "LLM calls (LiteLLM name).", CALL, registry=r)
        self.spend = Counter("litellm_spend_metric", "Spend USD (LiteLLM name).", CALL, registry=r)
        self.total_tokens = Counter("litellm_total_tokens", "Tokens (LiteLLM name).", CALL, registry=r)
        self.input_tokens = Counter("litellm_input_tokens", "Input tokens (LiteLLM name).", CALL, registry=r)
        self.output_tokens = Counter(
            "litellm_output_tokens", "Output tokens (LiteLLM name).", CALL, registry=r
        )
        self.proxy_total = Counter(
            "litellm_proxy_total_requests_metric", "Proxy requests.", [*PROXY, "status_code"], registry=r
        )
        self.proxy_failed = Counter(
            "litellm_proxy_failed_requests_metric",
            "Failed proxy requests.",
            [*PROXY, "exception_status", "exception_class"],
            registry=r,
        )
        self.latency = Histogram(
            "litellm_request_total_latency_metric",
            "Request latency (s).",
            LATENCY,
            registry=r,
            buckets=_BUCKETS,
        )
        self.ttft = Histogram(
            "litellm_llm_api_time_to_first_token_metric", "Time to first token (s).", LATENCY, registry=r,
            buckets=_BUCKETS,
        )  # fmt: skip
        self.team_budget = Gauge(
            "litellm_remaining_team_budget_metric", "Team budget left (USD).", ["team", "team_alias"],
            registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.key_budget = Gauge(
            "litellm_remaining_api_key_budget_metric", "Key budget left (USD).",
            ["hashed_api_key", "api_key_alias"], registry=r, multiprocess_mode="mostrecent",
        )  # fmt: skip

    def _who(self, event: Mapping[str, Any]) -> dict[str, str]:
        per_key = self._allowed(event.get("key_alias"), event.get("key_hash"))
        metadata = event.get("metadata") or {}

        def keyed(name: str, value: Any) -> str:
            return self._label(name, value) if per_key and value not in (None, "") else ""

        return {
            "end_user": "",  # never per end user or user: unbounded (LiteLLM's label, left empty)
            "hashed_api_key": keyed("hashed_api_key", event.get("key_hash")),
            "api_key_alias": keyed("api_key_alias", event.get("key_alias")),
            "team": self._label("team", event.get("team_id")),
            "team_alias": self._label("team_alias", metadata.get("user_api_key_team_alias")),
            "user": "",
        }

    def record_call(self, event: Mapping[str, Any], usd: Decimal | None) -> None:
        """Update every LiteLLM-named series from one CallRecord JSON dict (``usd``: its cost or None)."""
        who = self._who(event)
        model = self._label("model", event.get("model_group") or event.get("requested_model"))
        call = {**who, "model": model}
        self.requests.labels(**call).inc()
        if usd is not None:
            self.spend.labels(**call).inc(float(usd))
        usage = event.get("usage") or {}
        input_tokens, output_tokens = (
            int(usage.get("input_tokens") or 0),
            int(usage.get("output_tokens") or 0),
        )
        self.input_tokens.labels(**call).inc(input_tokens)
        self.output_tokens.labels(**call).inc(output_tokens)
        self.total_tokens.labels(**call).inc(input_tokens + output_tokens)
        timing = {k: call[k] for k in LATENCY}
        self.latency.labels(**timing).observe(float(event.get("latency_s") or 0.0))
        if event.get("stream") and event.get("time_to_first_token_s") is not None:
            self.ttft.labels(**timing).observe(float(event["time_to_first_token_s"]))
        self._record_proxy(event, who, model)

    def _record_proxy(self, event: Mapping[str, Any], who: dict[str, str], model: str) -> None:
        proxy = {**who, "requested_model": model}
        error = event.get("error") or {}
        status = "200" if event.get("status") == "success" else str(error.get("status") or 500)
        self.proxy_total.labels(**proxy, status_code=status).inc()
        if event.get("status") != "success":
            kind = self._label("exception_class", error.get("type"))
            self.proxy_failed.labels(**proxy, exception_status=status, exception_class=kind).inc()

    def set_remaining(self, scope: str, name: str, alias: str | None, remaining_usd: float) -> None:
        """``litellm_remaining_team_budget_metric`` / ``..._api_key_budget_metric`` (other scopes: none)."""
        if scope == "team":
            self.team_budget.labels(team=name, team_alias=alias or "").set(remaining_usd)
        elif scope == "key":
            self.key_budget.labels(hashed_api_key=name, api_key_alias=alias or "").set(remaining_usd)
