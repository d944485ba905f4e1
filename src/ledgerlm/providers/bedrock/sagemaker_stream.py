"""SageMaker ``InvokeEndpointWithResponseStream`` decoding: the AWS binary event stream (the framing
Bedrock uses, decoded by botocore's ``EventStreamBuffer``) of ``PayloadPart`` events, whose bytes are
pieces of the model server's own SSE stream, split anywhere (AWS API reference "PayloadPart": "a chunk
of the model server's server-sent event (SSE) stream").

The Hugging Face TGI container (LiteLLM's ``sagemaker/`` format) sends ``data:{"token": {"text",
"special"}, "generated_text": null | str, "details": null | {"finish_reason", "generated_tokens"}}``
per token; the last event carries ``details``. Each non-special token becomes an OpenAI
``chat.completion.chunk``; the end adds a chunk with the finish reason (``eos_token`` /
``stop_sequence`` -> ``stop``, ``length`` -> ``length``).

Usage: TGI does not report prompt tokens on a stream, so ``usage`` stays ``None`` and the engine
estimates the input from the request (marked ``ledgerlm_estimated``); ``output_estimate()`` is the output
token count (``details.generated_tokens`` when sent, else the tokens seen). Exception frames
(``ModelStreamError``, ``InternalStreamFailure``) raise what ``on_error(kind, payload)`` builds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from botocore.eventstream import EventStreamBuffer

from ledgerlm.errors import APIError
from ledgerlm.providers.base import StreamDecoder
from ledgerlm.sse import SSEDecoder, SSEEvent

__all__ = ["SageMakerStreamDecoder"]

_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length"}


class SageMakerStreamDecoder(StreamDecoder):
    """Event stream of ``PayloadPart`` frames -> OpenAI chunks (see the module docstring)."""

    def __init__(self, model: str, on_error: Callable[[str, Any], APIError]) -> None:
        self._buffer = EventStreamBuffer()
        self._sse = SSEDecoder()
        self._on_error = on_error
        self._created = int(time.time())
        self.model = model
        self.usage = None
        self.finish_reasons: list[str] = []
        self.response_id = f"sagemaker-{model}-{self._created}"
        self.response_model = model
        self._tokens = 0  # TGI token events seen (one token each)
        self._generated: int | None = None  # details.generated_tokens, when the stream finished

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buffer.add_data(data)
        chunks: list[dict[str, Any]] = []
        for message in self._buffer:
            headers = message.headers
            if headers.get(":message-type") in ("exception", "error"):
                kind = str(headers.get(":exception-type") or headers.get(":error-code") or "error")
                try:
                    payload: Any = orjson.loads(message.payload)
                except orjson.JSONDecodeError:
                    payload = {"message": message.payload.decode("utf-8", "replace")}
                raise self._on_error(kind, payload)
            if headers.get(":event-type") == "PayloadPart":
                chunks.extend(self._events(self._sse.feed(message.payload)))
        return chunks

    def close(self) -> list[dict[str, Any]]:
        return self._events(self._sse.close())

    def _events(self, events: list[SSEEvent]) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = []
        for event in events:
            if not event.data.strip():
                continue
            item = orjson.loads(event.data)
            if not isinstance(item, dict):
                continue
            token = item.get("token") or {}
            if isinstance(token, dict) and token.get("text") and not token.get("special"):
                self._tokens += 1
                chunks.append(self._chunk({"content": str(token["text"])}, None))
            details = item.get("details")
            if isinstance(details, dict):
                if isinstance(details.get("generated_tokens"), int):
                    self._generated = int(details["generated_tokens"])
                self.done = True
                finish = _FINISH.get(str(details.get("finish_reason")), "stop")
                self.finish_reasons.append(finish)
                chunks.append(self._chunk({}, finish))
        return chunks

    def output_estimate(self) -> int:
        """TGI streams one token per event: ``details.generated_tokens`` when the stream finished, else
        the token events seen (exact, unlike the base's characters-per-token estimate)."""
        return self._generated if self._generated is not None else self._tokens

    def _chunk(self, delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": self.response_id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
