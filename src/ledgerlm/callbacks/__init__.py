"""Callbacks: the ``CustomLogger`` base, the global callback lists and the per-call log handle.

INTERFACE CONTRACT (the engine calls this)::

    log = start_call(CallStart(call_type=..., model=..., messages=..., params=..., context=...,
                               stream=..., is_async=..., per_call_callbacks=[...], no_log=...))
    log.pre_api_call()                       # input_callback fns + CustomLogger.log_pre_api_call
    log.stream_chunk(chunk)                  # opt-in per-chunk hooks (cheap no-op when nobody opted in)
    log.success(record, response_obj)        # exactly one of success/failure per call; later calls
    log.failure(record, exception)           #   are ignored (and counted), never raise
    log.add_sink(fn)                         # non-lossy sinks called synchronously with the CallRecord
                                             #   at the terminal event (the proxy's spend spool)

Users register callbacks on the ``ledgerlm`` package: ``ledgerlm.callbacks`` (this package doubles as
LiteLLM's ``callbacks`` list: ``append``, ``extend``, ``remove``, ``clear``, iteration and ``len`` act on
:data:`ledgerlm.callbacks.registry.callbacks`), ``ledgerlm.success_callback``,
``ledgerlm.failure_callback``, ``ledgerlm.input_callback`` (lists from :mod:`.registry`).

Hooks run in :mod:`.dispatcher` (off the response path); :func:`flush` drains them, :func:`stats`
counts them. Payload shapes: :mod:`.payload`; redaction: :mod:`ledgerlm.redaction`.
"""

from __future__ import annotations

import asyncio
import sys
import time
import types
from collections.abc import Iterable, Iterator
from typing import Any, SupportsIndex

from ledgerlm.callbacks import registry
from ledgerlm.callbacks.call_log import CallLog, CallStart, Sink, start_call
from ledgerlm.callbacks.custom_logger import CustomLogger
from ledgerlm.callbacks.dispatcher import CallbackError, DispatcherConfig, all_dispatchers, get_dispatcher
from ledgerlm.callbacks.workers import CallbackWorkers
from ledgerlm.redaction import add_redactor, clear_redactors, remove_redactor

__all__ = [
    "CallLog",
    "CallStart",
    "CallbackError",
    "CustomLogger",
    "DispatcherConfig",
    "Sink",
    "add_redactor",
    "aflush",
    "append",
    "clear",
    "clear_redactors",
    "configure",
    "count",
    "extend",
    "flush",
    "index",
    "insert",
    "pop",
    "remove",
    "remove_redactor",
    "start_call",
    "stats",
]


def flush(timeout: float | None = 5.0, *, workers: CallbackWorkers | None = None) -> bool:
    """Drain everything: wait until every queued callback hook has run (the process-wide dispatcher's
    and every live runtime's, e.g. a proxy app's; only ``workers``' when given), then call
    ``flush(seconds)`` of each registered logger that has one (exporters with their own queues). True
    when all drained within ``timeout`` seconds (``None``: hooks without limit, exporters 30 s each)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    everyone = [get_dispatcher(), *all_dispatchers()]
    dispatchers = [workers.dispatcher] if workers is not None else everyone
    if any(d.on_own_thread() for d in dispatchers):
        return False
    drained = True
    for one in dict.fromkeys(dispatchers):
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        drained = one.flush(remaining) and drained
    dispatcher = dispatchers[0]
    for logger in _flushable_loggers():
        remaining = 30.0 if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            drained = bool(logger.flush(remaining)) and drained
        except Exception as exc:
            dispatcher.record_error(f"{type(logger).__qualname__}.flush", exc)
            drained = False
    return drained


def _flushable_loggers() -> list[Any]:
    """Registered loggers (global lists) whose class defines ``flush(timeout)``, each once."""
    seen: dict[int, Any] = {}
    for entries in [*registry.current_lists().values(), registry.named_loggers()]:
        for entry in tuple(entries):
            if isinstance(entry, CustomLogger) and callable(getattr(type(entry), "flush", None)):
                seen.setdefault(id(entry), entry)
    return list(seen.values())


async def aflush(timeout: float | None = 5.0, *, workers: CallbackWorkers | None = None) -> bool:
    """:func:`flush` for async code: waits in a worker thread, never blocking the caller's loop."""
    return await asyncio.to_thread(lambda: flush(timeout, workers=workers))


def stats() -> dict[str, Any]:
    """Counters: ``enqueued``, ``delivered``, ``errors``, ``dropped``, ``duplicate_terminal``,
    ``abandoned``, ``pending``, ``errors_by_callback``, ``dropped_by_callback``."""
    return get_dispatcher().stats()


def configure(
    *, queue_size: int | None = None, sync_workers: int | None = None, async_concurrency: int | None = None
) -> DispatcherConfig:
    """Change the dispatcher limits (events per callback lane, pool threads, async hooks in flight).

    Takes effect for lanes and pools created afterwards; call it before the first call.
    """
    config = get_dispatcher().config
    if queue_size is not None:
        config.queue_size = queue_size
    if sync_workers is not None:
        config.sync_workers = sync_workers
    if async_concurrency is not None:
        config.async_concurrency = async_concurrency
    return config


# -- the package doubles as LiteLLM's ``callbacks`` list -------------------------------------------------


def append(item: Any) -> None:
    """``ledgerlm.callbacks.append(logger)``: register a callback for every event."""
    registry.callbacks.append(item)


def extend(items: Iterable[Any]) -> None:
    """``ledgerlm.callbacks.extend([...])``."""
    registry.callbacks.extend(items)


def insert(index: SupportsIndex, item: Any) -> None:
    """``ledgerlm.callbacks.insert(i, logger)``."""
    registry.callbacks.insert(index, item)


def remove(item: Any) -> None:
    """``ledgerlm.callbacks.remove(logger)``; raises ``ValueError`` when absent (as ``list.remove``)."""
    registry.callbacks.remove(item)


def pop(index: SupportsIndex = -1) -> Any:
    """``ledgerlm.callbacks.pop()``."""
    return registry.callbacks.pop(index)


def clear() -> None:
    """``ledgerlm.callbacks.clear()``: unregister every callback of the ``callbacks`` list."""
    registry.callbacks.clear()


def index(item: Any) -> int:
    """``ledgerlm.callbacks.index(logger)``."""
    return registry.callbacks.index(item)


def count(item: Any) -> int:
    """``ledgerlm.callbacks.count(logger)``."""
    return registry.callbacks.count(item)


class _CallbacksModule(types.ModuleType):
    """This package, acting also as LiteLLM's ``callbacks`` list: ``len``, iteration, ``in``, indexing
    and ``+=`` act on ``registry.callbacks`` (the list methods are the module functions above)."""

    def __iter__(self) -> Iterator[Any]:
        return iter(tuple(registry.callbacks))

    def __len__(self) -> int:
        return len(registry.callbacks)

    def __bool__(self) -> bool:
        return True  # a module is always true, even with no callbacks registered

    def __contains__(self, item: object) -> bool:
        return item in registry.callbacks

    def __getitem__(self, position: SupportsIndex) -> Any:
        return registry.callbacks[position]

    def __iadd__(self, items: Iterable[Any]) -> _CallbacksModule:
        registry.callbacks.extend(items)
        return self


sys.modules[__name__].__class__ = _CallbacksModule
