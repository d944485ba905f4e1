"""Langfuse exporter: traces and generations through Langfuse's public ingestion API.

Request (Langfuse API reference, "Ingestion"): ``POST {host}/api/public/ingestion`` with HTTP basic auth
(public key as user name, secret key as password) and ``{"batch": [event, ...]}``. Each event is an
envelope ``{"id", "type", "timestamp", "body"}``; Langfuse deduplicates on the envelope ``id``, so the
ids here are derived from the request id (a resend is ignored, never double-counted). Per call:

* ``trace-create``: ``body.id`` = ``metadata.trace_id`` or the request id; ``name``, ``userId`` (end user,
  else user id), ``sessionId`` (``metadata.session_id``), ``tags`` (request tags), ``metadata``;
* ``generation-create``: ``body.id`` = request id, ``traceId``, ``name``, ``startTime``, ``endTime``,
  ``completionStartTime`` (first token), ``model``, ``modelParameters``, ``usageDetails`` and
  ``costDetails`` (see below), ``level`` (``ERROR`` on failure) and ``statusMessage``, content as
  ``input``/``output`` only when content logging is on.

``usageDetails`` splits tokens so that the parts add up to ``total`` (Langfuse sums the keys it gets):
``input`` (uncached input), ``cache_read_input_tokens``, ``cache_creation_input_tokens``, ``output``
(without reasoning), ``output_reasoning_tokens``, ``total``. ``costDetails`` carries ledgerlm's own cost
in USD under the same keys plus ``total``; it is omitted for unpriced calls (the reason is in metadata).

Requests are split to stay under Langfuse's 3.5 MB batch limit. The API answers 207 with per-event
``errors``; errors with status 429/5xx make the batch retry (safe:
event ids dedupe), other errors are counted as dropped.

Settings (mapping key / env var): ``public_key`` / ``LANGFUSE_PUBLIC_KEY``, ``secret_key`` /
``LANGFUSE_SECRET_KEY`` (both required), ``host`` / ``LANGFUSE_HOST`` (default
``https://cloud.langfuse.com``), plus the common batching settings.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter, RetryableSendError, log
from ledgerlm.integrations.events import chunk_json_array, event_uuid
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["LangfuseExporter", "generation_events"]

MAX_REQUEST_BYTES = 3_000_000
"""Bytes per ingestion request (Langfuse limits a batch to 3.5 MB; a margin for the envelope)."""

_COST_KEYS = {
    "input": "input",
    "cache_read": "cache_read_input_tokens",
    "cache_write": "cache_creation_input_tokens",
    "cache_write_1h": "cache_creation_input_tokens",
    "output": "output",
    "reasoning": "output_reasoning_tokens",
}


def _iso(epoch_s: Any) -> str | None:
    if epoch_s is None:
        return None
    stamp = datetime.fromtimestamp(float(epoch_s), UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")


def usage_details(usage: Mapping[str, Any]) -> dict[str, int]:
    """Langfuse ``usageDetails`` whose parts add up to ``total`` (tokens)."""
    input_tokens, output_tokens = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    cache_read, cache_write = (
        int(usage.get("cache_read_tokens") or 0),
        int(usage.get("cache_write_tokens") or 0),
    )
    reasoning = int(usage.get("reasoning_tokens") or 0)
    details = {
        "input": max(0, input_tokens - cache_read - cache_write),
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
        "output": max(0, output_tokens - reasoning),
        "output_reasoning_tokens": reasoning,
    }
    details = {k: v for k, v in details.items() if v or k in ("input", "output")}
    details["total"] = input_tokens + output_tokens
    return details


def cost_details(cost: Mapping[str, Any]) -> dict[str, float] | None:
    """Langfuse ``costDetails`` (USD) from ledgerlm's breakdown, or ``None`` when unpriced."""
    if cost.get("total") is None:
        return None
    details: dict[str, float] = {}
    for category, amount in (cost.get("breakdown") or {}).items():
        key = _COST_KEYS.get(category, category)
        details[key] = details.get(key, 0.0) + float(amount)
    details["total"] = float(cost["total"])
    return details


def _metadata(event: Mapping[str, Any]) -> dict[str, Any]:
    cost = event.get("cost") or {}
    meta = {
        "ledgerlm_request_id": event.get("id"),
        "model_group": event.get("model_group"),
        "provider": event.get("provider"),
        "team_id": event.get("team_id"),
        "key_alias": event.get("key_alias"),
        "key_hash": event.get("key_hash"),
        "end_user": event.get("end_user"),
        "cost_total_usd": cost.get("total"),
        "cost_source": cost.get("source"),
        "unpriced_reason": cost.get("unpriced_reason"),
        "cache_hit": event.get("cache_hit"),
    }
    return {k: v for k, v in meta.items() if v is not None}


def generation_events(event: Mapping[str, Any], *, content: bool) -> list[dict[str, Any]]:
    """The ``trace-create`` and ``generation-create`` envelopes of one call (CallRecord JSON)."""
    record_id = str(event["id"])
    meta_in = event.get("metadata") or {}
    trace_id = str(meta_in.get("trace_id") or record_id)
    name = str(meta_in.get("generation_name") or f"{event.get('call_type', 'completion')}")
    now = _iso(event.get("end_time"))
    trace_body: dict[str, Any] = {
        "id": trace_id,
        "timestamp": _iso(event.get("start_time")),
        "name": str(
            meta_in.get("trace_name") or f"ledgerlm {event.get('model_group') or event.get('model')}"
        ),
        "userId": event.get("end_user") or event.get("user_id"),
        "sessionId": meta_in.get("session_id"),
        "tags": list(event.get("request_tags") or []),
        "metadata": _metadata(event),
    }
    failed = event.get("status") == "failure"
    error = event.get("error") or {}
    generation: dict[str, Any] = {
        "id": record_id,
        "traceId": trace_id,
        "name": name,
        "startTime": _iso(event.get("start_time")),
        "endTime": _iso(event.get("end_time")),
        "completionStartTime": _iso(event.get("first_token_time")),
        "model": event.get("response_model") or event.get("model"),
        "modelParameters": {k: v for k, v in (event.get("request_params") or {}).items() if _scalar(v)},
        "usageDetails": usage_details(event.get("usage") or {}),
        "costDetails": cost_details(event.get("cost") or {}),
        "level": "ERROR" if failed else "DEFAULT",
        "statusMessage": f"{error.get('type')}: {error.get('message')}" if failed else None,
        "metadata": _metadata(event),
    }
    if content:
        trace_body["input"] = generation["input"] = event.get("messages")
        trace_body["output"] = generation["output"] = event.get("response")
    return [
        _envelope(event_uuid(record_id, "trace-create"), "trace-create", now, trace_body),
        _envelope(event_uuid(record_id, "generation-create"), "generation-create", now, generation),
    ]


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _envelope(event_id: str, kind: str, timestamp: str | None, body: dict[str, Any]) -> dict[str, Any]:
    clean = {k: v for k, v in body.items() if v is not None}
    return {"id": event_id, "type": kind, "timestamp": timestamp, "body": clean}


class LangfuseExporter(BatchingExporter):
    """Batches calls into Langfuse ingestion requests (module docstring)."""

    name: ClassVar[str] = "langfuse"

    def __init__(
        self,
        public_key: str,
        secret_key: str,
        *,
        host: str = "https://cloud.langfuse.com",
        settings: BatchSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.host = host.rstrip("/")
        token = base64.b64encode(f"{public_key}:{secret_key}".encode()).decode()
        self._authorization = f"Basic {token}"

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> LangfuseExporter:
        """Build from config/env; raises ``ValueError`` without both keys."""
        look = Lookup(settings, env)
        public = look.get_str("public_key", "LANGFUSE_PUBLIC_KEY")
        secret = look.get_str("secret_key", "LANGFUSE_SECRET_KEY")
        if not public or not secret:
            raise ValueError("langfuse: set LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY")
        host = look.get_str("host", "LANGFUSE_HOST", default="https://cloud.langfuse.com")
        return cls(public, secret, host=host or "", settings=BatchSettings.from_settings(settings, env))

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """POST one ingestion batch; retry on per-event 429/5xx, count other per-event errors."""
        content = self.settings.content_logging
        items = [orjson.dumps(env) for e in events for env in generation_events(e, content=content)]
        headers = {"Content-Type": "application/json", "Authorization": self._authorization}
        for array in chunk_json_array(items, MAX_REQUEST_BYTES):  # Langfuse caps a batch at 3.5 MB
            body = b'{"metadata":{"sdk_name":"ledgerlm"},"batch":' + array + b"}"
            _status, payload = await self.post(f"{self.host}/api/public/ingestion", body, headers)
            self._check_errors(payload)

    def _check_errors(self, payload: bytes) -> None:
        try:
            result = orjson.loads(payload) if payload else {}
        except orjson.JSONDecodeError:
            return
        errors = result.get("errors") if isinstance(result, dict) else None
        if not errors:
            return
        statuses = [int(e.get("status") or 500) for e in errors]
        if any(s == 429 or s >= 500 for s in statuses):
            raise RetryableSendError(f"langfuse: {len(errors)} events failed")
        self._count("rejected", len(errors))
        log.warning("exporter langfuse: %d events rejected: %s", len(errors), errors[:3])
