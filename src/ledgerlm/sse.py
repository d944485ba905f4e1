"""Incremental Server-Sent Events decoder (the WHATWG "event stream" format).

Used for every provider stream that is SSE (OpenAI family, Anthropic, Gemini ``alt=sse``) and by
``ledgerlm cost`` on recorded streams. Handles: bytes split anywhere (also inside a UTF-8 sequence or a
CRLF), ``\\r\\n`` / ``\\r`` / ``\\n`` line ends, comment lines (``: ping``), multi-line ``data:`` (joined
with ``\\n``), ``event:`` and ``id:`` fields, a missing final blank line (flushed by ``close``).
Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent", "parse_sse_text"]


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event: ``event`` (None when the stream named none), ``data`` text, ``id``."""

    event: str | None
    data: str
    id: str | None = None


class SSEDecoder:
    """Feed bytes as they arrive; get complete events back."""

    __slots__ = ("_buffer", "_data", "_event", "_id", "_pending_cr", "_utf8")

    def __init__(self) -> None:
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._pending_cr = False
        self._event: str | None = None
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode ``chunk`` and return the events it completed (possibly none)."""
        text = self._utf8.decode(chunk)
        if not text:
            return []
        if self._pending_cr:
            self._pending_cr = False
            if text.startswith("\n"):
                text = text[1:]
        if text.endswith("\r"):
            self._pending_cr = True
        text = self._buffer + text
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream: a last event without its blank line is still dispatched."""
        tail = self._utf8.decode(b"", final=True)
        events: list[SSEEvent] = []
        rest = self._buffer + tail
        self._buffer = ""
        for line in rest.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if line:
                event = self._line(line)
                if event is not None:
                    events.append(event)
        event = self._line("")
        if event is not None:
            events.append(event)
        return events

    def _line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None

    def _dispatch(self) -> SSEEvent | None:
        if not self._data and self._event is None:
            return None
        event = SSEEvent(event=self._event, data="\n".join(self._data), id=self._id)
        self._event = None
        self._data = []
        return event


def parse_sse_text(text: str | bytes) -> list[SSEEvent]:
    """All events of a complete recorded stream (``str`` or ``bytes``)."""
    decoder = SSEDecoder()
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return decoder.feed(raw) + decoder.close()
