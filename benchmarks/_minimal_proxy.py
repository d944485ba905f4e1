"""The minimal pass-through proxy: the ceiling of a Python proxy on this stack (the benchmark's baseline).

Run: ``python benchmarks/_minimal_proxy.py PORT UPSTREAM`` (UPSTREAM like ``http://127.0.0.1:18080``).
A raw ASGI app on uvicorn (uvloop, httptools, no access log) that forwards every POST to the same path on
UPSTREAM with one shared aiohttp session and relays the status, content type and body bytes (streams
chunk by chunk). No auth, no parsing, no logging. ``GET /health`` answers 200.
"""

from __future__ import annotations

import sys
from typing import Any

import aiohttp
import uvicorn

Scope = dict[str, Any]
_FORWARD = (b"authorization", b"content-type")


class MinimalProxy:
    """ASGI app relaying requests to ``upstream`` byte for byte."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["method"] != "POST":
            await _send(send, 200, b"text/plain", b"ok")
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode(): v.decode() for k, v in scope["headers"] if k in _FORWARD}
        assert self.session is not None
        async with self.session.post(self.upstream + scope["path"], data=body, headers=headers) as resp:
            ctype = resp.headers.get("content-type", "application/json").encode()
            if ctype.startswith(b"text/event-stream"):
                await send(
                    {
                        "type": "http.response.start",
                        "status": resp.status,
                        "headers": [(b"content-type", ctype)],
                    }
                )
                async for chunk in resp.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                return
            await _send(send, resp.status, ctype, await resp.read())

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send(send: Any, status: int, ctype: bytes, body: bytes) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    port, upstream = int(sys.argv[1]), sys.argv[2]
    uvicorn.run(
        MinimalProxy(upstream),
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )


if __name__ == "__main__":
    main()
