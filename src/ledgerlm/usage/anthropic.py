"""Anthropic Messages usage (body, InvokeModel body on Bedrock, stream events) -> ``Usage``.

Field names from the Anthropic Messages API reference (``usage`` object):

* ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and ``cache_creation_input_tokens``; the
  canonical ``input_tokens`` is their sum.
* ``cache_creation.ephemeral_5m_input_tokens`` / ``ephemeral_1h_input_tokens`` split the cache writes
  by TTL. When the parts do not add up to ``cache_creation_input_tokens`` the larger of the two is the
  write total and the unexplained rest is priced at the default (5-minute) TTL.
* ``output_tokens`` INCLUDES extended-thinking tokens (Anthropic does not report them apart).
* ``server_tool_use.web_search_requests``: searches billed per search; ``service_tier``.
* Streams: ``message_start.message.usage`` first, then each ``message_delta.usage`` is CUMULATIVE
  (a field present in a delta replaces the earlier value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ledgerlm.types import Usage
from ledgerlm.usage._common import as_int, sub, to_mapping

__all__ = [
    "AnthropicStreamUsage",
    "usage_from_anthropic",
    "usage_from_anthropic_body",
    "usage_from_anthropic_stream",
]


def usage_from_anthropic(usage: Mapping[str, Any] | Any, *, provider: str = "anthropic") -> Usage:
    """Map an Anthropic ``usage`` object (dict or SDK model) to canonical ``Usage`` (tokens).

    ``provider`` is informational (``"anthropic"`` or ``"bedrock"`` for InvokeModel bodies).
    Missing or null fields count 0; the usage is kept in ``Usage.raw``.
    """
    raw = to_mapping(usage)
    uncached = as_int(raw.get("input_tokens"))
    cache_read = as_int(raw.get("cache_read_input_tokens"))
    write_total, write_1h = _cache_writes(raw)
    tier = raw.get("service_tier")
    return Usage(
        input_tokens=uncached + cache_read + write_total,
        output_tokens=as_int(raw.get("output_tokens")),
        cache_read_tokens=cache_read,
        cache_write_tokens=write_total,
        cache_write_1h_tokens=write_1h,
        web_search_requests=as_int(sub(raw, "server_tool_use").get("web_search_requests")),
        service_tier=tier if isinstance(tier, str) else None,
        raw=dict(raw),
    )


def usage_from_anthropic_body(body: Mapping[str, Any], *, provider: str = "anthropic") -> Usage | None:
    """The usage of a Messages response body (its ``usage`` object), or ``None`` when it has none."""
    raw = body.get("usage")
    return usage_from_anthropic(raw, provider=provider) if isinstance(raw, Mapping) else None


def _cache_writes(raw: Mapping[str, Any]) -> tuple[int, int]:
    """``(all cache-write tokens, 1-hour part)`` reconciling the total with its TTL parts."""
    total = as_int(raw.get("cache_creation_input_tokens"))
    parts = sub(raw, "cache_creation")
    five_min = as_int(parts.get("ephemeral_5m_input_tokens"))
    one_hour = as_int(parts.get("ephemeral_1h_input_tokens"))
    return max(total, five_min + one_hour), one_hour


class AnthropicStreamUsage:
    """Accumulates usage over parsed Anthropic stream events (the SSE ``data`` JSON objects).

    ``feed(event)`` for each event dict; ``usage()`` returns the ``Usage`` so far, or ``None`` when no
    event carried usage. Later ``message_delta`` values replace earlier ones field by field.
    """

    __slots__ = ("_fields", "_seen")

    def __init__(self) -> None:
        self._fields: dict[str, Any] = {}
        self._seen = False

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one event: ``message_start`` (``message.usage``) or ``message_delta`` (``usage``)."""
        kind = event.get("type")
        if kind == "message_start":
            self._merge(sub(sub(event, "message"), "usage"))
        elif kind == "message_delta":
            self._merge(sub(event, "usage"))

    def _merge(self, usage: Mapping[str, Any]) -> None:
        if not usage:
            return
        self._seen = True
        for key, value in usage.items():
            if value is not None:
                self._fields[key] = value

    def usage(self, *, provider: str = "anthropic") -> Usage | None:
        """The accumulated ``Usage`` or ``None`` when no usage was seen."""
        return usage_from_anthropic(self._fields, provider=provider) if self._seen else None


def usage_from_anthropic_stream(
    events: Iterable[Mapping[str, Any]], *, provider: str = "anthropic"
) -> Usage | None:
    """The usage of a whole Anthropic stream (parsed event dicts), or ``None`` when it had none."""
    acc = AnthropicStreamUsage()
    for event in events:
        acc.feed(event)
    return acc.usage(provider=provider)
