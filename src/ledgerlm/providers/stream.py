"""``StreamDecoder``: the base every wire format's stream decoder shares.

A decoder turns a provider's streamed body into what the engine hands on, incrementally: OpenAI
``chat.completion.chunk`` dicts, or the provider's own events in a native mode (Anthropic events for the
proxy's ``/v1/messages``, Responses-API events for ``/v1/responses``). Subclasses implement ``feed``
(raw bytes, any split) and ``close`` (flush at end of body) and keep ``usage``, ``finish_reasons``,
``response_id``, ``response_model`` and ``done`` (the format's own end marker was seen: ``[DONE]``,
``message_stop``, ``response.completed``, Gemini's ``finishReason``, Bedrock's ``metadata``).

The base does the rest the same way for every format:

* ``decode(data)`` (what the engine calls) feeds the bytes, or closes on ``b""``, and counts what comes
  back: ``chunk_count`` (chunks or events returned), ``delta_count`` (those that carried output: text,
  reasoning or tool-call deltas) and ``delta_chars`` (the length of that output text);
* ``usage_so_far(input_estimate)`` is the usage recorded however the stream ends: the provider's usage
  when it sent one, else an estimate (``ESTIMATED`` set in ``Usage.raw``): input from
  ``input_estimate()`` (the engine's prompt estimate, ~4 characters per token), output from the deltas
  (``output_estimate``: ~4 characters of delta text per token, and never fewer tokens than deltas). A
  partial provider usage of a stream that did not finish (Anthropic's ``message_start`` reports the
  input and 1 output token) keeps its input and has its output raised to the estimate when lower.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ledgerlm.types import Usage

if TYPE_CHECKING:
    from ledgerlm.providers.base import Deployment

__all__ = ["CHARS_PER_TOKEN", "ESTIMATED", "StreamDecoder", "delta_texts"]

ESTIMATED = "ledgerlm_estimated"
"""Key set to ``True`` in ``Usage.raw`` when (part of) a stream's usage is an estimate."""

CHARS_PER_TOKEN = 4
"""Characters of text per token in an estimate (OpenAI's rule of thumb for English text)."""


def _chat_delta_text(delta: Any) -> str | None:
    """Output text of one OpenAI ``choices[].delta``; ``None`` when it carries no output."""
    if not isinstance(delta, Mapping):
        return None
    text = [str(delta.get(key) or "") for key in ("content", "reasoning_content")]
    calls = delta.get("tool_calls")
    if isinstance(calls, list):
        for call in calls:
            function = call.get("function") if isinstance(call, Mapping) else None
            if isinstance(function, Mapping):
                text += [str(function.get("name") or ""), str(function.get("arguments") or "")]
    return "".join(text) if any(text) or calls else None


def delta_texts(chunk: Mapping[str, Any]) -> list[str]:
    """The output text of each delta in one decoded chunk, in any of the shapes decoders return:

    an OpenAI chat chunk (one per choice whose ``delta`` has ``content``, ``reasoning_content`` or
    ``tool_calls``), an Anthropic ``content_block_delta`` event (``text``, ``thinking``,
    ``partial_json``) or a Responses-API ``response.*.delta`` event (its ``delta`` string).
    """
    kind = chunk.get("type")
    if kind == "content_block_delta":
        delta = chunk.get("delta")
        if isinstance(delta, Mapping):
            text = delta.get("text") or delta.get("thinking") or delta.get("partial_json")
            return [text] if isinstance(text, str) and text else []
        return []
    if isinstance(kind, str) and kind.startswith("response.") and kind.endswith(".delta"):
        delta = chunk.get("delta")
        return [delta] if isinstance(delta, str) and delta else []
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        return []
    texts = (_chat_delta_text(c.get("delta")) for c in choices if isinstance(c, Mapping))
    return [t for t in texts if t is not None]


class StreamDecoder(ABC):
    """Turns a provider's streamed body into chunks, incrementally (see the module docstring).

    ``usage`` holds the canonical usage seen so far (partial on a broken stream); ``finish_reasons``,
    ``response_id`` and ``response_model`` are filled as they appear. An ``error`` event inside a 200
    stream raises the mapped ``APIError`` from ``feed``.
    """

    usage: Usage | None = None
    finish_reasons: list[str]
    response_id: str | None = None
    response_model: str | None = None
    done: bool = False
    chunk_count: int = 0
    delta_count: int = 0
    delta_chars: int = 0

    @classmethod
    def open(cls, provider: str, deployment: Deployment, *, caller_wants_usage: bool) -> StreamDecoder:
        """A fresh decoder for one streamed response of ``deployment`` called as provider ``provider``
        (what ``Provider.stream_decoder`` calls on the provider table's class). ``caller_wants_usage``
        False: the usage-only chunk asked for on the caller's behalf is not returned."""
        raise NotImplementedError(f"{cls.__name__} has no open(); build it in the provider's stream_decoder")

    @abstractmethod
    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The chunks completed by ``data`` (bytes split anywhere)."""

    @abstractmethod
    def close(self) -> list[dict[str, Any]]:
        """Flush at end of body."""

    def decode(self, data: bytes) -> list[dict[str, Any]]:
        """``feed(data)``, or ``close()`` when ``data`` is empty (end of body), counted."""
        chunks = self.feed(data) if data else self.close()
        self.chunk_count += len(chunks)
        for chunk in chunks:
            for text in delta_texts(chunk):
                self.delta_count += 1
                self.delta_chars += len(text)
        return chunks

    def output_estimate(self) -> int:
        """Output tokens the deltas seen so far amount to: ~4 characters of their text per token, and
        never fewer tokens than deltas."""
        return max(self.delta_count, math.ceil(self.delta_chars / CHARS_PER_TOKEN))

    def usage_so_far(self, input_estimate: Callable[[], int]) -> Usage:
        """The usage to record now (the stream ended, broke or was abandoned): see the module docstring.
        ``input_estimate`` is called only when the provider sent no usage."""
        usage, output = self.usage, self.output_estimate()
        if usage is None:
            return Usage(input_tokens=input_estimate(), output_tokens=output, raw={ESTIMATED: True})
        if self.done or usage.output_tokens >= output:
            return usage
        return usage.replace(output_tokens=output, raw={**usage.raw, ESTIMATED: True})
