"""Incremental decoder of an OpenAI-format chat stream (SSE of ``chat.completion.chunk`` objects).

Wire format (OpenAI API reference, "The chat completion chunk object" and ``stream_options``):
``data: {chunk}`` events, a last chunk with ``choices: []`` and ``usage`` when
``stream_options.include_usage`` is set, then ``data: [DONE]``. Also handled: comment lines, multi-line
``data:``, ``event: error`` or a ``{"error": ...}`` payload inside a 200 stream (raised as the mapped
``APIError``), Groq's usage in ``x_groq.usage``, usage sent beside choices in the last content chunk
(Mistral), Azure's filter-only chunks (``choices: []`` with ``prompt_filter_results``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from ledgerlm.errors import APIResponseValidationError
from ledgerlm.providers.http_errors import error_from_stream_event
from ledgerlm.providers.openai.responses import RESPONSES_FLAG, ResponsesStreamDecoder
from ledgerlm.providers.stream import StreamDecoder
from ledgerlm.sse import SSEDecoder, SSEEvent
from ledgerlm.usage import usage_from_openai

if TYPE_CHECKING:
    from ledgerlm.providers.base import Deployment

__all__ = ["OpenAIStreamDecoder"]


class OpenAIStreamDecoder(StreamDecoder):
    """Feed raw bytes, get ``chat.completion.chunk`` dicts (see ``StreamDecoder``).

    ``done``: ``[DONE]`` seen (chunk and delta counts: the base's ``decode``).
    """

    def __init__(self, provider: str, model: str | None, *, caller_wants_usage: bool) -> None:
        self.provider = provider
        self.model = model
        self.caller_wants_usage = caller_wants_usage
        self.finish_reasons: list[str] = []
        self.usage = None
        self.response_id: str | None = None
        self.response_model: str | None = None
        self.done = False
        self._sse = SSEDecoder()

    @classmethod
    def open(cls, provider: str, deployment: Deployment, *, caller_wants_usage: bool) -> StreamDecoder:
        """The decoder of one stream of ``deployment``: this one (chat-completion chunks), or a
        ``ResponsesStreamDecoder`` (Responses-API events) with ``extra[RESPONSES_FLAG]``."""
        if deployment.extra.get(RESPONSES_FLAG):
            return ResponsesStreamDecoder(provider, deployment.model)
        return cls(provider, deployment.model, caller_wants_usage=caller_wants_usage)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Chunks completed by ``data`` (bytes split anywhere); raises on an in-stream error."""
        return self._chunks(self._sse.feed(data))

    def close(self) -> list[dict[str, Any]]:
        """Flush at end of body (a last event without its blank line)."""
        return self._chunks(self._sse.close())

    def _chunks(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in events:
            chunk = self._event(event)
            if chunk is not None:
                out.append(chunk)
        return out

    def _event(self, event: SSEEvent) -> dict[str, Any] | None:
        data = event.data
        if data == "[DONE]":
            self.done = True
            return None
        if not data.strip():
            return None
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise self._invalid(f"a stream event that is not JSON: {data[:200]!r}") from None
        if event.event == "error" or (isinstance(obj, dict) and "error" in obj and "choices" not in obj):
            raise error_from_stream_event(self.provider, self.model, obj)
        if not isinstance(obj, dict):
            raise self._invalid(f"a stream event that is not a JSON object: {data[:200]!r}")
        return self._chunk(obj)

    def _chunk(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        if not self.response_id and obj.get("id"):  # Azure's filter-only first chunk has id ""
            self.response_id = obj.get("id")
            self.response_model = obj.get("model") or None
        usage = obj.get("usage")
        if usage is None:
            groq = obj.get("x_groq")
            usage = groq.get("usage") if isinstance(groq, dict) else None
        if usage:
            tier = obj.get("service_tier")
            self.usage = usage_from_openai(usage, provider=self.provider, service_tier=tier or None)
        choices = obj.get("choices")
        if not choices:
            if usage is not None and not self.caller_wants_usage:
                return None
            return obj
        for choice in choices:
            reason = choice.get("finish_reason")
            if reason:
                self.finish_reasons.append(reason)
        if usage is not None and not self.caller_wants_usage and "usage" in obj:
            obj = {k: v for k, v in obj.items() if k != "usage"}
        return obj

    def _invalid(self, what: str) -> APIResponseValidationError:
        return APIResponseValidationError(
            f"{self.provider} sent {what}", provider=self.provider, model=self.model
        )
