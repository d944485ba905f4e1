"""``InMemoryTransport``: answers requests from a function or an ASGI app, without a socket.

For engine tests that run in milliseconds (httpx's ``MockTransport`` is the model)::

    def handler(request: HTTPRequest) -> MemoryResponse:
        return MemoryResponse(200, json={"id": "x", ...})

    runtime = Runtime(transport=InMemoryTransport(handler))

The handler (sync or ``async def``) receives the ``HTTPRequest`` the engine built and returns a
``MemoryResponse``: ``status``, ``headers``, and a ``body`` (bytes, or ``json=`` a value) or ``chunks``
(bytes, sync or async iterable: a stream; an async generator may sleep to stall or raise
``ConnectionError`` to break it). A handler that raises ``TimeoutError`` / ``ConnectionError`` plays a
request that got no answer. ``InMemoryTransport(app=asgi_app)`` serves an ASGI app (e.g. a Starlette
app) instead. ``requests`` lists what was sent, in order. The ``timeout`` of each request is kept:
a handler or a chunk slower than it raises ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from ledgerlm.providers.base import HTTPRequest

__all__ = ["Handler", "InMemoryTransport", "MemoryResponse"]

Chunks = Iterable[bytes] | AsyncIterable[bytes]


@dataclass(slots=True)
class MemoryResponse:
    """An answer of the in-memory transport (see the module docstring)."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Chunks | None = None
    json: Any = None

    def __post_init__(self) -> None:
        if self.json is not None:
            self.body = orjson.dumps(self.json)
            self.headers = {"content-type": "application/json", **self.headers}


Handler = Callable[[HTTPRequest], MemoryResponse | Awaitable[MemoryResponse]]


async def _aiter(chunks: Chunks) -> AsyncIterator[bytes]:
    if isinstance(chunks, AsyncIterable):
        async for chunk in chunks:
            yield chunk
    else:
        for chunk in chunks:
            yield chunk


class _Body:
    """The ``content`` of a response: chunks read with a timeout on each."""

    def __init__(self, chunks: AsyncIterator[bytes], timeout: float) -> None:
        self._chunks = chunks
        self._timeout = timeout

    async def readany(self) -> bytes:
        try:
            return await asyncio.wait_for(anext(self._chunks), self._timeout)
        except StopAsyncIteration:
            return b""

    async def iter_any(self) -> AsyncIterator[bytes]:
        while data := await self.readany():
            yield data


class _Response:
    """A ``TransportResponse`` over a ``MemoryResponse``."""

    def __init__(self, url: str, answer: MemoryResponse, timeout: float) -> None:
        self.url = url
        self.status = answer.status
        self.headers = dict(answer.headers)
        chunks = answer.chunks if answer.chunks is not None else [answer.body] if answer.body else []
        self._stream = _aiter(chunks)
        self.content = _Body(self._stream, timeout)
        self.closed = False

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.content.iter_any()])

    def release(self) -> None:
        self.closed = True

    def close(self) -> None:
        self.closed = True


class InMemoryTransport:
    """A ``Transport`` answering from ``handler`` (or the ASGI ``app``); see the module docstring."""

    def __init__(self, handler: Handler | None = None, *, app: Any = None) -> None:
        if (handler is None) == (app is None):
            raise ValueError("InMemoryTransport takes a handler or an app (one of them)")
        self._handler: Handler = handler if handler is not None else _asgi_handler(app)
        self.requests: list[HTTPRequest] = []

    async def request(self, request: HTTPRequest, *, timeout: float, stream: bool) -> _Response:
        self.requests.append(request)
        answer = self._handler(request)
        if inspect.isawaitable(answer):
            answer = await asyncio.wait_for(answer, timeout)
        if not isinstance(answer, MemoryResponse):
            raise TypeError(f"an InMemoryTransport handler returns a MemoryResponse, not {answer!r}")
        response = _Response(request.url, answer, timeout)
        if not stream:  # a plain body arrives within the timeout or not at all
            body = await asyncio.wait_for(response.read(), timeout)
            response = _Response(request.url, MemoryResponse(answer.status, answer.headers, body), timeout)
        return response

    async def aclose(self) -> None:
        return None


def _asgi_handler(app: Any) -> Handler:
    """A handler running ``app`` (ASGI 3) for each request; the body streams as the app sends it."""

    async def handle(request: HTTPRequest) -> MemoryResponse:
        url = urlsplit(request.url)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.path.encode(),
            "query_string": url.query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
            "server": (url.hostname or "memory", url.port or 80),
            "client": ("127.0.0.1", 0),
        }
        sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        received = [{"type": "http.request", "body": request.body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return received.pop() if received else {"type": "http.disconnect"}

        task = asyncio.ensure_future(app(scope, receive, sent.put))
        first = asyncio.ensure_future(sent.get())
        await asyncio.wait({first, task}, return_when=asyncio.FIRST_COMPLETED)
        if not first.done():  # the app ended (or raised) before answering
            first.cancel()
            task.result()
            raise ConnectionError("the ASGI app ended without a response")
        start = first.result()
        headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
        return MemoryResponse(start["status"], headers, chunks=_asgi_body(sent, task))

    return handle


async def _asgi_body(sent: asyncio.Queue[dict[str, Any]], task: asyncio.Future[Any]) -> AsyncIterator[bytes]:
    try:
        while True:
            message = await sent.get()
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body"):
                return
    finally:
        if not task.done():
            task.cancel()
