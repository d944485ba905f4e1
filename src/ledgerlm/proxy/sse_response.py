"""A server-sent-events response that always closes its source, also when the client goes away.

uvicorn (ASGI spec 2.3) drops writes to a disconnected client silently, so the response watches
``receive`` for ``http.disconnect`` and cancels the streaming task; the source generator is closed in
every case (its ``finally`` blocks run), which lets the engine record exactly one terminal event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Mapping

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = ["SSEResponse"]


class SSEResponse(Response):
    """ASGI response streaming ``source`` (bytes already framed as SSE events; with another
    ``media_type``, any bytes relayed as they come, e.g. a pass-through's answer with its ``status``).
    Subclasses starlette's ``Response`` only to be a route's return value; its own ``__call__`` does
    all the work."""

    def __init__(
        self,
        source: AsyncGenerator[bytes, None],
        headers: Mapping[str, str],
        *,
        status: int = 200,
        media_type: str = "text/event-stream",
    ) -> None:
        self.source = source
        self.status = self.status_code = status
        raw = [(b"content-type", media_type.encode("latin-1")), (b"cache-control", b"no-cache")]
        raw.extend((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items())
        self.raw_headers = raw
        self.disconnected = False
        self.complete = False

    async def _stream(self, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": self.status, "headers": self.raw_headers})
            async for chunk in self.source:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            self.complete = True
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await self.source.aclose()

    async def _watch(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streamer = asyncio.ensure_future(self._stream(send))
        watcher = asyncio.ensure_future(self._watch(receive))
        try:
            await asyncio.wait({streamer, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not streamer.done() and not self.complete:
                streamer.cancel()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await streamer
