"""Lunary exporter (LiteLLM's ``lunary`` callback): each call as an ``llm`` run through Lunary's ingest API.

Request (what Lunary's SDKs send; the backend's route is ``POST /v1/runs/ingest``):
``POST {LUNARY_API_URL}/v1/runs/ingest`` with ``Authorization: Bearer {LUNARY_PUBLIC_KEY}`` and
``{"events": [...]}``. Per call two events of ``type: "llm"`` sharing ``runId`` (a UUID derived from
the request id, so a resend updates the same run):

* ``event: "start"``: ``runId``, ``timestamp`` (ISO 8601, call start), ``name`` (the model),
  ``userId`` (end user, else user id), ``tags`` (request tags), ``params`` (temperature, max_tokens...),
  ``metadata`` (request id, model group, provider, team, key alias, cost), ``input`` (messages, only with
  content logging on);
* ``event: "end"`` (success): ``timestamp`` (call end), ``output`` (only with content logging),
  ``tokensUsage: {"prompt": input tokens, "completion": output tokens}``; or ``event: "error"``
  (failure) with ``error: {"message", "stack"}`` (type and message, scrubbed).

Settings (mapping key / env var; LiteLLM's names): ``public_key`` / ``LUNARY_PUBLIC_KEY`` (required),
``api_url`` / ``LUNARY_API_URL`` (default ``https://api.lunary.ai``), plus the common batching settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.events import event_uuid
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["LunaryExporter", "lunary_events"]

DEFAULT_API_URL = "https://api.lunary.ai"


def _iso(epoch_s: Any) -> str:
    stamp = datetime.fromtimestamp(float(epoch_s or 0), UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _metadata(event: Mapping[str, Any]) -> dict[str, Any]:
    cost = (event.get("cost") or {}).get("total")
    meta = {
        "request_id": event.get("id"),
        "model_group": event.get("model_group"),
        "provider": event.get("provider"),
        "team_id": event.get("team_id"),
        "key_alias": event.get("key_alias"),
        "response_cost": cost if cost is not None else "unpriced",
    }
    return {k: v for k, v in meta.items() if v is not None}


def lunary_events(event: Mapping[str, Any], *, content: bool) -> list[dict[str, Any]]:
    """The ``start`` and ``end``/``error`` events of one call (CallRecord JSON ``event``)."""
    run_id = event_uuid(str(event.get("id")), "lunary-run")
    params = {
        k: v for k, v in (event.get("request_params") or {}).items() if isinstance(v, str | int | float)
    }
    start: dict[str, Any] = {
        "type": "llm",
        "event": "start",
        "runId": run_id,
        "timestamp": _iso(event.get("start_time")),
        "name": event.get("model") or event.get("requested_model"),
        "userId": event.get("end_user") or event.get("user_id"),
        "tags": list(event.get("request_tags") or []),
        "params": params,
        "metadata": _metadata(event),
        "input": event.get("messages") if content else None,
    }
    end: dict[str, Any] = {"type": "llm", "runId": run_id, "timestamp": _iso(event.get("end_time"))}
    if event.get("status") == "failure":
        error = event.get("error") or {}
        end |= {
            "event": "error",
            "error": {"message": str(error.get("message")), "stack": str(error.get("type"))},
        }
    else:
        usage = event.get("usage") or {}
        end |= {
            "event": "end",
            "output": event.get("response") if content else None,
            "tokensUsage": {
                "prompt": int(usage.get("input_tokens") or 0),
                "completion": int(usage.get("output_tokens") or 0),
            },
        }
    return [{k: v for k, v in e.items() if v is not None} for e in (start, end)]


class LunaryExporter(BatchingExporter):
    """Batches calls into Lunary ingest requests (module docstring)."""

    name: ClassVar[str] = "lunary"

    def __init__(
        self, public_key: str, *, api_url: str = DEFAULT_API_URL, settings: BatchSettings | None = None
    ) -> None:
        super().__init__(settings)
        self.url = api_url.rstrip("/") + "/v1/runs/ingest"
        self._authorization = f"Bearer {public_key}"

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> LunaryExporter:
        """Build from config/env; raises ``ValueError`` without ``LUNARY_PUBLIC_KEY``."""
        look = Lookup(settings, env)
        key = look.get_str("public_key", "LUNARY_PUBLIC_KEY")
        if not key:
            raise ValueError("lunary: set LUNARY_PUBLIC_KEY")
        api_url = look.get_str("api_url", "LUNARY_API_URL", default=DEFAULT_API_URL) or DEFAULT_API_URL
        return cls(key, api_url=api_url, settings=BatchSettings.from_settings(settings, env))

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """POST ``{"events": [...]}`` (two events per call)."""
        content = self.settings.content_logging
        items = [item for e in events for item in lunary_events(e, content=content)]
        headers = {"Content-Type": "application/json", "Authorization": self._authorization}
        await self.post(self.url, orjson.dumps({"events": items}), headers)
