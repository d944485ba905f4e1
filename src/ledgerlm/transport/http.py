"""``AiohttpTransport``: the real transport, one aiohttp session per event loop.

Each transport keeps its own sessions (a runtime's, or the process default's), created on first use
(never at import) and closed when their loop shuts down its async generators (``asyncio.run``,
pytest-asyncio and uvicorn all do), or explicitly with ``await transport.aclose()`` (the running
loop's session). The response returned is aiohttp's ``ClientResponse`` itself (it has the
``TransportResponse`` shape): nothing is wrapped or copied per chunk.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator

import aiohttp

from ledgerlm.providers.base import HTTPRequest
from ledgerlm.transport.protocol import TransportResponse

__all__ = ["AiohttpTransport", "default_transport"]


class AiohttpTransport:
    """Sends over aiohttp; one ``ClientSession`` per event loop (no limit on connections per host)."""

    def __init__(self) -> None:
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
            weakref.WeakKeyDictionary()
        )
        self._keepers: dict[int, AsyncIterator[None]] = {}

    async def _keeper(
        self, loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession
    ) -> AsyncIterator[None]:
        """Async generator registered with the loop; ``shutdown_asyncgens`` closes it -> session closed."""
        try:
            yield
        finally:
            self._keepers.pop(id(loop), None)
            if self._sessions.get(loop) is session:
                del self._sessions[loop]
            await session.close()

    async def session(self) -> aiohttp.ClientSession:
        """The running loop's session (created on first use)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is not None and not session.closed:
            return session
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        session = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        self._sessions[loop] = session
        keeper = self._keeper(loop, session)
        await keeper.__anext__()
        self._keepers[id(loop)] = keeper
        return session

    async def request(self, request: HTTPRequest, *, timeout: float, stream: bool) -> TransportResponse:
        """One exchange: ``timeout`` is the total for a plain request, per read for a stream (whose
        body is left unread; an error status is read whole either way)."""
        session = await self.session()
        client_timeout = (
            aiohttp.ClientTimeout(total=None, sock_connect=timeout, sock_read=timeout)
            if stream
            else aiohttp.ClientTimeout(total=timeout)
        )
        return await session.request(
            request.method, request.url, data=request.body, headers=request.headers, timeout=client_timeout
        )

    async def aclose(self) -> None:
        """Close the running loop's session now (e.g. in an app's shutdown)."""
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        keeper = self._keepers.pop(id(loop), None)
        if session is not None:
            await session.close()
        if keeper is not None:
            await keeper.aclose()  # type: ignore[attr-defined]


_default = AiohttpTransport()


def default_transport() -> AiohttpTransport:
    """The process default transport (the SDK's default runtime uses it)."""
    return _default
