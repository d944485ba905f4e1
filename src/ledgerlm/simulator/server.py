"""``Simulator``: the provider simulator as an aiohttp server on its own event-loop thread.

::

    with Simulator(models={"gpt-4o-mini": {"cached_tokens": 5}}) as sim:
        ledgerlm.completion("openai/gpt-4o-mini", msgs, api_base=f"{sim.url}/v1", api_key="sk-test")
        sim.requests[-1].json          # what ledgerlm sent

Usable as a sync or async context manager (``async with Simulator() as sim``); the server always runs
in a background thread with its own loop, so it never competes with the caller's loop. Formats are
route modules (``simulator/openai.py`` today; Anthropic, Gemini and Bedrock modules add their routes
to ``ROUTE_MODULES``).
"""

from __future__ import annotations

import asyncio
import importlib
import itertools
import threading
from typing import Any

from aiohttp import web

from ledgerlm.simulator.state import SimRequest, SimState

__all__ = ["ROUTE_MODULES", "Simulator", "build_app"]

_request_ids = itertools.count(1)

ROUTE_MODULES: list[str] = [
    "ledgerlm.simulator.openai",
    "ledgerlm.simulator.openai_responses",
    "ledgerlm.simulator.openai_media",
    "ledgerlm.simulator.sagemaker",
    "ledgerlm.simulator.anthropic",
    "ledgerlm.simulator.gemini",
    "ledgerlm.simulator.bedrock",
    "ledgerlm.simulator.admin_reports",
]
"""Modules exposing ``routes(state) -> list[web.RouteDef]``; each adds one provider format."""


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Every response carries ``x-request-id`` like the real APIs (``req_sim_<n>``)."""
    response.headers.setdefault("x-request-id", f"req_sim_{next(_request_ids)}")


def build_app(state: SimState) -> web.Application:
    """The aiohttp application with every format's routes bound to ``state``."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.on_response_prepare.append(_add_request_id)
    for name in ROUTE_MODULES:
        app.add_routes(importlib.import_module(name).routes(state))
    return app


async def _shutdown(runner: web.AppRunner) -> None:
    """Stop listening, then cancel the handlers still running (stalls, long latencies)."""
    await runner.cleanup()
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Simulator:
    """A running simulator. ``url`` is ``http://HOST:PORT`` (no path); ``requests`` lists what it
    received (``SimRequest``); ``models`` maps a model (Azure: deployment) name to its knobs."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, models: dict[str, dict[str, Any]] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.state = SimState(models=dict(models or {}))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``; OpenAI base is ``url + "/v1"``."""
        if self._runner is None:
            raise RuntimeError("the simulator is not running; use start() or 'with Simulator() as sim'")
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[SimRequest]:
        """Requests received so far, oldest first."""
        return self.state.requests

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        """Per-model knobs (mutable while running)."""
        return self.state.models

    def reset(self) -> None:
        """Forget received requests, ``fail_times`` counters and billed calls."""
        self.state.requests.clear()
        self.state.fail_counts.clear()
        self.state.billing.sums.clear()

    def start(self) -> Simulator:
        """Start the server thread and wait until it listens (raises what the start raised)."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve())
            except BaseException as exc:  # reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="ledgerlm-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            loop.close()
            self._thread = None
            raise failure[0]
        return self

    async def _serve(self) -> None:
        runner = web.AppRunner(
            build_app(self.state), access_log=None, handle_signals=False, shutdown_timeout=0.5
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, backlog=1024)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self._runner = runner

    def stop(self) -> None:
        """Stop the server and its thread (open stalls are released)."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        self.state.closing = True
        if runner is not None:
            asyncio.run_coroutine_threadsafe(_shutdown(runner), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None
        self._runner = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Simulator:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)
