"""Where spend alerts and budget forecasts go: Slack, a webhook, Sentry (the existing exporters).

Each channel's ``deliver(text, payload, key)`` only queues (the exporters' batching base: bounded
queue, retries, disk spool); it never waits on the network. ``key`` is the alert's de-duplication key
(the same alert is queued once per channel: the caller de-duplicates, the Sentry event id and the
webhook's ``Idempotency-Key`` derive from it so a resend is recognisable).

* ``slack``: ``ledgerlm.integrations.slack.alert(text)`` (the ``slack`` callback's webhook, else
  ``SLACK_WEBHOOK_URL``), or a given ``SlackAlerter``;
* ``webhook``: a ``generic_api`` exporter POSTing ``[payload]`` (JSON, ``type: spend_alert`` /
  ``budget_forecast``) to ``webhook_url`` (else ``GENERIC_LOGGER_ENDPOINT``);
* ``sentry``: a ``warning`` message event through the ``sentry`` exporter (``SENTRY_DSN``).

``build_channels(names, settings, env)`` builds them from config: ``names`` defaults to LiteLLM's
``general_settings.alerting`` list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ledgerlm.integrations.sentry import SentryExporter
from ledgerlm.integrations.slack import SlackAlerter
from ledgerlm.integrations.slack import alert as slack_alert
from ledgerlm.integrations.webhook import WebhookExporter

__all__ = ["AlertChannel", "SentryChannel", "SlackChannel", "WebhookChannel", "build_channels"]

CHANNELS = ("slack", "webhook", "sentry")


class AlertChannel(Protocol):
    def deliver(self, text: str, payload: Mapping[str, Any], key: str) -> bool:
        """Queue one alert; False when it was not queued (rate-limited, dropped)."""
        ...


class SlackChannel:
    """Slack incoming webhook (``alerter``, else the process-wide ``slack.alert``)."""

    def __init__(self, alerter: SlackAlerter | None = None) -> None:
        self.alerter = alerter

    def deliver(self, text: str, payload: Mapping[str, Any], key: str) -> bool:
        return self.alerter.alert(text) if self.alerter is not None else slack_alert(text)


class WebhookChannel:
    """POST the alert's JSON payload through a ``generic_api`` exporter."""

    def __init__(self, exporter: WebhookExporter) -> None:
        self.exporter = exporter

    def deliver(self, text: str, payload: Mapping[str, Any], key: str) -> bool:
        return self.exporter.enqueue_event({**payload, "id": key})


class SentryChannel:
    """A ``warning`` message event through a ``sentry`` exporter."""

    def __init__(self, exporter: SentryExporter) -> None:
        self.exporter = exporter

    def deliver(self, text: str, payload: Mapping[str, Any], key: str) -> bool:
        return self.exporter.alert(text, key=key)


def build_channels(
    names: Sequence[str], settings: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> list[AlertChannel]:
    """Channels for ``names`` (``slack``, ``webhook``, ``sentry``); ``settings`` may hold
    ``webhook_url`` and per-channel blocks ``slack`` / ``webhook`` / ``sentry`` (exporter settings).
    Raises ``ValueError`` for an unknown name or a channel without its URL / DSN."""
    out: list[AlertChannel] = []
    for name in dict.fromkeys(names):
        block = dict(settings.get(name) or {})
        if name == "slack":
            url = block.get("webhook_url") or settings.get("slack_webhook_url")
            out.append(SlackChannel(SlackAlerter.from_settings(block, env) if url else None))
        elif name == "webhook":
            block.setdefault("endpoint", settings.get("webhook_url"))
            out.append(WebhookChannel(WebhookExporter.from_settings(block, env)))
        elif name == "sentry":
            out.append(SentryChannel(SentryExporter.from_settings(block, env)))
        else:
            raise ValueError(f"spend_alerts: unknown channel {name!r}; known: {', '.join(CHANNELS)}")
    return out
