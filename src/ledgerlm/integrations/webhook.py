"""Generic webhook (LiteLLM's ``generic_api``): POST batches of ``CallRecord`` JSON to any endpoint.

Request: ``POST {endpoint}`` with ``Content-Type: application/json`` and a body that is a JSON array of
CallRecord dicts (``log_format: json_array``, the default, as LiteLLM's Generic API logger sends) or one
JSON object per line (``log_format: ndjson``, ``Content-Type: application/x-ndjson``).

Headers: the configured ``headers``, plus

* ``Idempotency-Key``: SHA-256 hex of the batch's record ids (the same on every resend);
* with a signing secret: ``X-Ledgerlm-Timestamp`` (UNIX seconds) and
  ``X-Ledgerlm-Signature: sha256=<hex HMAC-SHA256(secret, "{timestamp}." + body)>``. A receiver
  recomputes it over the raw body and rejects stale timestamps (replay protection).

Settings (mapping key / env var): ``endpoint`` / ``GENERIC_LOGGER_ENDPOINT`` (required), ``headers``
(mapping) / ``GENERIC_LOGGER_HEADERS`` (``"Name=value,Other=value"``), ``signing_secret`` /
``LEDGERLM_WEBHOOK_SECRET``, ``event_types`` (``llm_api_success`` / ``llm_api_failure``; default both),
``log_format``, plus the common batching settings.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.events import batch_key
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["WebhookExporter", "parse_header_list", "sign"]

_EVENT_STATUS = {"llm_api_success": "success", "llm_api_failure": "failure"}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``"{timestamp}." + body`` with ``secret``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def parse_header_list(value: str | Mapping[str, Any] | None) -> dict[str, str]:
    """Headers from a mapping or from ``"Name=value,Other=value"`` (LiteLLM's env format)."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    for part in value.split(","):
        name, sep, val = part.partition("=")
        if sep and name.strip():
            out[name.strip()] = val.strip()
    return out


class WebhookExporter(BatchingExporter):
    """JSON batch POST with an idempotency key and an optional HMAC signature (module docstring)."""

    name: ClassVar[str] = "generic_api"

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        signing_secret: str | None = None,
        event_types: Sequence[str] | None = None,
        log_format: str = "json_array",
        settings: BatchSettings | None = None,
    ) -> None:
        super().__init__(settings)
        if log_format not in ("json_array", "ndjson"):
            raise ValueError(f"webhook: unknown log_format {log_format!r}")
        self.endpoint = endpoint
        self.headers = dict(headers or {})
        self._secret = signing_secret
        self.log_format = log_format
        kinds = event_types or list(_EVENT_STATUS)
        unknown = [k for k in kinds if k not in _EVENT_STATUS]
        if unknown:
            raise ValueError(f"webhook: unknown event_types {unknown}")
        self._statuses = {_EVENT_STATUS[k] for k in kinds}

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> WebhookExporter:
        """Build from config/env; raises ``ValueError`` without an endpoint."""
        look = Lookup(settings, env)
        endpoint = look.get_str("endpoint", "GENERIC_LOGGER_ENDPOINT")
        if not endpoint:
            raise ValueError("generic_api: set `endpoint` or GENERIC_LOGGER_ENDPOINT")
        return cls(
            endpoint,
            headers=parse_header_list(look.get("headers", "GENERIC_LOGGER_HEADERS")),
            signing_secret=look.get_str("signing_secret", "LEDGERLM_WEBHOOK_SECRET"),
            event_types=settings.get("event_types"),
            log_format=look.get_str("log_format", default="json_array") or "json_array",
            settings=BatchSettings.from_settings(settings, env),
        )

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Only the configured ``event_types``."""
        return event.get("status") in self._statuses

    def encode(self, events: list[dict[str, Any]]) -> tuple[bytes, str]:
        """The request body and its content type."""
        if self.log_format == "ndjson":
            return b"".join(orjson.dumps(e) + b"\n" for e in events), "application/x-ndjson"
        return orjson.dumps(events), "application/json"

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """POST the batch (see the module docstring for headers)."""
        body, content_type = self.encode(events)
        headers = {**self.headers, "Content-Type": content_type, "Idempotency-Key": batch_key(events)}
        if self._secret:
            now = int(time.time())
            headers["X-Ledgerlm-Timestamp"] = str(now)
            headers["X-Ledgerlm-Signature"] = sign(self._secret, now, body)
        await self.post(self.endpoint, body, headers)
