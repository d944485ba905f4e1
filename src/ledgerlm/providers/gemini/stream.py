"""The Gemini stream: ``streamGenerateContent?alt=sse`` decoded by ``GeminiSSEDecoder``.

Each SSE ``data:`` is a ``GenerateContentResponse`` chunk (Gemini API reference, "Generating content",
streaming): candidates with content parts, ``usageMetadata`` (the running totals) and, on the last one,
``finishReason`` (the end: ``done``). An ``{"error": {"code", "status", "message"}}`` chunk raises the
mapped ``APIError`` (status from ``code``, else from ``status`` by ``STATUS_BY_NAME``). Translation into
OpenAI chunks: ``GeminiChunkTranslator`` (``response``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ledgerlm.errors import APIError
from ledgerlm.providers.gemini.provider import gemini_error
from ledgerlm.providers.gemini.response import GeminiChunkTranslator
from ledgerlm.providers.stream import StreamDecoder
from ledgerlm.sse import SSEDecoder, SSEEvent

if TYPE_CHECKING:
    from ledgerlm.providers.base import Deployment

__all__ = ["STATUS_BY_NAME", "GeminiSSEDecoder"]

STATUS_BY_NAME: dict[str, int] = {
    "INVALID_ARGUMENT": 400,
    "FAILED_PRECONDITION": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "NOT_FOUND": 404,
    "RESOURCE_EXHAUSTED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}
"""Google RPC status name -> HTTP status (for an error chunk without a numeric ``code``)."""


class GeminiSSEDecoder(StreamDecoder):
    """Decodes a ``streamGenerateContent?alt=sse`` body (bytes, any split) into OpenAI chunks."""

    def __init__(self, translator: GeminiChunkTranslator) -> None:
        self._sse = SSEDecoder()
        self._translator = translator
        self.finish_reasons = translator.finish_reasons

    @classmethod
    def open(cls, provider: str, deployment: Deployment, *, caller_wants_usage: bool) -> StreamDecoder:
        """The decoder of one stream of ``deployment`` (AI Studio or Vertex: ``provider``)."""

        def on_error(chunk: Mapping[str, Any]) -> APIError:
            error = chunk.get("error") or {}
            status = error.get("code") if isinstance(error.get("code"), int) else None
            status = status or STATUS_BY_NAME.get(str(error.get("status")), 500)
            return gemini_error(status, chunk, provider=provider, model=deployment.model)

        translator = GeminiChunkTranslator(
            model=deployment.model,
            caller_wants_usage=caller_wants_usage,
            on_error=on_error,
            provider=provider,
        )
        return cls(translator)

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        return self._events(self._sse.feed(data))

    def close(self) -> list[dict[str, Any]]:
        return self._events(self._sse.close()) + self._translator.finish()

    def _events(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = []
        try:
            for event in events:
                if event.data.strip():
                    chunks.extend(self._translator.translate(orjson.loads(event.data)))
        finally:
            self._refresh()
        return chunks

    def _refresh(self) -> None:
        self.usage = self._translator.usage
        self.response_id = self._translator.response_id
        self.response_model = self._translator.response_model
        self.done = bool(self.finish_reasons)
