"""The OpenAI Responses API wire format (``POST {base}/responses``), passed through unchanged.

Shapes are OpenAI's API reference ("Responses", "Streaming events"):

* a ``response`` object: ``id``, ``status``, ``output`` (items: ``message``, ``reasoning``,
  ``function_call``, ``web_search_call``, ``file_search_call`` ...) and ``usage`` (``input_tokens``
  INCLUDING ``input_tokens_details.cached_tokens``; ``output_tokens`` INCLUDING
  ``output_tokens_details.reasoning_tokens``);
* a stream of SSE events ``event: <type>`` / ``data: {"type": <type>, "sequence_number": n, ...}``:
  ``response.created``, ``response.output_text.delta`` ..., and one terminal event
  ``response.completed`` / ``response.incomplete`` / ``response.failed`` carrying the whole
  ``response`` with its ``usage``; an ``error`` event is raised as the mapped ``APIError``.

Built-in tool calls are billed per call and are NOT in ``usage``: each ``web_search_call`` output item
counts one search (``Usage.web_search_requests``); every tool call item's count is kept in
``Usage.raw[TOOL_CALLS_KEY]`` (``{"web_search_call": n, "file_search_call": m}``) for
``ledgerlm.pricing.tool_fees`` (the mapping: ``ledgerlm.usage.openai.responses_usage``, re-exported
here).

A deployment is called in this format when ``deployment.extra[RESPONSES_FLAG]`` is true (set by the
proxy's ``/v1/responses`` for OpenAI and Azure deployments). Azure's URL is the v1 API's
``{endpoint}/openai/v1/responses`` (Azure OpenAI "Responses API" reference).
"""

from __future__ import annotations

from typing import Any

import orjson

from ledgerlm.errors import APIResponseValidationError
from ledgerlm.providers.http_errors import error_from_stream_event
from ledgerlm.providers.stream import StreamDecoder
from ledgerlm.sse import SSEDecoder, SSEEvent
from ledgerlm.usage.openai import BILLED_TOOL_ITEMS, TOOL_CALLS_KEY, responses_usage, tool_call_counts

__all__ = [
    "BILLED_TOOL_ITEMS",
    "RESPONSES_FLAG",
    "TERMINAL_EVENTS",
    "TOOL_CALLS_KEY",
    "ResponsesStreamDecoder",
    "responses_usage",
    "tool_call_counts",
]

RESPONSES_FLAG = "openai_responses_api"
"""``deployment.extra[RESPONSES_FLAG] = True``: the call body is a Responses-API body, sent as is."""

TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesStreamDecoder(StreamDecoder):
    """Feed raw SSE bytes, get Responses-API event dicts (each ``{"type": ..., ...}`` unchanged).

    ``done`` is set by the terminal event, whose ``response`` gives ``usage``; ``finish_reasons``
    holds its ``status`` (chunk and delta counts: the base's ``decode``).
    """

    def __init__(self, provider: str, model: str | None) -> None:
        self.provider = provider
        self.model = model
        self.finish_reasons: list[str] = []
        self.usage = None
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.done = False
        self._sse = SSEDecoder()

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Events completed by ``data`` (split anywhere); raises the mapped error on an error event."""
        return self._events(self._sse.feed(data))

    def close(self) -> list[dict[str, Any]]:
        """Flush at end of body."""
        return self._events(self._sse.close())

    def _events(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        return [e for e in (self._event(event) for event in events) if e is not None]

    def _event(self, event: SSEEvent) -> dict[str, Any] | None:
        data = event.data
        if not data.strip() or data == "[DONE]":
            return None
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise self._invalid(f"a stream event that is not JSON: {data[:200]!r}") from None
        if not isinstance(obj, dict):
            raise self._invalid(f"a stream event that is not a JSON object: {data[:200]!r}")
        kind = obj.get("type") or event.event
        if kind == "error" or event.event == "error":
            raise error_from_stream_event(self.provider, self.model, obj)
        self._track(str(kind), obj)
        return obj

    def _track(self, kind: str, obj: dict[str, Any]) -> None:
        response = obj.get("response")
        if isinstance(response, dict):
            self.response_id = self.response_id or response.get("id")
            self.response_model = self.response_model or response.get("model")
        if kind in TERMINAL_EVENTS and isinstance(response, dict):
            self.usage = responses_usage(response, provider=self.provider)
            self.finish_reasons.append(str(response.get("status") or kind.rsplit(".", 1)[-1]))
            self.done = True

    def _invalid(self, what: str) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"{self.provider} sent {what}", provider=self.provider, model=self.model
        )
