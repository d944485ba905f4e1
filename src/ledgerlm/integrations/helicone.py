"""Helicone exporter (LiteLLM's ``helicone`` callback): each call through Helicone's async logging API.

Request (Helicone docs, "Manual Logger - cURL"): ``POST {HELICONE_API_BASE}/custom/v1/log`` with
``Authorization: Bearer {HELICONE_API_KEY}`` and one log per request::

    {"providerRequest":  {"url": "custom-model-nopath", "json": {...}, "meta": {...}},
     "providerResponse": {"headers": {...}, "status": 200, "json": {...}},
     "timing": {"startTime": {"seconds", "milliseconds"}, "endTime": {...}, "timeToFirstToken": ms}}

``providerRequest.json``: ``model`` and the request parameters, ``messages`` only with content logging
on. ``providerRequest.meta``: Helicone's custom properties as headers would carry them
(``Helicone-Property-*``: request id, model group, provider, team, key alias, cost) plus
``Helicone-User-Id`` (end user, else user id) and any ``Helicone-*`` keys the caller put in the call's
metadata (LiteLLM passes those through the same way). ``providerResponse.json``: an OpenAI-shaped body
with ``model``, ``usage`` (``prompt_tokens``, ``completion_tokens``, ``total_tokens``) and, with content
logging, ``choices``; a failure has the upstream status (or 500) and ``error``.

Settings (mapping key / env var): ``api_key`` / ``HELICONE_API_KEY`` (required), ``api_base`` /
``HELICONE_API_BASE`` (default ``https://api.worker.helicone.ai``), plus the common batching settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["HeliconeExporter", "helicone_log"]

DEFAULT_API_BASE = "https://api.worker.helicone.ai"


def _time(epoch_s: Any) -> dict[str, int]:
    millis = round(float(epoch_s or 0) * 1000)
    return {"seconds": millis // 1000, "milliseconds": millis % 1000}


def _meta(event: Mapping[str, Any]) -> dict[str, str]:
    cost = (event.get("cost") or {}).get("total")
    props = {
        "Request-Id": event.get("id"),
        "Model-Group": event.get("model_group"),
        "Provider": event.get("provider"),
        "Team": event.get("team_id"),
        "Key-Alias": event.get("key_alias"),
        "Cost": cost if cost is not None else "unpriced",
    }
    meta = {f"Helicone-Property-{k}": str(v) for k, v in props.items() if v is not None}
    user = event.get("end_user") or event.get("user_id")
    if user:
        meta["Helicone-User-Id"] = str(user)
    for key, value in (event.get("metadata") or {}).items():
        if str(key).lower().startswith("helicone-") and isinstance(value, str | int | float):
            meta[str(key)] = str(value)
    return meta


def helicone_log(event: Mapping[str, Any], *, content: bool) -> dict[str, Any]:
    """The Helicone async log of one call (CallRecord JSON ``event``)."""
    usage = event.get("usage") or {}
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    request = {
        "model": event.get("requested_model") or event.get("model"),
        **(event.get("request_params") or {}),
    }
    if content and event.get("messages") is not None:
        request["messages"] = event.get("messages")
    body: dict[str, Any] = {
        "id": event.get("response_id") or event.get("id"),
        "model": event.get("response_model") or event.get("model"),
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    status = 200
    if event.get("status") == "failure":
        error = event.get("error") or {}
        status = int(error.get("status") or 500)
        body["error"] = {"type": error.get("type"), "message": error.get("message")}
    elif content and isinstance(event.get("response"), Mapping):
        body["choices"] = event["response"].get("choices")
    timing: dict[str, Any] = {
        "startTime": _time(event.get("start_time")),
        "endTime": _time(event.get("end_time")),
    }
    if event.get("time_to_first_token_s") is not None:
        timing["timeToFirstToken"] = round(float(event["time_to_first_token_s"]) * 1000)
    return {
        "providerRequest": {"url": "custom-model-nopath", "json": request, "meta": _meta(event)},
        "providerResponse": {"headers": {"content-type": "application/json"}, "status": status, "json": body},
        "timing": timing,
    }


class HeliconeExporter(BatchingExporter):
    """Sends each call to Helicone's ``/custom/v1/log`` (module docstring)."""

    name: ClassVar[str] = "helicone"

    def __init__(
        self, api_key: str, *, api_base: str = DEFAULT_API_BASE, settings: BatchSettings | None = None
    ) -> None:
        super().__init__(settings)
        self.url = api_base.rstrip("/") + "/custom/v1/log"
        self._authorization = f"Bearer {api_key}"

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> HeliconeExporter:
        """Build from config/env; raises ``ValueError`` without ``HELICONE_API_KEY``."""
        look = Lookup(settings, env)
        key = look.get_str("api_key", "HELICONE_API_KEY")
        if not key:
            raise ValueError("helicone: set HELICONE_API_KEY")
        base = look.get_str("api_base", "HELICONE_API_BASE", default=DEFAULT_API_BASE) or DEFAULT_API_BASE
        return cls(key, api_base=base, settings=BatchSettings.from_settings(settings, env))

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """One POST per call (the API takes one log per request)."""
        headers = {"Content-Type": "application/json", "Authorization": self._authorization}
        content = self.settings.content_logging
        for event in events:
            await self.post(self.url, orjson.dumps(helicone_log(event, content=content)), headers)
