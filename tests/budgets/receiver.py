"""A local HTTP receiver (127.0.0.1, free port) that records the JSON bodies POSTed to it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
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


@contextmanager
def threaded_receiver() -> Iterator[Receiver]:
    """``http_receiver`` on its own event loop in a thread (for tests driving a proxy synchronously)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    async def main() -> None:
        async with http_receiver() as rec:
            holder["rec"], holder["stop"] = rec, asyncio.Event()
            ready.set()
            await holder["stop"].wait()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(10), "receiver did not start"
    try:
        yield holder["rec"]
    finally:
        loop.call_soon_threadsafe(holder["stop"].set)
        thread.join(10)
        loop.close()
