"""The Anthropic Messages stream (SSE): ``AnthropicSSEDecoder``.

Events (Anthropic "Streaming Messages"): ``message_start`` (usage: input and the first output tokens),
``content_block_start`` / ``content_block_delta`` / ``content_block_stop``, ``message_delta``
(``stop_reason``, cumulative usage), ``message_stop`` (the end: ``done``), ``ping``, and ``error``
(``{"type": "error", "error": {"type", "message"}}``, raised as the mapped ``APIError``, status by
``error.type``). Translation into OpenAI chunks: ``AnthropicEventTranslator`` (``response``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ledgerlm.errors import APIError
from ledgerlm.providers.anthropic.provider import NATIVE_FLAG, anthropic_error
from ledgerlm.providers.anthropic.response import AnthropicEventTranslator
from ledgerlm.providers.stream import StreamDecoder
from ledgerlm.sse import SSEDecoder, SSEEvent

if TYPE_CHECKING:
    from ledgerlm.providers.base import Deployment

__all__ = ["ERROR_STATUS", "AnthropicSSEDecoder"]

ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "overloaded_error": 529,
}
"""Anthropic ``error.type`` -> HTTP status (for errors that arrive inside a 200 stream)."""


class AnthropicSSEDecoder(StreamDecoder):
    """Decodes an Anthropic SSE stream (bytes, any split) into OpenAI chunks, or into the Anthropic
    events themselves when ``native`` (the proxy's ``/v1/messages``)."""

    native = False
    """True: return the Anthropic events themselves instead of the OpenAI chunks (native mode)."""

    def __init__(self, translator: AnthropicEventTranslator) -> None:
        self._sse = SSEDecoder()
        self._translator = translator
        self.finish_reasons = translator.finish_reasons

    @classmethod
    def open(cls, provider: str, deployment: Deployment, *, caller_wants_usage: bool) -> StreamDecoder:
        """The decoder of one Messages stream of ``deployment`` (native when ``extra[NATIVE_FLAG]``)."""

        def on_error(event: Mapping[str, Any]) -> APIError:
            kind = str((event.get("error") or {}).get("type") or "api_error")
            return anthropic_error(
                ERROR_STATUS.get(kind, 500), event, provider=provider, model=deployment.model
            )

        translator = AnthropicEventTranslator(
            caller_wants_usage=caller_wants_usage, on_error=on_error, provider=provider
        )
        decoder = cls(translator)
        decoder.native = bool(deployment.extra.get(NATIVE_FLAG))
        return decoder

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return self._events(self._sse.feed(data))

    def close(self) -> list[dict[str, Any]]:
        return self._events(self._sse.close())

    def _events(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = []
        try:
            for event in events:
                if not event.data.strip():
                    continue
                parsed = orjson.loads(event.data)
                translated = self._translator.translate(parsed)
                if self.native:
                    chunks.append(parsed)
                else:
                    chunks.extend(translated)
                if parsed.get("type") == "message_stop":
                    self.done = True
        finally:
            self._refresh()
        return chunks

    def _refresh(self) -> None:
        self.usage = self._translator.usage
        self.response_id = self._translator.response_id
        self.response_model = self._translator.response_model
