"""Spend alerts that compare with a baseline: the current hour far above the rolling baseline.

Each finished call (a callback: never on the response path) is counted in the hourly series of its key,
team, end user, request tags and model (``ledgerlm.budgets.baseline``); then every rule is checked on
those series. A rule fires when, in the current UTC hour,

    current >= factor x baseline   and   current >= min_current   and   baseline covers >= min_baseline_hours

(``tokens_per_request`` and ``error_share`` also need ``min_requests`` calls this hour). A rule fires
at most once per series and hour (de-duplicated), and its alert goes to every channel (Slack, webhook,
Sentry: ``ledgerlm.budgets.alert_channels``). ``action: throttle`` also caps the series at
``throttle_rpm`` requests per minute until an admin clears it (``ledgerlm.budgets.throttle``).

Several proxy instances: with Redis the baselines are ``RedisBaseline`` (counters shared) and ``marks``
is ``RedisMarks`` (``SET NX`` with a TTL), so an alert is delivered, and its throttle set, by exactly
one instance; without Redis each instance counts and alerts on its own. The detector's hooks are the
synchronous ones (the dispatcher's thread pool: one call at a time, in order), so its Redis round trip
(one Lua script per call) never runs on an event loop nor on the response path.

Rule settings (``spend_alerts.rules[]`` in the proxy config)::

    name: spend_spike             # required, unique
    metric: spend_per_hour        # spend_per_hour | tokens_per_request | error_share
    dimensions: [key, team, end_user, tag, model]   # default: all
    factor: 3                     # current / baseline ratio that fires
    min_baseline_hours: 3         # closed hours the baseline must cover
    min_current: 1.0              # floor on the current value (USD/h, tokens, share)
    min_requests: 10              # calls this hour before ratio metrics are judged
    action: alert                 # alert | throttle
    throttle_rpm: 10              # with action: throttle
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from ledgerlm.budgets.alert_channels import AlertChannel
from ledgerlm.budgets.baseline import METRICS, HourlyBaseline, SeriesKey, SeriesStats, series_keys
from ledgerlm.budgets.throttle import Throttles
from ledgerlm.custom_logger import CustomLogger
from ledgerlm.record import CallRecord

__all__ = ["DIMENSIONS", "AlertRule", "SpendAlerts", "SpendAnomaly", "parse_rules"]

log = logging.getLogger("ledgerlm.budgets")

DIMENSIONS: tuple[str, ...] = ("key", "team", "end_user", "tag", "model")
_DEDUPE = 50_000
_MARK_TTL_S = 2 * 3600.0  # a (rule, series, hour) mark outlives its hour


class Baseline(Protocol):
    """``HourlyBaseline`` (per process) or ``RedisBaseline`` (shared)."""

    def observe(
        self, keys: list[SeriesKey], hour: int, *, spend: Decimal | None, tokens: int, failed: bool
    ) -> dict[SeriesKey, SeriesStats]: ...


Marks = Callable[[str, float], bool]
"""``mark(key, ttl_s)``: True the first time ``key`` is marked (across instances for ``RedisMarks``)."""


def _decimal(raw: Any, name: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValueError(f"spend_alerts rule: {name} must be a number, got {raw!r}") from None
    if value < 0 or not value.is_finite():
        raise ValueError(f"spend_alerts rule: {name} must be >= 0")
    return value


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One rule (module docstring). Thresholds are ``Decimal``."""

    name: str
    metric: str = "spend_per_hour"
    dimensions: frozenset[str] = frozenset(DIMENSIONS)
    factor: Decimal = Decimal(3)
    min_baseline_hours: int = 3
    min_current: Decimal = Decimal(0)
    min_requests: int = 1
    action: str = "alert"
    throttle_rpm: int | None = None

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> AlertRule:
        """Parse one rule; raises ``ValueError`` naming the bad field."""
        name = str(raw.get("name") or "")
        if not name:
            raise ValueError("spend_alerts rule: name is required")
        metric = str(raw.get("metric", "spend_per_hour"))
        if metric not in METRICS:
            raise ValueError(f"spend_alerts rule {name!r}: metric must be one of {', '.join(METRICS)}")
        dims = frozenset(str(d) for d in raw.get("dimensions") or DIMENSIONS)
        if not dims <= set(DIMENSIONS):
            raise ValueError(f"spend_alerts rule {name!r}: dimensions must be among {', '.join(DIMENSIONS)}")
        action = str(raw.get("action", "alert"))
        rpm = raw.get("throttle_rpm")
        if action not in ("alert", "throttle"):
            raise ValueError(f"spend_alerts rule {name!r}: action must be alert or throttle")
        if action == "throttle" and (not isinstance(rpm, int) or rpm < 0):
            raise ValueError(
                f"spend_alerts rule {name!r}: action throttle needs throttle_rpm (an integer >= 0)"
            )
        return cls(
            name=name,
            metric=metric,
            dimensions=dims,
            factor=_decimal(raw.get("factor", 3), "factor"),
            min_baseline_hours=int(raw.get("min_baseline_hours", 3)),
            min_current=_decimal(raw.get("min_current", 0), "min_current"),
            min_requests=int(raw.get("min_requests", 1)),
            action=action,
            throttle_rpm=rpm if action == "throttle" else None,
        )


def parse_rules(raw: Sequence[Mapping[str, Any]] | None) -> list[AlertRule]:
    """Rules from config; raises ``ValueError`` on a bad or duplicated rule."""
    rules = [AlertRule.from_mapping(r) for r in raw or []]
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ValueError("spend_alerts: rule names must be unique")
    return rules


def _fmt(metric: str, value: Decimal) -> str:
    if metric == "spend_per_hour":
        return f"${value.quantize(Decimal('0.0001'))}"
    if metric == "error_share":
        return f"{(value * 100).quantize(Decimal('0.1'))}%"
    return f"{value.quantize(Decimal('0.1'))} tokens"


@dataclass(frozen=True, slots=True)
class SpendAnomaly:
    """One fired rule on one series in one hour."""

    rule: AlertRule
    dimension: str
    value: str
    label: str
    current: Decimal
    baseline: Decimal
    baseline_hours: int
    hour: int

    @property
    def key(self) -> str:
        """The de-duplication key: rule, series and hour."""
        return f"{self.rule.name}|{self.dimension}|{self.value}|{self.hour}"

    def text(self) -> str:
        """One human line."""
        metric = self.rule.metric
        ratio = "" if not self.baseline else f", {(self.current / self.baseline).quantize(Decimal('0.1'))}x"
        action = (
            f"; throttled to {self.rule.throttle_rpm} rpm until an admin clears it"
            if self.rule.action == "throttle"
            else ""
        )
        hour = datetime.fromtimestamp(self.hour * 3600, UTC).strftime("%Y-%m-%d %H:00")
        return (
            f"ledgerlm spend alert [{self.rule.name}]: {self.dimension} {self.label} {metric} is "
            f"{_fmt(metric, self.current)} in the hour from {hour} UTC{ratio} its {self.baseline_hours} h "
            f"baseline of {_fmt(metric, self.baseline)}{action}"
        )

    def to_json(self) -> dict[str, Any]:
        """The webhook event (``type: spend_alert``); values as decimal strings."""
        return {
            "type": "spend_alert",
            "id": self.key,
            "rule": self.rule.name,
            "metric": self.rule.metric,
            "dimension": self.dimension,
            "value": self.value,
            "current": str(self.current),
            "baseline": str(self.baseline),
            "baseline_hours": self.baseline_hours,
            "hour_start": datetime.fromtimestamp(self.hour * 3600, UTC).isoformat(),
            "action": self.rule.action,
            "throttle_rpm": self.rule.throttle_rpm,
            "message": self.text(),
        }


def _event(record: CallRecord | Mapping[str, Any]) -> Mapping[str, Any]:
    return record.model_dump(mode="json") if isinstance(record, CallRecord) else record


class SpendAlerts(CustomLogger):
    """The baseline detector as a callback (module docstring). ``clock``: epoch seconds."""

    def __init__(
        self,
        rules: Sequence[AlertRule],
        *,
        channels: Sequence[AlertChannel] = (),
        throttles: Throttles | None = None,
        baseline: Baseline | None = None,
        clock: Callable[[], float] = time.time,
        marks: Marks | None = None,
    ) -> None:
        self.rules = list(rules)
        self.channels = list(channels)
        self.throttles = throttles if throttles is not None else Throttles()
        self.baseline: Baseline = baseline if baseline is not None else HourlyBaseline()
        self.marks = marks
        self.fired: list[SpendAnomaly] = []  # the last alerts (bounded), newest last
        self._clock = clock
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._from_kwargs(kwargs)

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._from_kwargs(kwargs)

    def _from_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        record = kwargs.get("standard_logging_object")
        if isinstance(record, CallRecord | Mapping):
            self.observe(record)

    def observe(self, record: CallRecord | Mapping[str, Any]) -> list[SpendAnomaly]:
        """Count one call and return the alerts it fired (already delivered and acted on)."""
        event = _event(record)
        if event.get("id") in self._seen:
            return []
        self._remember(str(event.get("id")))
        hour = int(self._clock() // 3600)
        usage = event.get("usage") or {}
        cost = (event.get("cost") or {}).get("total")
        keys = series_keys(
            key=event.get("key_hash"),
            team=event.get("team_id"),
            end_user=event.get("end_user"),
            tags=list(event.get("request_tags") or []),
            model=event.get("model_group") or event.get("model"),
        )
        tokens = int(usage.get("input_tokens") or 0) + int(usage.get("output_tokens") or 0)
        spend = Decimal(str(cost)) if cost is not None else None
        failed = event.get("status") == "failure"
        stats = self.baseline.observe(keys, hour, spend=spend, tokens=tokens, failed=failed)
        labels = {("key", event.get("key_hash")): event.get("key_alias")}
        fired = [a for rule in self.rules for a in self._check(rule, stats, hour, labels)]
        for anomaly in fired:
            self._act(anomaly)
        return fired

    def _check(
        self, rule: AlertRule, stats: Mapping[SeriesKey, SeriesStats], hour: int, labels: Mapping[Any, Any]
    ) -> list[SpendAnomaly]:
        out: list[SpendAnomaly] = []
        for key, seen in stats.items():
            if key[0] not in rule.dimensions:
                continue
            anomaly = _judge(rule, key, seen, hour, str(labels.get(key) or key[1]))
            if anomaly is not None and self._first(anomaly.key):
                out.append(anomaly)
        return out

    def _first(self, dedupe_key: str) -> bool:
        """True for the first sighting here and (with ``marks``) across every instance."""
        with self._lock:
            if dedupe_key in self._seen:
                return False
            self._seen[dedupe_key] = None
            while len(self._seen) > _DEDUPE:
                self._seen.popitem(last=False)
        if self.marks is None:
            return True
        try:
            return self.marks(f"spend_alert|{dedupe_key}", _MARK_TTL_S)
        except Exception as exc:  # Redis away: deliver rather than lose the alert
            log.warning("spend alert de-duplication unavailable (%s); delivering", exc)
            return True

    def _remember(self, record_id: str) -> None:
        with self._lock:
            self._seen[record_id] = None
            while len(self._seen) > _DEDUPE:
                self._seen.popitem(last=False)

    def _act(self, anomaly: SpendAnomaly) -> None:
        """Throttle (when the rule says so), then deliver to every channel (never raises)."""
        if anomaly.rule.action == "throttle" and anomaly.rule.throttle_rpm is not None:
            self.throttles.set(
                (anomaly.dimension, anomaly.value),
                anomaly.rule.throttle_rpm,
                rule=anomaly.rule.name,
                reason=anomaly.text(),
            )
        self.fired = [*self.fired[-99:], anomaly]
        log.warning("%s", anomaly.text())
        for channel in self.channels:
            try:
                channel.deliver(anomaly.text(), anomaly.to_json(), anomaly.key)
            except Exception:
                log.exception("spend alert channel %s failed", type(channel).__name__)


def _judge(rule: AlertRule, key: SeriesKey, stats: SeriesStats, hour: int, label: str) -> SpendAnomaly | None:
    """The anomaly of ``rule`` on one series, or ``None`` (module docstring)."""
    current = stats.current_value(rule.metric)
    base, hours = stats.baseline_value(rule.metric), stats.hours
    if current is None or base is None or hours < rule.min_baseline_hours or current < rule.min_current:
        return None
    if rule.metric != "spend_per_hour" and stats.current.requests < rule.min_requests:
        return None
    if current < rule.factor * base or current <= 0:
        return None
    return SpendAnomaly(rule, key[0], key[1], label, current, base, hours, hour)
