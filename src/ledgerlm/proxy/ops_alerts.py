"""Operational alerts of the ledger and of tag governance (issues 14 and 20).

Events (``event`` in the webhook body):

* ``ledger_anomaly``: a spend row written with clamped or cut values (``metadata.anomalies``);
* ``ledger_minimal_row``: a row the database refused, written in its minimal form;
* ``tag_quarantine``: a request whose tags a policy quarantined (``<dim>:untagged`` / ``<dim>:invalid``);
* ``tag_drift``: a drift report whose untagged share of a dimension passed
  ``general_settings.tag_drift_alert_threshold``.

They go through the budget alert channels (``budget_settings.alerts``: ``webhook_urls`` get the JSON
event ``{"type": "ledgerlm_alert", "event", "subject", "message", "details"}``, ``slack_webhook_urls`` get
``{"text": ...}``, ``slack_alerter`` the Slack exporter), delivered in the background by the same
``HTTPAlertSender`` (never raises, never delays a response). De-duplication, per ``(event, subject,
period)``: ledger events once per UTC hour (subject: the event; the first row's request id is in
``details``), quarantine once per UTC day per dimension, drift once per report period (``from..to``) per
dimension; shared by every instance through the budget backend's ``mark_once`` (Redis ``SET NX``) when
Redis is configured, else per process. Every event (not only the first) is counted in Prometheus when the
``prometheus`` callback is on: ``ledgerlm_ledger_anomalies_total{kind}`` and
``ledgerlm_tag_alerts_total{event, dimension}``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from ledgerlm.budgets.alerts import AlertSender, AlertSettings, HTTPAlertSender

__all__ = ["OpsAlert", "OpsAlerts", "build_ops_alerts"]

log = logging.getLogger("ledgerlm.alerts")

MarkOnce = Callable[[str, float], Awaitable[bool]]
Count = Callable[[str, str, str], None]  # (metric: "ledger" | "tag", event or kind, dimension)
_HOUR_S = 3600.0
_DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class OpsAlert:
    """One operational alert; ``details`` holds JSON values only."""

    event: str
    subject: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        """One human line (Slack message)."""
        return f"ledgerlm alert ({self.event}): {self.message}"

    def to_json(self) -> dict[str, Any]:
        """The webhook event."""
        return {
            "type": "ledgerlm_alert",
            "event": self.event,
            "subject": self.subject,
            "message": self.text(),
            "details": _plain(self.details),
        }


def _plain(value: Any) -> Any:
    """``value`` with JSON types only: ``Decimal`` (USD, shares) as its decimal string, dates ISO 8601."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class OpsAlerts:
    """Raises the alerts above; the writer's ``on_anomaly`` and the tag step call it synchronously."""

    def __init__(
        self, sender: AlertSender | None, count: Count | None = None, mark_once: MarkOnce | None = None
    ) -> None:
        self.sender = sender
        self.count = count
        self.mark_once = mark_once
        self.sent: list[OpsAlert] = []  # delivered alerts of this process (newest last; for tests)
        self._seen: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def ledger_row(self, kind: str, request_id: str, anomalies: list[Any]) -> None:
        """The spend writer's hook: ``kind`` ``flagged`` or ``minimal``; ``anomalies`` as stored."""
        self._count("ledger", kind, "")
        event = "ledger_minimal_row" if kind == "minimal" else "ledger_anomaly"
        fields = sorted({str(a.get("field")) for a in anomalies if isinstance(a, Mapping)})
        what = "written in minimal form (refused by the database)" if kind == "minimal" else "clamped or cut"
        message = f"spend row {request_id} {what}; fields: {', '.join(fields)}"
        hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
        details = {"request_id": request_id, "anomalies": anomalies}
        self._emit(OpsAlert(event, event, message, details), hour, _HOUR_S)

    def quarantine(self, dimension: str, mark: str, invalid: list[str]) -> None:
        """A request quarantined as ``<dimension>:<mark>`` (``untagged`` / ``invalid``)."""
        self._count("tag", "tag_quarantine", dimension)
        message = f"tag dimension {dimension!r} quarantined as {dimension}:{mark} (invalid values: {invalid})"
        details = {"dimension": dimension, "quarantined_as": f"{dimension}:{mark}", "invalid_values": invalid}
        day = datetime.now(UTC).date().isoformat()
        self._emit(OpsAlert("tag_quarantine", dimension, message, details), day, _DAY_S)

    def drift(self, report: Mapping[str, Any]) -> None:
        """Each entry of a drift report's ``alerts`` (``{dimension, untagged_share, threshold}``)."""
        period = f"{report.get('from')}..{report.get('to')}"
        for entry in report.get("alerts") or []:
            dimension = str(entry.get("dimension"))
            self._count("tag", "tag_drift", dimension)
            message = (
                f"tag dimension {dimension!r}: untagged share {entry.get('untagged_share')} of {period} "
                f"passed the threshold {entry.get('threshold')}"
            )
            details = {**dict(entry), "from": report.get("from"), "to": report.get("to")}
            self._emit(OpsAlert("tag_drift", dimension, message, details), period, _DAY_S * 31)

    async def drain(self) -> None:
        """Wait until every alert scheduled so far was delivered (or failed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _count(self, metric: str, label: str, dimension: str) -> None:
        if self.count is not None:
            try:
                self.count(metric, label, dimension)
            except Exception:  # a metric must never break the caller
                log.exception("alert counter failed")

    def _emit(self, alert: OpsAlert, period: str, ttl_s: float) -> None:
        key = f"ops|{alert.event}|{alert.subject}|{period}"
        if key in self._seen:  # once per period and process (callers log each event themselves)
            return
        self._seen.add(key)
        log.warning("%s", alert.text())
        try:
            task = asyncio.get_running_loop().create_task(self._deliver(alert, key, ttl_s))
        except RuntimeError:  # no event loop (a synchronous caller): logged above only
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, alert: OpsAlert, key: str, ttl_s: float) -> None:
        try:
            if self.mark_once is not None and not await self.mark_once(key, ttl_s):
                return  # another instance sent it this period
        except Exception as exc:  # Redis away: send rather than lose the alert
            log.warning("alert de-duplication unavailable (%s); sending", exc)
        if self.sender is not None:
            await self.sender.send(alert)
        self.sent.append(alert)

    async def close(self) -> None:
        """Deliver pending alerts and close the sender's connections."""
        await self.drain()
        close = getattr(self.sender, "close", None)
        if close is not None:
            await close()


def _prometheus_count(metric: str, label: str, dimension: str) -> None:
    from ledgerlm.integrations import prometheus

    metrics = prometheus.default_metrics()
    if metric == "ledger":
        metrics.ledger_anomalies.labels(kind=label).inc()
    else:
        metrics.tag_alerts.labels(event=label, dimension=metrics.label("dimension", dimension)).inc()


def build_ops_alerts(admission: Any, prometheus_on: bool) -> OpsAlerts:
    """The proxy's alerts from its admission's ``budget_settings.alerts`` (none configured: log and
    count only); ``mark_once`` looked up at delivery time (the backend starts with the app)."""
    config = getattr(admission, "config", None)
    settings = config.alert_settings() if config is not None else AlertSettings()
    configured = settings.webhook_urls or settings.slack_webhook_urls or settings.slack_alerter
    sender = HTTPAlertSender(settings) if configured else None

    async def mark_once(key: str, ttl_s: float) -> bool:
        backend = getattr(admission, "backend", None)
        return True if backend is None else bool(await backend.mark_once(key, ttl_s))

    return OpsAlerts(sender, _prometheus_count if prometheus_on else None, mark_once)
