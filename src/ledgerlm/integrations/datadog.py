"""Datadog exporter: one log per call through Datadog's HTTP logs intake (v2).

Request (Datadog API reference, "Send logs"): ``POST https://http-intake.logs.{DD_SITE}/api/v2/logs``
with the ``DD-API-KEY`` header and a JSON array of logs (at most 1000 per request, 5 MB uncompressed,
so larger batches are split; gzip-compressed with ``Content-Encoding: gzip`` as Datadog recommends).
The intake answers 202;
400/403/413 are permanent, 408/429/5xx are retried. Logs older than 18 hours are refused by Datadog,
so a spool replayed after a longer outage loses those.

Each log: ``ddsource`` (``DD_SOURCE``, default ``ledgerlm``), ``service`` (``DD_SERVICE``, default
``ledgerlm``), ``hostname`` (``DD_HOSTNAME``, default the machine's name), ``ddtags``
(``env:``/``version:`` from ``DD_ENV``/``DD_VERSION``, ``DD_TAGS``, then ``model_group:``,
``provider:``, ``status:``, ``team:`` of the call), ``status`` (log level: ``info``, ``error`` on
failure), ``message`` (a one-line summary), ``timestamp`` (end of the call, epoch milliseconds),
``duration`` (nanoseconds, Datadog's standard attribute) and ``ledgerlm`` (the whole CallRecord JSON).

Settings (mapping key / env var): ``api_key`` / ``DD_API_KEY`` (required), ``site`` / ``DD_SITE``
(default ``datadoghq.com``), ``url`` / ``DD_LOGS_URL`` (overrides the intake URL), ``source``,
``service``, ``hostname``, ``env``, ``version``, ``tags`` (the ``DD_*`` env vars above), plus the common
batching settings (``batch_size`` is capped at 1000).
"""

from __future__ import annotations

import dataclasses
import gzip
import socket
from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.events import chunk_json_array
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["DatadogExporter", "datadog_log"]

MAX_BATCH = 1000
MAX_REQUEST_BYTES = 4_500_000
"""Uncompressed bytes per request (Datadog accepts 5 MB; a margin)."""


def _tag(name: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    return f"{name}:{str(value).replace(',', '_').replace(' ', '_')}"


def _summary(event: Mapping[str, Any]) -> str:
    cost = (event.get("cost") or {}).get("total")
    price = f"${cost}" if cost is not None else "unpriced"
    usage = event.get("usage") or {}
    text = (
        f"{event.get('call_type')} {event.get('requested_model')} {event.get('status')} "
        f"{float(event.get('latency_s') or 0):.3f}s {usage.get('input_tokens', 0)}+"
        f"{usage.get('output_tokens', 0)} tokens {price}"
    )
    error = event.get("error")
    if error:
        text += f" error={error.get('type')}: {str(error.get('message'))[:200]}"
    return text


def datadog_log(
    event: Mapping[str, Any], *, source: str, service: str, hostname: str, base_tags: list[str]
) -> dict[str, Any]:
    """The Datadog log object of one call (CallRecord JSON ``event``)."""
    tags = list(base_tags)
    for name, key in (("model_group", "model_group"), ("provider", "provider"), ("status", "status")):
        tags.append(_tag(name, event.get(key)) or f"{name}:unknown")
    team = _tag("team", event.get("team_id"))
    if team:
        tags.append(team)
    return {
        "ddsource": source,
        "service": service,
        "hostname": hostname,
        "ddtags": ",".join(tags),
        "status": "error" if event.get("status") == "failure" else "info",
        "message": _summary(event),
        "timestamp": int(float(event.get("end_time") or 0) * 1000),
        "duration": int(float(event.get("latency_s") or 0) * 1e9),
        "ledgerlm": dict(event),
    }


class DatadogExporter(BatchingExporter):
    """Batches calls into Datadog log intake requests (module docstring)."""

    name: ClassVar[str] = "datadog"

    def __init__(
        self,
        api_key: str,
        *,
        url: str,
        source: str = "ledgerlm",
        service: str = "ledgerlm",
        hostname: str | None = None,
        tags: list[str] | None = None,
        settings: BatchSettings | None = None,
    ) -> None:
        settings = settings or BatchSettings()
        if settings.batch_size > MAX_BATCH:
            settings = dataclasses.replace(settings, batch_size=MAX_BATCH)
        super().__init__(settings)
        self.url = url
        self._api_key = api_key
        self.source, self.service = source, service
        self.hostname = hostname or socket.gethostname()
        self.tags = list(tags or [])

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> DatadogExporter:
        """Build from config/env; raises ``ValueError`` without an API key."""
        look = Lookup(settings, env)
        api_key = look.get_str("api_key", "DD_API_KEY")
        if not api_key:
            raise ValueError("datadog: set DD_API_KEY")
        site = look.get_str("site", "DD_SITE", default="datadoghq.com")
        url = look.get_str("url", "DD_LOGS_URL") or f"https://http-intake.logs.{site}/api/v2/logs"
        raw_tags = look.get("tags", "DD_TAGS") or []
        tags = raw_tags.replace(" ", ",").split(",") if isinstance(raw_tags, str) else list(raw_tags)
        for name, env_name in (("env", "DD_ENV"), ("version", "DD_VERSION")):
            tag = _tag(name, look.get_str(name, env_name))
            if tag:
                tags.insert(0, tag)
        return cls(
            api_key,
            url=url,
            source=look.get_str("source", "DD_SOURCE", default="ledgerlm") or "ledgerlm",
            service=look.get_str("service", "DD_SERVICE", default="ledgerlm") or "ledgerlm",
            hostname=look.get_str("hostname", "DD_HOSTNAME"),
            tags=[t for t in tags if t],
            settings=BatchSettings.from_settings(settings, env),
        )

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """POST the logs (gzip JSON array) with the ``DD-API-KEY`` header."""
        logs = [
            datadog_log(
                e, source=self.source, service=self.service, hostname=self.hostname, base_tags=self.tags
            )
            for e in events
        ]
        headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "DD-API-KEY": self._api_key,
        }
        for array in chunk_json_array([orjson.dumps(log) for log in logs], MAX_REQUEST_BYTES):
            await self.post(self.url, gzip.compress(array), headers)
