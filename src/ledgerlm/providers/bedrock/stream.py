"""The Bedrock binary event stream (``application/vnd.amazon.eventstream``): ``BedrockEventStreamDecoder``.

Frames are decoded with botocore's ``EventStreamBuffer`` (prelude + headers + payload, CRC32-checked);
headers ``:message-type`` (``event`` / ``exception`` / ``error``), ``:event-type``, ``:exception-type``.
ConverseStream ends with ``messageStop`` then ``metadata`` (usage: the end, ``done``);
InvokeModelWithResponseStream sends ``chunk`` events holding the model's own events (Anthropic events
for Claude, ending with ``message_stop`` and ``amazon-bedrock-invocationMetrics``). Translation into
OpenAI chunks: ``ConverseEventTranslator`` (``response``) and ``AnthropicEventTranslator``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage

from ledgerlm.errors import APIError
from ledgerlm.providers.anthropic.provider import NATIVE_FLAG
from ledgerlm.providers.anthropic.response import AnthropicEventTranslator
from ledgerlm.providers.bedrock.provider import bedrock_error, split_route
from ledgerlm.providers.bedrock.response import ConverseEventTranslator
from ledgerlm.providers.stream import StreamDecoder
from ledgerlm.usage.bedrock import BedrockStreamUsage

if TYPE_CHECKING:
    from ledgerlm.providers.base import Deployment

__all__ = ["BedrockEventStreamDecoder", "StreamErrorFactory"]

StreamErrorFactory = Callable[[str, Mapping[str, Any]], APIError]
"""Builds the mapped error from an exception frame: (exception type, parsed payload)."""

_END_KEYS = ("metadata", "amazon-bedrock-invocationMetrics")
"""A Converse event type or invoke-stream chunk key that only the last event carries."""


class BedrockEventStreamDecoder(StreamDecoder):
    """Decodes a Bedrock binary event stream (ConverseStream or InvokeModelWithResponseStream).

    ``anthropic``: the translator for Claude InvokeModel streams (``chunk`` events with Anthropic
    events); Converse events and Nova chunks go to the Converse translator. Exception frames raise
    what ``on_error`` builds. Frames are CRC-checked by botocore (a corrupt frame raises its
    ``ParserError``).
    """

    def __init__(
        self,
        converse: ConverseEventTranslator,
        *,
        on_error: StreamErrorFactory,
        anthropic: AnthropicEventTranslator | None = None,
    ) -> None:
        self._buffer = EventStreamBuffer()
        self._converse = converse
        self._anthropic = anthropic
        self._on_error = on_error
        self._bedrock_usage = BedrockStreamUsage()
        self.finish_reasons: list[str] = []
        self.response_model = converse.model
        self.native = False
        """True: return the Anthropic events of an invoke stream as they are (the proxy's native mode)."""

    @classmethod
    def open(cls, provider: str, deployment: Deployment, *, caller_wants_usage: bool) -> StreamDecoder:
        """The decoder of one ConverseStream (or ``invoke/`` InvokeModelWithResponseStream) of
        ``deployment``; native (the Anthropic events themselves) for ``invoke/`` with ``NATIVE_FLAG``."""
        route, model_id = split_route(deployment.model)
        converse = ConverseEventTranslator(model=model_id, caller_wants_usage=caller_wants_usage)
        anthropic = None
        if route == "invoke":
            anthropic = AnthropicEventTranslator(
                caller_wants_usage=caller_wants_usage,
                on_error=lambda event: bedrock_error(500, event.get("error") or {}, model=model_id),
                provider=provider,
            )
        decoder = cls(
            converse,
            anthropic=anthropic,
            on_error=lambda kind, payload: bedrock_error(500, payload, model=model_id, exception_type=kind),
        )
        decoder.native = route == "invoke" and bool(deployment.extra.get(NATIVE_FLAG))
        return decoder

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer.add_data(data)
        chunks: list[dict[str, Any]] = []
        try:
            for message in self._buffer:
                chunks.extend(self._message(message))
        finally:
            self._refresh()
        return chunks

    def close(self) -> list[dict[str, Any]]:
        self._refresh()
        return []

    def _refresh(self) -> None:
        usage = self._converse.usage
        self.response_id = self._converse.response_id
        self.finish_reasons = list(self._converse.finish_reasons)
        if self._anthropic is not None:
            usage = self._anthropic.usage or usage
            self.response_id = self._anthropic.response_id or self.response_id
            self.finish_reasons += self._anthropic.finish_reasons
        self.usage = usage or self._bedrock_usage.usage()

    def _message(self, message: EventStreamMessage) -> list[dict[str, Any]]:
        headers = message.headers
        payload = orjson.loads(message.payload) if message.payload else {}
        message_type = headers.get(":message-type")
        if message_type in ("exception", "error"):
            kind = str(headers.get(":exception-type") or headers.get(":error-code") or "error")
            if message_type == "error" and "message" not in payload:
                payload = {"message": headers.get(":error-message", "")}
            raise self._on_error(kind, payload)
        kind = str(headers.get(":event-type", ""))
        if kind != "chunk":
            self.done = self.done or kind in _END_KEYS
            return self._converse.translate(kind, payload)
        inner = json.loads(base64.b64decode(payload.get("bytes", "")))
        self._bedrock_usage.feed(inner)
        self.done = self.done or inner.get("type") == "message_stop" or any(k in inner for k in _END_KEYS)
        if "type" in inner and self._anthropic is not None:
            translated = self._anthropic.translate(inner)
            return [inner] if self.native else translated
        out: list[dict[str, Any]] = []
        for name, value in inner.items():
            if isinstance(value, Mapping):
                out.extend(self._converse.translate(name, value))
        return out
