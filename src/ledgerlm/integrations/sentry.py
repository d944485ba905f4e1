"""Sentry exporter (LiteLLM's ``sentry`` callback): failed calls as Sentry error events.

Wire format (Sentry developer docs, "Envelopes" and "Store/Event payloads"): one envelope per event,
``POST {scheme}://{host}/api/{project_id}/envelope/`` with the ``X-Sentry-Auth`` header
(``Sentry sentry_key=<public key>, sentry_version=7, sentry_client=ledgerlm/<version>``). The DSN is
parsed, and the URL, auth header and envelope are built, by ``sentry-sdk`` itself
(``sentry_sdk.utils.Dsn``, ``sentry_sdk.envelope.Envelope``); the transport is ledgerlm's batching base
(bounded queue, retries, disk spool; never on the response path), not sentry-sdk's global hub, so the
exporter neither reads nor changes the process's own Sentry setup.

Each failed call becomes one event: ``event_id`` (a UUID derived from the request id, so a resend is
deduplicated by Sentry), ``level: error``, ``logger: ledgerlm``, ``exception.values[0]`` (error type and
message, scrubbed of secrets), ``tags`` (``model``, ``model_group``, ``provider``, ``key_alias``,
``team``, ``request_id``, ``status_code``, ``call_type``), ``fingerprint`` (model group + error type:
one Sentry issue per failing model and error), ``extra`` (cost, tokens, latency, end user) and
``environment`` / ``release``. Successes are not sent. ``alert(text)`` sends a ``warning`` message
event (the spend alerts' Sentry channel).

Settings (mapping key / env var; LiteLLM's names): ``dsn`` / ``SENTRY_DSN`` (required),
``sample_rate`` / ``SENTRY_API_SAMPLE_RATE`` (0..1 share of failures sent, default 1.0; sampled by
request id, so every instance keeps the same ones), ``environment`` / ``SENTRY_ENVIRONMENT``,
``release`` / ``SENTRY_RELEASE``, plus the common batching settings. ``SENTRY_API_TRACE_RATE`` is
accepted and ignored: no performance transactions are sent.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.events import event_uuid
from ledgerlm.integrations.settings import BatchSettings, Lookup
from ledgerlm.version import __version__

__all__ = ["SentryExporter", "sentry_event"]

_CLIENT = f"ledgerlm/{__version__}"
_TAGS = (
    ("model", "model"),
    ("model_group", "model_group"),
    ("provider", "provider"),
    ("key_alias", "key_alias"),
    ("team", "team_id"),
    ("request_id", "id"),
    ("call_type", "call_type"),
)


def _tag_value(value: Any) -> str:
    """Sentry tag values are at most 200 characters."""
    return str(value)[:200]


def _sampled(record_id: str, rate: float) -> bool:
    """Deterministic sampling by request id (the same answer on every instance and resend)."""
    if rate >= 1.0:
        return True
    digest = hashlib.sha256(record_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < rate


def sentry_event(event: Mapping[str, Any], *, environment: str | None, release: str | None) -> dict[str, Any]:
    """The Sentry event payload of one failed call (CallRecord JSON ``event``)."""
    error = event.get("error") or {}
    tags = {name: _tag_value(event[key]) for name, key in _TAGS if event.get(key) not in (None, "")}
    if error.get("status") is not None:
        tags["status_code"] = str(error["status"])
    usage = event.get("usage") or {}
    cost = (event.get("cost") or {}).get("total")
    payload: dict[str, Any] = {
        "event_id": uuid.UUID(event_uuid(str(event.get("id")), "sentry")).hex,
        "timestamp": float(event.get("end_time") or time.time()),
        "platform": "python",
        "level": "error",
        "logger": "ledgerlm",
        "server_name": None,
        "exception": {
            "values": [
                {
                    "type": str(error.get("type") or "LLMCallError"),
                    "value": str(error.get("message") or "call failed")[:1000],
                    "mechanism": {"type": "ledgerlm", "handled": True},
                }
            ]
        },
        "tags": tags,
        "fingerprint": ["ledgerlm", str(event.get("model_group")), str(error.get("type"))],
        "extra": {
            "response_cost": cost if cost is not None else "unpriced",
            "input_tokens": usage.get("input_tokens"),
            "output_tokens": usage.get("output_tokens"),
            "latency_s": event.get("latency_s"),
            "end_user": event.get("end_user"),
            "request_tags": event.get("request_tags"),
        },
        "environment": environment,
        "release": release,
    }
    return {k: v for k, v in payload.items() if v is not None}


class SentryExporter(BatchingExporter):
    """Failed calls (and ``alert(text)``) as Sentry events (module docstring)."""

    name: ClassVar[str] = "sentry"

    def __init__(
        self,
        dsn: str,
        *,
        sample_rate: float = 1.0,
        environment: str | None = None,
        release: str | None = None,
        settings: BatchSettings | None = None,
    ) -> None:
        from sentry_sdk.utils import Dsn

        super().__init__(settings)
        self._dsn = Dsn(dsn)
        auth = self._dsn.to_auth(_CLIENT)
        self.url = auth.get_api_url()
        self._auth_header = auth.to_header()
        self.sample_rate = min(1.0, max(0.0, sample_rate))
        self.environment, self.release = environment, release

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> SentryExporter:
        """Build from config/env; raises ``ValueError`` without a DSN (or with a malformed one)."""
        look = Lookup(settings, env)
        dsn = look.get_str("dsn", "SENTRY_DSN")
        if not dsn:
            raise ValueError("sentry: set SENTRY_DSN")
        try:
            return cls(
                dsn,
                sample_rate=look.get_float("sample_rate", "SENTRY_API_SAMPLE_RATE", default=1.0),
                environment=look.get_str("environment", "SENTRY_ENVIRONMENT"),
                release=look.get_str("release", "SENTRY_RELEASE"),
                settings=BatchSettings.from_settings(settings, env),
            )
        except Exception as exc:  # sentry_sdk.utils.BadDsn and friends
            raise ValueError(f"sentry: bad SENTRY_DSN: {type(exc).__name__}") from None

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Failures only, sampled by ``SENTRY_API_SAMPLE_RATE``."""
        if event.get("status") != "failure":
            return False
        return _sampled(str(event.get("id")), self.sample_rate)

    def alert(self, text: str, key: str | None = None) -> bool:
        """Queue a ``warning`` message event (spend alerts); ``key`` makes the event id stable."""
        ident = key or uuid.uuid4().hex
        return self.enqueue_event(
            {
                "id": f"alert-{ident}",
                "sentry_event": {
                    "event_id": uuid.UUID(event_uuid(ident, "sentry-alert")).hex,
                    "timestamp": time.time(),
                    "platform": "python",
                    "level": "warning",
                    "logger": "ledgerlm.alerts",
                    "message": {"formatted": text[:8000]},
                    "tags": {"alert": "spend"},
                    **({"environment": self.environment} if self.environment else {}),
                },
            }
        )

    def _envelope(self, payload: dict[str, Any]) -> bytes:
        from sentry_sdk.envelope import Envelope

        sent_at = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        envelope = Envelope(
            headers={"event_id": payload["event_id"], "sent_at": sent_at, "dsn": str(self._dsn)}
        )
        envelope.add_event(payload)  # type: ignore[arg-type]  # sentry's Event is a TypedDict
        return envelope.serialize()

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """POST one envelope per event (Sentry takes one event item per envelope)."""
        headers = {"Content-Type": "application/x-sentry-envelope", "X-Sentry-Auth": self._auth_header}
        for event in events:
            payload = event.get("sentry_event") or sentry_event(
                event, environment=self.environment, release=self.release
            )
            await self.post(self.url, self._envelope(payload), headers)
