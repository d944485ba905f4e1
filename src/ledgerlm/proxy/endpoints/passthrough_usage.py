"""Usage of a custom pass-through answer whose format is not configured, recognised by its shape, and
its cost (``ledgerlm.proxy.endpoints.custom_passthrough``).

Known shapes: OpenAI (``usage`` with ``prompt_tokens``/``input_tokens`` beside ``choices``, ``data``
or ``output``), Anthropic Messages (``"type": "message"`` with ``usage``), Gemini (``usageMetadata``);
streams: SSE events of the same formats (``message_start``/``message_delta`` for Anthropic,
``usageMetadata`` chunks for Gemini, a final ``usage`` chunk for OpenAI). Anything else: no usage.
"""

from __future__ import annotations

from typing import Any

import orjson

from ledgerlm.engine.cost import call_cost
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.passthrough_config import PassThroughEndpoint
from ledgerlm.types import Cost, Usage
from ledgerlm.usage import stream_accumulator
from ledgerlm.usage.dispatch import usage_from_body

__all__ = ["answer_usage", "custom_cost", "family_of", "stream_usage"]


def family_of(item: Any) -> str | None:
    """``openai``, ``anthropic``, ``gemini`` for an answer or stream event of that format, else ``None``."""
    if not isinstance(item, dict):
        return None
    kind = str(item.get("type") or "")
    if kind == "message" or kind.startswith(("message_", "content_block")):
        return "anthropic"
    if "usageMetadata" in item or "candidates" in item:
        return "gemini"
    if "choices" in item or item.get("object") in ("list", "response", "chat.completion.chunk"):
        return "openai"
    return None


def answer_usage(body: bytes) -> tuple[str | None, Usage | None, Any]:
    """``(family, usage, parsed answer)`` of a plain answer; ``(None, None, answer)`` when unknown."""
    try:
        answer: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    family = family_of(answer)
    if family is None:
        return None, None, answer
    try:
        return family, usage_from_body(family, answer), answer
    except Exception:  # an answer of a known shape without usage: unpriced, never a lost row
        return None, None, answer


class _StreamUsage:
    """Usage of an SSE stream: the family from the first recognised event, then that family's
    accumulator."""

    def __init__(self) -> None:
        self.family: str | None = None
        self._acc: Any = None

    def feed(self, data: str) -> None:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if self._acc is None:
            self.family = family_of(event)
            if self.family is None:
                return
            self._acc = stream_accumulator(self.family)
        if isinstance(event, dict):
            self._acc.feed(event)

    def usage(self) -> Usage | None:
        found: Usage | None = None if self._acc is None else self._acc.usage()
        return found


def stream_usage() -> _StreamUsage:
    """A fresh stream usage reader (``feed(data text)``, ``usage()``, ``family``)."""
    return _StreamUsage()


def custom_cost(
    entry: PassThroughEndpoint, model: str, usage: Usage | None, family: str | None, start: float
) -> Cost:
    """The cost of a custom pass-through call: the entry's ``cost_per_request`` (USD, shown as
    ``request`` in the breakdown, ``model_ref`` the route's path) when set; else ``usage`` priced
    from the catalog as ``family``'s ``model``; else unpriced with the reason (never $0). ``start``:
    epoch seconds (dated prices)."""
    rate = entry.cost_per_request
    if rate is not None:
        return Cost(total=rate, breakdown={"request": rate}, source="custom", model_ref=entry.path)
    if usage is None or family is None:
        reason = "the answer carries no usage in a known format (OpenAI, Anthropic, Gemini); "
        return Cost.unpriced(reason + "set cost_per_request on the pass-through endpoint to price it")
    return call_cost(Deployment(provider=family, model=model), usage, start)
