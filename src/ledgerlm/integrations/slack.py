"""Slack alerts through an incoming webhook: failed calls (rate-limited) and ``alert(text)`` for budgets.

Request (Slack API docs, "Sending messages using incoming webhooks"): ``POST {webhook_url}`` with
``{"text": "..."}``; ``&``, ``<`` and ``>`` are escaped as the docs require. Alerts queued within one
flush interval go out as one message (Slack allows about one message per second per webhook; 429
answers are retried after ``Retry-After``).

Rate limits, applied when an alert is queued (so a failure storm costs nothing downstream):

* per alert key (failures: model group + error type; ``alert(text)``: the text), at most one alert per
  ``alert_interval_s`` (default 60 s); the next one says how many were suppressed meanwhile;
* overall at most ``max_alerts_per_minute`` (default 30).

Failure alerts carry the request id, model group, provider, team, key alias and the error (type,
status, message cut to 300 characters, already scrubbed of secrets by ``ledgerlm.redaction``); never
prompts, responses or keys.

Settings (mapping key / env var): ``webhook_url`` / ``SLACK_WEBHOOK_URL`` (required),
``failure_alerts`` (default true), ``alert_interval_s``, ``max_alerts_per_minute``, plus the common
batching settings.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Hashable, Mapping
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter, log
from ledgerlm.integrations.events import to_export_dict
from ledgerlm.integrations.settings import BatchSettings, Lookup
from ledgerlm.record import CallRecord

__all__ = ["AlertLimiter", "SlackAlerter", "alert", "failure_text", "set_default_alerter"]

_MAX_TEXT = 35_000  # Slack truncates messages past 40,000 characters


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class AlertLimiter:
    """One alert per key per ``interval_s`` and at most ``per_minute`` overall (thread-safe).

    ``hit(key)`` returns ``(allowed, suppressed)``: ``suppressed`` counts the alerts of ``key`` refused
    since the last allowed one (reported in the next alert).
    """

    def __init__(
        self, interval_s: float, per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval_s = interval_s
        self.per_minute = per_minute
        self._clock = clock
        self._last: dict[Hashable, float] = {}
        self._suppressed: dict[Hashable, int] = {}
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def hit(self, key: Hashable) -> tuple[bool, int]:
        """Whether an alert for ``key`` may go out now, and how many were suppressed before it."""
        now = self._clock()
        with self._lock:
            while self._recent and now - self._recent[0] >= 60.0:
                self._recent.popleft()
            last = self._last.get(key)
            too_soon = last is not None and now - last < self.interval_s
            if too_soon or len(self._recent) >= self.per_minute:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return False, 0
            self._last[key] = now
            self._recent.append(now)
            if len(self._last) > 10_000:  # forget the oldest keys; bounded memory
                oldest = min(self._last, key=self._last.__getitem__)
                self._last.pop(oldest)
            return True, self._suppressed.pop(key, 0)


def failure_text(event: Mapping[str, Any], suppressed: int = 0) -> str:
    """The Slack text of one failed call (CallRecord JSON)."""
    error = event.get("error") or {}
    status = f" ({error['status']})" if error.get("status") else ""
    lines = [
        f":rotating_light: LLM call failed: *{error.get('type') or 'error'}*{status}",
        f"model group `{event.get('model_group') or event.get('requested_model')}` "
        f"provider `{event.get('provider')}` team `{event.get('team_id') or '-'}` "
        f"key `{event.get('key_alias') or '-'}`",
        f"request `{event.get('id')}`: {str(error.get('message') or '')[:300]}",
    ]
    if suppressed:
        lines.append(f"({suppressed} similar alerts suppressed)")
    return "\n".join(lines)


class SlackAlerter(BatchingExporter):
    """Failure alerts (a callback) and ``alert(text)`` to one Slack incoming webhook."""

    name: ClassVar[str] = "slack"

    def __init__(
        self,
        webhook_url: str,
        *,
        failure_alerts: bool = True,
        alert_interval_s: float = 60.0,
        max_alerts_per_minute: int = 30,
        settings: BatchSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings)
        self._url = webhook_url
        self.failure_alerts = failure_alerts
        self.limiter = AlertLimiter(alert_interval_s, max_alerts_per_minute, clock)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None) -> SlackAlerter:
        """Build from config/env; raises ``ValueError`` without a webhook URL."""
        look = Lookup(settings, env)
        url = look.get_str("webhook_url", "SLACK_WEBHOOK_URL")
        if not url:
            raise ValueError("slack: set SLACK_WEBHOOK_URL")
        return cls(
            url,
            failure_alerts=look.get_bool("failure_alerts", default=True),
            alert_interval_s=look.get_float("alert_interval_s", default=60.0),
            max_alerts_per_minute=look.get_int("max_alerts_per_minute", default=30),
            settings=BatchSettings.from_settings(settings, env),
        )

    def enqueue(self, record: CallRecord | Mapping[str, Any]) -> bool:
        """Queue a failure alert for a failed call (rate-limited); successes are ignored."""
        if not self.failure_alerts:
            return False
        event = to_export_dict(record, content_logging=False)
        if event.get("status") != "failure":
            return False
        key = ("failure", event.get("model_group"), (event.get("error") or {}).get("type"))
        allowed, suppressed = self.limiter.hit(key)
        if not allowed:
            return False
        return self.enqueue_event({"id": event.get("id"), "text": failure_text(event, suppressed)})

    def alert(self, text: str) -> bool:
        """Queue a free-text alert (budgets' thresholds); False when rate-limited or dropped."""
        allowed, suppressed = self.limiter.hit(("alert", text))
        if not allowed:
            return False
        if suppressed:
            text = f"{text}\n({suppressed} identical alerts suppressed)"
        return self.enqueue_event({"id": f"alert-{uuid.uuid4().hex}", "text": text})

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """POST the queued alerts as one message."""
        text = "\n\n".join(_escape(str(e.get("text", ""))) for e in events)[:_MAX_TEXT]
        await self.post(self._url, orjson.dumps({"text": text}), {"Content-Type": "application/json"})


_default: SlackAlerter | None = None
_default_lock = threading.Lock()


def set_default_alerter(alerter: SlackAlerter | None) -> None:
    """Make ``alerter`` the target of ``alert()`` (the registry does this for the ``slack`` callback)."""
    global _default
    with _default_lock:
        _default = alerter


def alert(text: str) -> bool:
    """Send ``text`` to the configured Slack webhook (rate-limited, never blocks, never raises).

    Uses the ``slack`` callback's alerter, else one built from ``SLACK_WEBHOOK_URL`` on first use.
    Returns False when no webhook is configured or the alert was rate-limited.
    """
    global _default
    with _default_lock:
        if _default is None:
            try:
                _default = SlackAlerter.from_settings({})
            except ValueError:
                log.info("slack alert not sent (no SLACK_WEBHOOK_URL): %s", text[:200])
                return False
        alerter = _default
    return alerter.alert(text)
