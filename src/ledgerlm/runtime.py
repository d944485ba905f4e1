"""``Runtime``: what one user of the engine holds for its calls, instead of process-wide singletons.

A runtime owns:

* ``transport``: how the engine's provider calls are sent (``ledgerlm.transport.Transport``;
  ``AiohttpTransport`` with its own aiohttp sessions, or ``InMemoryTransport`` in tests);
* ``callbacks``: the callback lists its calls use (``CallbackLists``), or ``None`` for the ``ledgerlm``
  package's lists (``ledgerlm.callbacks``, ``ledgerlm.success_callback`` ...: LiteLLM's module
  attributes, read at each call start so both ``append`` and assignment keep working);
* ``workers``: the callback dispatcher and record pipeline its calls' events go through
  (``CallbackWorkers``), or ``None`` for the process-wide ones (flushed at interpreter exit, reset in a
  forked child).

The SDK (``ledgerlm.completion`` ...) uses the lazy ``default_runtime()`` (the default aiohttp
transport, the package's lists, the process-wide workers). Each proxy app builds its own
(``ProxyState.runtime``, with ``CallbackWorkers.own()``) and closes it when the app shuts down
(``await runtime.aclose()``: its sessions closed, its pending callback events drained, its worker
threads stopped), so two apps in one process never share or close each other's sessions or workers.
The engine takes the runtime from ``CallOptions.runtime`` (``None``: the
default). What stays process-wide, and why, is listed in ``docs/architecture.md``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ledgerlm.callbacks.registry import Callback, CallbackLists, current_lists
from ledgerlm.callbacks.workers import CallbackWorkers
from ledgerlm.transport import AiohttpTransport, Transport, default_transport

__all__ = ["Runtime", "default_runtime", "set_default_runtime"]


@dataclass(eq=False, slots=True)
class Runtime:
    """The transport, callback lists and callback workers of a set of calls (see the module docstring)."""

    transport: Transport = field(default_factory=AiohttpTransport)
    callbacks: CallbackLists | None = None
    workers: CallbackWorkers | None = None

    def callback_lists(self) -> dict[str, list[Callback]]:
        """The four lists in effect for a call starting now (by LiteLLM name)."""
        return current_lists() if self.callbacks is None else self.callbacks.as_dict()

    async def aclose(self) -> None:
        """Close what the runtime holds (the running loop's transport session; its own callback workers,
        after draining their pending events for up to 10 s); reusable after."""
        try:
            await self.transport.aclose()
        finally:
            if self.workers is not None:
                await self.workers.aclose()


_default: Runtime | None = None
_lock = threading.Lock()


def default_runtime() -> Runtime:
    """The SDK's runtime, built on first use: the default transport and the package's callback lists."""
    global _default
    if _default is None:
        with _lock:
            if _default is None:
                _default = Runtime(transport=default_transport())
    return _default


def set_default_runtime(runtime: Runtime | None) -> Runtime | None:
    """Make ``runtime`` the default (``None``: rebuilt on next use); returns the previous one (tests)."""
    global _default
    with _lock:
        previous, _default = _default, runtime
    return previous
