"""The sync bridge: run async code from sync code on ONE background event-loop thread.

``run_sync(coro)`` / ``iterate_sync(agen)`` / ``submit(fn)``: the thread (daemon) starts lazily; sync
calls share that loop and so its session of the default transport. At interpreter exit the session is
closed and the loop stopped (``atexit``).
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

from ledgerlm.transport.http import default_transport

__all__ = ["iterate_sync", "run_sync", "submit"]

T = TypeVar("T")

_bridge_lock = threading.Lock()
_bridge: tuple[asyncio.AbstractEventLoop, threading.Thread] | None = None
_bridge_stopped = False


def _bridge_loop() -> asyncio.AbstractEventLoop:
    global _bridge
    if _bridge is not None:
        return _bridge[0]
    if _bridge_stopped:
        raise RuntimeError("ledgerlm's sync bridge is stopped (interpreter exit)")
    with _bridge_lock:
        if _bridge is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="ledgerlm-sync-bridge", daemon=True)
            thread.start()
            _bridge = (loop, thread)
            atexit.register(_stop_bridge)
        return _bridge[0]


def _stop_bridge() -> None:
    global _bridge, _bridge_stopped
    _bridge_stopped = True
    if _bridge is None:
        return
    loop, thread = _bridge
    _bridge = None
    try:
        asyncio.run_coroutine_threadsafe(default_transport().aclose(), loop).result(timeout=5)
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(timeout=5)
    except Exception:  # best effort at interpreter exit
        pass
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)
    if not thread.is_alive():
        loop.close()


def stopped() -> bool:
    """True once the bridge stopped (interpreter exit)."""
    return _bridge_stopped


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the bridge loop and wait for its result (re-raising its exception)."""
    loop = _bridge_loop()
    if _bridge is not None and threading.current_thread() is _bridge[1]:
        coro.close()
        raise RuntimeError("ledgerlm sync calls cannot be made from the sync-bridge thread itself")
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()  # e.g. KeyboardInterrupt in the caller: stop the call too (no-op when done)
        raise


def submit(awaitable: Callable[[], Awaitable[T]]) -> T:
    """Run ``awaitable()`` on the bridge loop (helper for bound async methods)."""

    async def _run() -> T:
        return await awaitable()

    return run_sync(_run())


def iterate_sync(
    agen: AsyncIterator[T], *, aclose: Callable[[], Awaitable[None]] | None = None
) -> Iterator[T]:
    """Iterate an async iterator living on the bridge loop from sync code, one item per hop.

    Closing the returned generator early runs ``aclose`` (or the iterator's own ``aclose``) there.
    """
    finished = False
    try:
        while True:
            try:
                item = submit(agen.__anext__)
            except StopAsyncIteration:
                finished = True
                return
            yield item
    finally:
        if not finished:
            closer = aclose or getattr(agen, "aclose", None)
            if closer is not None and not _bridge_stopped:
                submit(closer)
