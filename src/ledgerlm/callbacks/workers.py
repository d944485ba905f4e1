"""``CallbackWorkers``: the callback dispatcher and the record pipeline that one runtime's calls use.

``CallbackWorkers.own()`` builds a pair of its own (a proxy app's: ``ProxyState.runtime.workers``); the
threads start lazily on the first event and :meth:`CallbackWorkers.aclose` drains and stops them at the
app's shutdown, so two apps in one process share no worker thread or queue. A runtime without workers
(``Runtime.workers is None``, the SDK's default runtime) uses the process-wide pair
(``get_dispatcher()`` / ``get_pipeline()``), flushed at interpreter exit and reset in a forked child.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ledgerlm.callbacks.dispatcher import Dispatcher, DispatcherConfig, own_dispatcher
from ledgerlm.callbacks.pipeline import RecordPipeline

__all__ = ["CallbackWorkers"]


@dataclass(frozen=True, eq=False, slots=True)
class CallbackWorkers:
    """A dispatcher (user hooks: lanes, pool threads, an event loop thread) and the record pipeline
    that counts its pending records on that dispatcher."""

    dispatcher: Dispatcher
    pipeline: RecordPipeline

    @classmethod
    def own(cls, config: DispatcherConfig | None = None) -> CallbackWorkers:
        """A new pair (``config``: the limits; default a copy of the process-wide dispatcher's)."""
        dispatcher = own_dispatcher(config)
        return cls(dispatcher, RecordPipeline(dispatcher))

    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until every accepted event has run (``timeout`` seconds); True when drained."""
        return self.dispatcher.flush(timeout)

    def close(self, timeout: float | None = 10.0) -> bool:
        """Drain (``timeout`` seconds), then stop the pipeline and dispatcher threads; True when drained.
        Reusable: a later event starts the threads again."""
        drained = self.dispatcher.flush(timeout)
        self.pipeline.stop()
        return self.dispatcher.close(0.0) and drained

    async def aflush(self, timeout: float | None = 5.0) -> bool:
        """:meth:`flush` from async code (waits in a worker thread, never blocking the loop)."""
        return await asyncio.to_thread(self.flush, timeout)

    async def aclose(self, timeout: float | None = 10.0) -> bool:
        """:meth:`close` from async code (waits in a worker thread, never blocking the loop)."""
        return await asyncio.to_thread(self.close, timeout)
