"""AWS Bedrock usage: Converse / ConverseStream ``usage``, InvokeModel bodies, invocation metrics.

Field names from the Bedrock Runtime API reference (``TokenUsage``) and the InvokeModel stream's
``amazon-bedrock-invocationMetrics``; both proven on recorded payloads (``totalTokens = inputTokens +
outputTokens + cacheRead + cacheWrite``):

* ``inputTokens`` EXCLUDES ``cacheReadInputTokens`` and ``cacheWriteInputTokens`` (also spelled
  ``...InputTokenCount``); the canonical ``input_tokens`` is their sum. When ``totalTokens`` shows the
  cache already inside ``inputTokens`` it is not added twice.
* ``cacheDetails`` (``[{"ttl": "5m"|"1h", "inputTokens": n}]``) gives the 1-hour part of the writes.
* InvokeModel with an Anthropic model returns the Anthropic body (see ``usage.anthropic``); Amazon
  Nova InvokeModel bodies carry the Converse-style ``usage``.
* Streams: ConverseStream's ``metadata`` event; InvokeModelWithResponseStream ``chunk`` events wrap
  base64 JSON (Anthropic events, or Nova ``metadata``) and the last one carries
  ``amazon-bedrock-invocationMetrics``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping
from typing import Any

from ledgerlm.types import Usage
from ledgerlm.usage._common import as_int, sub, to_mapping
from ledgerlm.usage.anthropic import AnthropicStreamUsage, usage_from_anthropic

__all__ = [
    "BedrockStreamUsage",
    "bedrock_event_payload",
    "usage_from_bedrock",
    "usage_from_bedrock_body",
    "usage_from_bedrock_metrics",
    "usage_from_bedrock_stream",
]


def _first(raw: Mapping[str, Any], *keys: str) -> int:
    for key in keys:
        if raw.get(key) is not None:
            return as_int(raw.get(key))
    return 0


def usage_from_bedrock(usage: Mapping[str, Any] | Any, *, provider: str = "bedrock") -> Usage:
    """Map a Bedrock ``usage`` object to canonical ``Usage`` (tokens).

    Converse-style camelCase usage is mapped here; an Anthropic-style snake_case usage (InvokeModel
    with a Claude model) is passed to ``usage_from_anthropic``.
    """
    raw = to_mapping(usage)
    if "input_tokens" in raw or "output_tokens" in raw:
        return usage_from_anthropic(raw, provider=provider)
    base = _first(raw, "inputTokens", "inputTokenCount")
    read = _first(raw, "cacheReadInputTokens", "cacheReadInputTokenCount")
    write = _first(raw, "cacheWriteInputTokens", "cacheWriteInputTokenCount")
    output = _first(raw, "outputTokens", "outputTokenCount")
    total = raw.get("totalTokens")
    cache_inside = total is not None and (read or write) and as_int(total) == base + output
    return Usage(
        input_tokens=base if cache_inside else base + read + write,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=min(write, _one_hour_writes(raw)),
        raw=dict(raw),
    )


def _one_hour_writes(raw: Mapping[str, Any]) -> int:
    details = raw.get("cacheDetails")
    if not isinstance(details, list):
        return 0
    return sum(
        as_int(to_mapping(d).get("inputTokens"))
        for d in details
        if str(to_mapping(d).get("ttl", "")).lower() in ("1h", "one_hour", "3600s")
    )


def usage_from_bedrock_metrics(metrics: Mapping[str, Any], *, provider: str = "bedrock") -> Usage:
    """Map ``amazon-bedrock-invocationMetrics`` (``inputTokenCount``, ``outputTokenCount``,
    ``cacheReadInputTokenCount``, ``cacheWriteInputTokenCount``) to ``Usage``."""
    return usage_from_bedrock(metrics, provider=provider)


def bedrock_event_payload(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Normalize one Bedrock stream event to a payload dict.

    Accepts ``{"headers": {":event-type": T}, "payload": P}`` (decoded event-stream frames) ->
    ``{T: P}``, boto3-style ``{"chunk": {"bytes": b"..."}}`` and the frames' ``chunk`` payloads ->
    the decoded inner JSON, and already-normalized dicts (returned as they are).
    """
    headers = event.get("headers")
    if isinstance(headers, Mapping) and "payload" in event:
        kind = str(headers.get(":event-type", ""))
        payload = to_mapping(event.get("payload"))
        if kind == "chunk":
            decoded = event.get("decoded_bytes")
            return to_mapping(decoded) if isinstance(decoded, Mapping) else _decode_chunk(payload)
        return {kind: payload}
    chunk = event.get("chunk")
    if isinstance(chunk, Mapping) and "bytes" in chunk:
        return _decode_chunk(chunk)
    return event


def _decode_chunk(chunk: Mapping[str, Any]) -> Mapping[str, Any]:
    data = chunk.get("bytes")
    if isinstance(data, str):
        data = base64.b64decode(data)
    if not isinstance(data, (bytes, bytearray)):
        return {}
    try:
        out = json.loads(data)
    except ValueError:
        return {}
    return out if isinstance(out, Mapping) else {}


def usage_from_bedrock_body(body: Mapping[str, Any], *, provider: str = "bedrock") -> Usage | None:
    """The usage of a Converse or InvokeModel body (its ``usage``, else the InvokeModel
    ``amazon-bedrock-invocationMetrics``), or ``None`` when it has neither."""
    raw = body.get("usage")
    if isinstance(raw, Mapping) and raw:
        return usage_from_bedrock(raw, provider=provider)
    metrics = body.get("amazon-bedrock-invocationMetrics")
    if isinstance(metrics, Mapping) and metrics:
        return usage_from_bedrock(metrics, provider=provider)
    return None


class BedrockStreamUsage:
    """Accumulates usage over Bedrock stream events (any shape ``bedrock_event_payload`` accepts).

    Preference: ConverseStream / Nova ``metadata.usage``, else the Anthropic events' usage (it keeps
    the 1-hour cache split), else ``amazon-bedrock-invocationMetrics``.
    """

    __slots__ = ("_anthropic", "_metadata", "_metrics")

    def __init__(self) -> None:
        self._anthropic = AnthropicStreamUsage()
        self._metadata: Mapping[str, Any] | None = None
        self._metrics: Mapping[str, Any] | None = None

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one stream event."""
        payload = bedrock_event_payload(event)
        usage = sub(sub(payload, "metadata"), "usage")
        if usage:
            self._metadata = usage
        metrics = sub(payload, "amazon-bedrock-invocationMetrics")
        if metrics:
            self._metrics = metrics
        if "type" in payload:
            self._anthropic.feed(payload)

    def usage(self, *, provider: str = "bedrock") -> Usage | None:
        """The stream's ``Usage`` or ``None`` when no event carried usage."""
        if self._metadata is not None:
            return usage_from_bedrock(self._metadata, provider=provider)
        anthropic = self._anthropic.usage(provider=provider)
        if anthropic is not None:
            return anthropic
        if self._metrics is not None:
            return usage_from_bedrock_metrics(self._metrics, provider=provider)
        return None


def usage_from_bedrock_stream(
    events: Iterable[Mapping[str, Any]], *, provider: str = "bedrock"
) -> Usage | None:
    """The usage of a whole Bedrock stream, or ``None`` when no event carried usage."""
    acc = BedrockStreamUsage()
    for event in events:
        acc.feed(event)
    return acc.usage(provider=provider)
