"""``Ticker``: one background task that awaits ``tick()`` every ``interval_s`` seconds on the running
loop, logging (never raising) what a tick raises, so the next tick retries. The proxy's periodic jobs
use it: background health checks, ``/model/*`` sync, spend-log retention, budget forecasts, shared
throttles.

``start()`` is idempotent (a second call keeps the running task); ``stop()`` cancels the task and waits
for it. ``first_delay_s``: seconds before the first tick (default: tick at once); ``quiet``: a failed
tick logs one warning line instead of the traceback (expected outages such as a shared store down).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["Ticker"]


class Ticker:
    """Runs ``tick`` every ``interval_s`` seconds (see the module docstring); ``name`` names the task
    and the log line of a failed tick."""

    def __init__(
        self,
        name: str,
        interval_s: float,
        tick: Callable[[], Awaitable[Any]],
        *,
        logger: logging.Logger | None = None,
        first_delay_s: float = 0.0,
        quiet: bool = False,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self._tick = tick
        self._log = logger or logging.getLogger("ledgerlm")
        self._first_delay_s = first_delay_s
        self._quiet = quiet
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        """Whether the task is started and not stopped."""
        return self._task is not None

    def start(self) -> None:
        """Start the task on the running loop (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"ledgerlm-{self.name}")

    async def stop(self) -> None:
        """Cancel the task and wait until it ended (no-op when not started)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        if self._first_delay_s:
            await asyncio.sleep(self._first_delay_s)
        while True:
            try:
                await self._tick()
            except Exception as exc:  # the next tick retries; a loop that dies would stop the job silently
                if self._quiet:  # an expected outage (a shared store down): one line, no traceback
                    self._log.warning("%s failed (%s); retrying in %.0f s", self.name, exc, self.interval_s)
                else:
                    self._log.exception("%s failed; retrying in %.0f s", self.name, self.interval_s)
            await asyncio.sleep(self.interval_s)
