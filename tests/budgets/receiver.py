"""A local HTTP receiver (127.0.0.1, free port) that records the JSON bodies POSTed to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Receiver:
    url: str
    bodies: dict[str, list[Any]] = field(default_factory=dict)

    def at(self, path: str) -> list[Any]:
        return self.bodies.setdefault(path, [])


@asynccontextmanager
async def http_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver("")

    async def record(request: web.Request) -> web.Response:
        receiver.at(request.path).append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}"
    try:
        yield receiver
    finally:
        await runner.cleanup()
