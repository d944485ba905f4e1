"""Helpers for the exporter tests: CallRecords and a real local HTTP receiver (aiohttp server).

The receiver is a real server on 127.0.0.1 (free port) that records every request (path, headers, raw
body) and answers with a status the test chooses; it can be stopped (connection refused) and started
again on the same port to simulate a backend outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import uvicorn
from aiohttp import web

from ledgerlm.record import CallRecord


def make_record(**overrides: Any) -> dict[str, Any]:
    """A valid CallRecord JSON dict (a priced OpenAI chat success) with ``overrides`` applied."""
    start = 1_764_400_000.25
    base: dict[str, Any] = {
        "id": f"req-{uuid.uuid4().hex}",
        "call_type": "acompletion",
        "status": "success",
        "requested_model": "gpt-4o-mini",
        "model": "gpt-4o-mini",
        "model_group": "gpt-4o-mini",
        "provider": "openai",
        "start_time": start,
        "end_time": start + 1.5,
        "first_token_time": start + 0.25,
        "latency_s": 1.5,
        "time_to_first_token_s": 0.25,
        "usage": {
            "input_tokens": 1200,
            "output_tokens": 300,
            "total_tokens": 1500,
            "cache_read_tokens": 1000,
            "cache_write_tokens": 0,
            "reasoning_tokens": 120,
        },
        "cost": {
            "total": Decimal("0.000375"),
            "breakdown": {
                "input": Decimal("0.00003"),
                "cache_read": Decimal("0.000075"),
                "output": Decimal("0.00027"),
            },
            "source": "catalog",
            "model_ref": "gpt-4o-mini",
        },
        "response_cost": Decimal("0.000375"),
        "stream": True,
        "request_tags": ["prod", "chatbot"],
        "metadata": {},
        "key_hash": "a" * 64,
        "key_alias": "svc-chat",
        "user_id": "user-1",
        "team_id": "team-a",
        "end_user": "customer-9",
        "finish_reasons": ["stop"],
        "response_id": "chatcmpl-123",
        "response_model": "gpt-4o-mini-2024-07-18",
        "request_params": {"temperature": 0.2, "max_tokens": 512, "top_p": 0.9},
        "messages": [{"role": "user", "content": "secret prompt"}],
        "response": {"choices": [{"message": {"role": "assistant", "content": "secret answer"}}]},
    }
    base.update(overrides)
    return CallRecord.model_validate(base).model_dump(mode="json")


@dataclass
class Captured:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server capturing requests; ``status`` decides each answer (default 200)."""

    requests: list[Captured] = field(default_factory=list)
    status: Callable[[Captured], int] = lambda _req: 200
    response_body: Callable[[Captured], bytes] = lambda _req: b"{}"
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        captured = Captured(request.method, request.path_qs, dict(request.headers), await request.read())
        self.requests.append(captured)
        return web.Response(
            status=self.status(captured), body=self.response_body(captured), content_type="application/json"
        )

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll ``predicate`` until true; fails the test after ``timeout`` seconds (a hang guard only)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", ws="none", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
