"""The transport protocol: how the engine talks HTTP, whatever carries the bytes.

A ``Transport`` takes one request (``HTTPRequest``: method, absolute URL, headers, body bytes) and
returns a ``TransportResponse``: ``status``, ``headers``, and the body either read whole
(``await read()``) or as chunks while they arrive (``await content.readany()``: the next bytes, ``b""``
at the end; ``content.iter_any()``). The shape is aiohttp's ``ClientResponse``, so the real transport
(``ledgerlm.transport.http.AiohttpTransport``) returns aiohttp's object itself: no wrapper and no copy
per chunk on the hot path. ``ledgerlm.transport.memory.InMemoryTransport`` answers from a function, for
engine tests that run in milliseconds (httpx's ``MockTransport`` is the model).

Errors a transport raises (``send`` maps them with ``map_client_error``): ``TimeoutError`` (no answer
within ``timeout`` seconds), ``OSError`` / ``ConnectionError`` or ``aiohttp.ClientError`` (connection
refused or broken), ``ValueError`` (a URL it cannot send to: a 400, never retried).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from ledgerlm.providers.base import HTTPRequest

__all__ = ["ByteStream", "Transport", "TransportResponse"]


class ByteStream(Protocol):
    """A response body read while it arrives."""

    async def readany(self) -> bytes:
        """The bytes received since the last read (waits for some); ``b""`` at the end of the body."""
        ...

    def iter_any(self) -> AsyncIterator[bytes]:
        """Every chunk as it arrives, until the end of the body."""
        ...


class TransportResponse(Protocol):
    """One HTTP answer. ``release()`` returns a fully read connection for reuse; ``close()`` drops it."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def url(self) -> Any:
        """The URL answered (``str(url)`` is used in error messages)."""
        ...

    @property
    def content(self) -> ByteStream: ...

    async def read(self) -> bytes:
        """The whole body."""
        ...

    def release(self) -> Any: ...

    def close(self) -> None: ...


class Transport(Protocol):
    """Sends requests. ``timeout`` (seconds): the whole exchange for a plain request; the connection and
    every read for ``stream=True`` (the body is then returned unread)."""

    async def request(self, request: HTTPRequest, *, timeout: float, stream: bool) -> TransportResponse:
        """Send ``request``; raise ``TimeoutError``, ``OSError``/``aiohttp.ClientError`` or ``ValueError``."""
        ...

    async def aclose(self) -> None:
        """Close what the transport holds (sessions, connections); it may be used again after."""
        ...
