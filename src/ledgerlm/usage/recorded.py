"""Read a recorded response: a body (JSON) or a stream (SSE, JSON lines, JSON array, Bedrock binary).

``parse_recorded(data)`` turns file contents (or already-parsed objects) into a ``Recorded``: either a
``body`` dict or a list of stream ``events`` (parsed dicts). ``detect_provider`` guesses the provider
family from the shape and ``recorded_model`` finds the model id the response names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledgerlm.sse import parse_sse_text
from ledgerlm.usage._common import sub
from ledgerlm.usage.bedrock import bedrock_event_payload

__all__ = ["NotAResponseError", "Recorded", "detect_provider", "parse_recorded", "recorded_model"]

_PRECISE = frozenset({"xai", "deepseek", "openrouter"})


class NotAResponseError(ValueError):
    """The data is neither a response body nor a recorded stream."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """A recorded response: ``body`` (non-streamed) or ``events`` (a stream), exactly one is set."""

    body: Mapping[str, Any] | None = None
    events: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def is_stream(self) -> bool:
        """True when this is a stream."""
        return self.body is None


def parse_recorded(data: str | bytes | Mapping[str, Any] | Sequence[Any]) -> Recorded:
    """Parse a recorded response body or stream.

    Accepts a dict (body), a list of event dicts, JSON text of either, SSE text/bytes (``data:``
    lines; ``[DONE]`` skipped), JSON lines (one chunk per line), or AWS binary event-stream bytes
    (decoded with botocore). Raises ``NotAResponseError`` when nothing usable is found.
    """
    if isinstance(data, Mapping):
        return Recorded(body=data)
    if isinstance(data, (bytes, bytearray)):
        if _looks_like_eventstream(bytes(data)):
            return Recorded(events=decode_eventstream(bytes(data)))
        data = bytes(data).decode("utf-8", errors="replace")
    if isinstance(data, str):
        return _parse_text(data)
    events = [e for e in data if isinstance(e, Mapping)]
    if not events:
        raise NotAResponseError("the list holds no event objects")
    return Recorded(events=events)


def _parse_text(text: str) -> Recorded:
    stripped = text.strip()
    if not stripped:
        raise NotAResponseError("the input is empty")
    try:
        value = json.loads(stripped)
    except ValueError:
        value = None
    if isinstance(value, Mapping):
        return Recorded(body=value)
    if isinstance(value, list):
        return parse_recorded(value)
    first = stripped.split("\n", 1)[0]
    if first.startswith(("data:", "event:", "id:", ":")):
        return Recorded(events=_sse_events(text))
    return Recorded(events=_json_lines(stripped))


def _sse_events(text: str) -> list[Mapping[str, Any]]:
    events: list[Mapping[str, Any]] = []
    for event in parse_sse_text(text):
        if event.data.strip() in ("", "[DONE]"):
            continue
        try:
            value = json.loads(event.data)
        except ValueError as exc:
            raise NotAResponseError(f"an SSE event's data is not JSON: {event.data[:80]!r}") from exc
        if isinstance(value, Mapping):
            events.append(value)
    if not events:
        raise NotAResponseError("the SSE stream holds no JSON events")
    return events


def _json_lines(text: str) -> list[Mapping[str, Any]]:
    events: list[Mapping[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line == "[DONE]":
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise NotAResponseError("the input is neither JSON, JSON lines nor SSE") from exc
        if isinstance(value, Mapping):
            events.append(value)
    if not events:
        raise NotAResponseError("the input holds no JSON objects")
    return events


def _looks_like_eventstream(data: bytes) -> bool:
    """AWS event-stream frames start with a 4-byte big-endian total length equal to the frame size."""
    if len(data) < 16 or data[0] != 0:
        return False
    return 16 <= int.from_bytes(data[:4], "big") <= len(data)


def decode_eventstream(data: bytes) -> list[Mapping[str, Any]]:
    """Decode AWS binary event-stream bytes (``application/vnd.amazon.eventstream``) with botocore.

    Returns ``[{"headers": {...}, "payload": <JSON dict>}]``; frames whose payload is not JSON keep
    ``payload: {}``. Raises ``NotAResponseError`` on a corrupt stream (CRC or length mismatch).
    """
    from botocore.eventstream import EventStreamBuffer, ParserError

    buffer = EventStreamBuffer()
    buffer.add_data(data)
    events: list[Mapping[str, Any]] = []
    try:
        for message in buffer:
            try:
                payload = json.loads(message.payload) if message.payload else {}
            except ValueError:
                payload = {}
            events.append({"headers": dict(message.headers), "payload": payload})
    except ParserError as exc:
        raise NotAResponseError(f"corrupt AWS event stream: {exc}") from exc
    return events


def detect_provider(recorded: Recorded) -> str | None:
    """Guess the provider family from the shape: ``openai``, ``anthropic``, ``gemini``, ``bedrock``,
    or a more precise OpenAI-compatible name (``xai``, ``deepseek``, ``openrouter``) when the usage
    shows it; ``None`` when unknown."""
    items = [recorded.body] if recorded.body is not None else recorded.events
    first: str | None = None
    for item in items:
        if item is None:
            continue
        guess = _detect_one(item)
        if guess in _PRECISE:
            return guess
        first = first or guess
    return first


def _detect_one(item: Mapping[str, Any]) -> str | None:
    if ("headers" in item and "payload" in item) or "amazon-bedrock-invocationMetrics" in item:
        return "bedrock"
    if "usageMetadata" in item or "candidates" in item or "modelVersion" in item:
        return "gemini"
    kind = item.get("type")
    if kind in ("message", "message_start", "message_delta") and "choices" not in item:
        return "anthropic"
    usage = sub(item, "usage") or sub(sub(item, "response"), "usage")
    if "inputTokens" in usage or "stopReason" in item or "metrics" in item:
        return "bedrock"
    if "cost_in_usd_ticks" in usage:
        return "xai"
    if "prompt_cache_hit_tokens" in usage or "prompt_cache_miss_tokens" in usage:
        return "deepseek"
    if "is_byok" in usage or "cost" in usage:
        return "openrouter"
    if "choices" in item or "object" in item or (kind is not None and str(kind).startswith("response.")):
        return "openai"
    return None


def recorded_model(recorded: Recorded) -> str | None:
    """The model id named by the response (``model``, ``modelVersion``, ``message.model``,
    ``response.model``), or ``None``."""
    items = [recorded.body] if recorded.body is not None else recorded.events
    for item in items:
        if item is None:
            continue
        payload = bedrock_event_payload(item)
        for source in (payload, sub(payload, "message"), sub(payload, "response")):
            model = source.get("model") or source.get("modelVersion")
            if isinstance(model, str) and model:
                return model
    return None
