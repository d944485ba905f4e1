"""The dispatcher: runs callback hooks off the response path, isolated from each other.

Model (an actor per callback, after structlog's chain of small callables and the actor pattern)::

    caller thread --submit(job)--> Lane(callback, sync|async): bounded deque, FIFO
        sync lane  --> one worker thread of a bounded pool at a time (hooks of one callback run in order)
        async lane --> worker task on the dispatcher's OWN event loop (a daemon thread), at most
                       ``async_concurrency`` hooks of one callback in flight

The caller only takes a lock and appends to a deque (plus, when the lane was idle, one wake-up). A
hook that raises is logged and counted; one that hangs holds its own lane (and one pool thread, for a
sync hook) while every other callback keeps running. A full lane drops the event for that callback
only, counted in :meth:`Dispatcher.stats` and logged as a warning. :meth:`Dispatcher.flush` waits until
every accepted job has run; the first start registers a flush at interpreter exit.

The SDK's calls use the process-wide dispatcher (:func:`get_dispatcher`); a runtime of its own (each
proxy app's) has one from :func:`own_dispatcher`, stopped with :meth:`Dispatcher.close` when the app shuts
down. The interpreter-exit flush drains every live one; a forked child starts with none.
"""

from __future__ import annotations

import asyncio
import atexit
import collections
import dataclasses
import logging
import os
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledgerlm.callbacks.pool import ThreadPool
from ledgerlm.exit_order import add_producer

__all__ = [
    "CallbackError",
    "Dispatcher",
    "DispatcherConfig",
    "all_dispatchers",
    "get_dispatcher",
    "own_dispatcher",
]

logger = logging.getLogger("ledgerlm.callbacks")

DROP_WARN_INTERVAL_S = 10.0
"""Seconds between two queue-full warnings for the same callback."""


@dataclass
class DispatcherConfig:
    """Limits: ``queue_size`` events pending per callback lane, ``sync_workers`` threads in the pool,
    ``async_concurrency`` hooks of one async callback in flight, ``exit_flush_timeout`` seconds."""

    queue_size: int = 1000
    sync_workers: int = 8
    async_concurrency: int = 32
    exit_flush_timeout: float = 5.0


@dataclass(frozen=True)
class CallbackError:
    """One error raised by a hook: ``seq`` (1-based count), ``label`` (``Class.hook``), the text."""

    seq: int
    label: str
    error: str
    traceback: str


class _Lane:
    """Pending jobs of one callback in one mode (sync or async)."""

    __slots__ = ("active", "is_async", "items", "key", "label", "scheduled", "semaphore", "target")

    def __init__(self, key: tuple[int, bool], target: object, label: str, is_async: bool) -> None:
        self.key = key
        self.target = target  # keeps id(target) stable while the lane exists
        self.label = label
        self.is_async = is_async
        self.items: collections.deque[tuple[str, Callable[[], Any]]] = collections.deque()
        self.scheduled = False
        self.active = 0
        self.semaphore: asyncio.Semaphore | None = None


class Dispatcher:
    """Runs jobs per callback lane (see the module docstring). Thread-safe; started lazily."""

    def __init__(self, config: DispatcherConfig | None = None) -> None:
        self.config = config or DispatcherConfig()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._lanes: dict[tuple[int, bool], _Lane] = {}
        self._outstanding = 0
        self._counts: collections.Counter[str] = collections.Counter()
        self._errors_by: collections.Counter[str] = collections.Counter()
        self._drops_by: collections.Counter[str] = collections.Counter()
        self._recent: collections.deque[CallbackError] = collections.deque(maxlen=200)
        self._pool: ThreadPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_drop_warning: dict[str, float] = {}
        self._flush_hooks: list[Callable[[], None]] = []
        self._stage_threads: list[threading.Thread] = []
        self._held = False

    # -- submission (caller side: cheap) -------------------------------------------------------
    def submit(
        self, target: object, label: str, job: Callable[[], Any], *, is_async: bool, bulk: bool = False
    ) -> bool:
        """Queue ``job`` on ``target``'s lane; returns False when the lane is full (event dropped).

        ``label`` names the hook (``MyLogger.log_success_event``); an async ``job`` returns an
        awaitable run on the dispatcher loop, a sync one runs in the pool. ``bulk`` jobs (per-chunk
        events) may fill only half the lane, so a flood of chunks never crowds out a terminal event.
        """
        key = (id(target), is_async)
        limit = self.config.queue_size // 2 if bulk else self.config.queue_size
        with self._lock:
            lane = self._lanes.get(key)
            if lane is None:
                lane = self._lanes[key] = _Lane(key, target, _target_label(target), is_async)
            if len(lane.items) >= limit:
                dropped = self._count_drop(lane.label)
            else:
                dropped = 0
                lane.items.append((label, job))
                self._outstanding += 1
                self._counts["enqueued"] += 1
                wake = not lane.scheduled
                lane.scheduled = True
        if dropped:
            self._warn_drop(lane.label, dropped)
            return False
        return self._schedule(lane) if wake else True

    def hold(self, n: int) -> None:
        """``n`` jobs accepted by a stage outside the lanes (the record pipeline): counted as enqueued
        and pending until :meth:`release`, so :meth:`flush` and ``stats()["pending"]`` see them."""
        if not self._held:
            with _START_LOCK:
                _register_exit_flush()
            self._held = True
        with self._lock:
            self._outstanding += n
            self._counts["enqueued"] += n

    def release(self, n: int) -> None:
        """``n`` jobs of :meth:`hold` have run (delivered)."""
        with self._lock:
            for _ in range(n):
                self._job_done()

    def count_drop(self, label: str) -> None:
        """One event dropped for ``label`` outside the lanes (counted and warned about like a full lane)."""
        with self._lock:
            dropped = self._count_drop(label)
        self._warn_drop(label, dropped)

    def add_flush_hook(self, hook: Callable[[], None]) -> None:
        """``hook()`` is called when :meth:`flush` starts waiting (a stage cuts its linger short)."""
        self._flush_hooks.append(hook)

    def add_stage_thread(self, thread: threading.Thread) -> None:
        """A stage's own thread: :meth:`flush` called from it returns False at once (no deadlock)."""
        self._stage_threads.append(thread)

    def remove_stage_thread(self, thread: threading.Thread) -> None:
        """Forget a stage thread that has stopped."""
        if thread in self._stage_threads:
            self._stage_threads.remove(thread)

    def close(self, timeout: float | None = 5.0) -> bool:
        """Flush (``timeout`` seconds), then stop the pool and loop threads (a runtime's own dispatcher, at
        its app's shutdown); True when drained. A later :meth:`submit` starts them afresh."""
        drained = self.flush(timeout)
        with _START_LOCK:
            pool, loop, thread = self._pool, self._loop, self._loop_thread
            self._pool, self._loop, self._loop_thread = None, None, None
        if pool is not None:
            pool.shutdown()
        if loop is not None and thread is not None:
            self._stop_loop(loop, thread)
        return drained

    def _stop_loop(self, loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
        """Let the async lanes retire (their linger; 1 s at most: a hung hook is left), stop the loop."""
        settle = asyncio.run_coroutine_threadsafe(self._settle(), loop)
        try:
            settle.result(1.0)
        except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError (Python 3.11)
            settle.cancel()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(1.0)
        if not thread.is_alive():
            loop.close()

    async def _settle(self) -> None:
        """Wait for the loop's lane and job tasks to end (on the dispatcher loop)."""
        while self._tasks:
            await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name`` (e.g. ``duplicate_terminal``, ``abandoned``)."""
        with self._lock:
            self._counts[name] += n

    def record_error(self, label: str, exc: BaseException) -> None:
        """Count and log an error raised by ``label`` (a hook or a sink); never raises."""
        text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self._lock:
            self._counts["errors"] += 1
            self._errors_by[label] += 1
            self._recent.append(CallbackError(self._counts["errors"], label, text, tb))
        logger.error("callback %s raised %s", label, text, exc_info=exc)

    def _warn_drop(self, label: str, dropped: int) -> None:
        """Warn on the first drop of a callback, then at most every ``DROP_WARN_INTERVAL_S`` seconds."""
        now = time.monotonic()
        if now - self._last_drop_warning.get(label, -DROP_WARN_INTERVAL_S) >= DROP_WARN_INTERVAL_S:
            self._last_drop_warning[label] = now
            logger.warning(
                "callback %s: queue full (%d pending), %d event(s) dropped so far",
                label,
                self.config.queue_size,
                dropped,
            )

    def _count_drop(self, label: str) -> int:
        self._counts["dropped"] += 1
        self._drops_by[label] += 1
        return self._drops_by[label]

    def _schedule(self, lane: _Lane) -> bool:
        """Start the lane's worker; when that is impossible (interpreter shutdown: no new threads, a
        closed loop) the lane's jobs are dropped and counted, never raised to the caller."""
        try:
            if lane.is_async:
                loop = self._ensure_loop()
                loop.call_soon_threadsafe(self._start_async_lane, lane)
            else:
                self._ensure_pool().submit(lambda: self._run_sync_lane(lane))
            return True
        except RuntimeError as exc:
            with self._lock:
                lost = len(lane.items)
                lane.items.clear()
                lane.scheduled = False
                self._retire(lane)
                for _ in range(lost):
                    self._count_drop(lane.label)
                    self._outstanding -= 1
                if self._outstanding == 0:
                    self._idle.notify_all()
            logger.warning("callback %s: %d event(s) dropped: %s", lane.label, lost, exc)
            return False

    # -- sync lanes ----------------------------------------------------------------------------
    def _run_sync_lane(self, lane: _Lane) -> None:
        with self._lock:
            job = self._next_job(lane)
        while job is not None:
            label, fn = job
            job = None
            try:
                result = fn()
                if asyncio.iscoroutine(result):
                    result.close()
                    raise TypeError(f"{label} returned a coroutine; register it as an async callback")
            except BaseException as exc:
                self.record_error(label, exc)
            del fn  # drop the job (and the callback it holds) before reporting it done
            with self._lock:
                self._job_done()
                job = self._next_job(lane)

    def _next_job(self, lane: _Lane) -> tuple[str, Callable[[], Any]] | None:
        """The lane's next job, or None after marking the lane idle (lock held)."""
        if lane.items:
            return lane.items.popleft()
        lane.scheduled = False
        self._retire(lane)
        return None

    # -- async lanes ---------------------------------------------------------------------------
    def _start_async_lane(self, lane: _Lane) -> None:
        task = asyncio.get_running_loop().create_task(self._run_async_lane(lane))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_async_lane(self, lane: _Lane) -> None:
        if lane.semaphore is None:
            lane.semaphore = asyncio.Semaphore(self.config.async_concurrency)
        while True:
            await lane.semaphore.acquire()
            with self._lock:
                job = lane.items.popleft() if lane.items else None
            if job is None:
                # (performance, issue 9) Linger before retiring the lane: events submitted meanwhile find
                # it scheduled and need no cross-thread wake-up (one call_soon_threadsafe per event was
                # the main cost of a cheap async callback). flush() waits for jobs, not lanes.
                await asyncio.sleep(LANE_LINGER_S)
            with self._lock:
                if job is None:
                    job = self._next_job(lane)
                    if job is None:
                        lane.semaphore.release()
                        return
                lane.active += 1
            task = asyncio.get_running_loop().create_task(self._run_async_job(lane, *job))
            del job
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run_async_job(self, lane: _Lane, label: str, job: Callable[[], Any]) -> None:
        try:
            await job()
        except BaseException as exc:
            self.record_error(label, exc)
        finally:
            del job
            assert lane.semaphore is not None
            lane.semaphore.release()
            with self._lock:
                lane.active -= 1
                self._retire(lane)
                self._job_done()

    # -- bookkeeping ---------------------------------------------------------------------------
    def _retire(self, lane: _Lane) -> None:
        """Forget an idle lane (lock held), so per-call callbacks do not pile up lanes."""
        if not lane.items and not lane.scheduled and lane.active == 0 and self._lanes.get(lane.key) is lane:
            del self._lanes[lane.key]

    def _job_done(self) -> None:
        """One accepted job has run (lock held): wake :meth:`flush` when none is left."""
        self._outstanding -= 1
        self._counts["delivered"] += 1
        if self._outstanding == 0:
            self._idle.notify_all()

    # -- flush and stats -----------------------------------------------------------------------
    def flush(self, timeout: float | None = 5.0) -> bool:
        """Wait until every accepted job has run; True when drained, False on timeout (seconds).

        Called from a callback (the dispatcher's own threads) it returns False at once.
        """
        if self.on_own_thread():
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        for hook in tuple(self._flush_hooks):
            hook()
        with self._idle:
            while self._outstanding > 0:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stats(self) -> dict[str, Any]:
        """Counters: ``enqueued``, ``delivered``, ``errors``, ``dropped``, ``duplicate_terminal``,
        ``abandoned``, ``pending``; ``errors_by_callback`` / ``dropped_by_callback`` keyed by label."""
        with self._lock:
            out: dict[str, Any] = {
                name: self._counts[name]
                for name in ("enqueued", "delivered", "errors", "dropped", "duplicate_terminal", "abandoned")
            }
            out["pending"] = self._outstanding
            out["errors_by_callback"] = dict(self._errors_by)
            out["dropped_by_callback"] = dict(self._drops_by)
        return out

    def errors_since(self, seq: int) -> list[CallbackError]:
        """The recorded errors with ``seq`` greater than ``seq`` (the last 200 are kept)."""
        with self._lock:
            return [err for err in self._recent if err.seq > seq]

    @property
    def started(self) -> bool:
        """True once a thread or the loop has been started."""
        return self._pool is not None or self._loop is not None or self._held

    # -- lazy start ----------------------------------------------------------------------------
    def on_own_thread(self) -> bool:
        """True when called from a dispatcher thread (a hook), where waiting would deadlock."""
        current = threading.current_thread()
        if current is self._loop_thread or current in self._stage_threads:
            return True
        return self._pool is not None and self._pool.owns_current_thread()

    def _ensure_pool(self) -> ThreadPool:
        if self._pool is None:
            with _START_LOCK:
                if self._pool is None:
                    _register_exit_flush()
                    self._pool = ThreadPool(self.config.sync_workers)
        return self._pool

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            with _START_LOCK:
                if self._loop is None:
                    _register_exit_flush()
                    loop = asyncio.new_event_loop()
                    thread = threading.Thread(
                        target=_serve, args=(loop,), name="ledgerlm-callbacks-loop", daemon=True
                    )
                    thread.start()
                    self._loop_thread = thread
                    self._loop = loop
        return self._loop


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    loop.run_forever()


def _target_label(target: object) -> str:
    name = getattr(target, "__qualname__", None)
    return str(name) if name else type(target).__qualname__


LANE_LINGER_S = 0.02
"""Seconds an idle async lane waits for more events before it retires (batches wake-ups)."""
_START_LOCK = threading.Lock()
_dispatcher: Dispatcher | None = None
_live: weakref.WeakSet[Dispatcher] = weakref.WeakSet()
_exit_registered = False


def get_dispatcher() -> Dispatcher:
    """The process-wide dispatcher (created on first use; recreated in a forked child)."""
    global _dispatcher
    if _dispatcher is None:
        with _START_LOCK:
            if _dispatcher is None:
                _dispatcher = Dispatcher()
    return _dispatcher


def own_dispatcher(config: DispatcherConfig | None = None) -> Dispatcher:
    """A runtime's own dispatcher (limits: ``config``, else a copy of the process-wide one's)."""
    if config is None:
        config = dataclasses.replace(get_dispatcher().config)
    dispatcher = Dispatcher(config)
    _live.add(dispatcher)
    return dispatcher


def all_dispatchers() -> list[Dispatcher]:
    """The process-wide dispatcher (when created) and every live runtime's own."""
    found = [] if _dispatcher is None else [_dispatcher]
    return found + [d for d in tuple(_live) if d is not _dispatcher]


def _register_exit_flush() -> None:
    """Register the interpreter-exit flush and the fork reset once (lock held by the caller)."""
    global _exit_registered
    if _exit_registered:
        return
    _exit_registered = True
    atexit.register(_flush_at_exit)
    add_producer(_flush_for_exporters)  # exporters' exit flushes wait for the events still queued here
    os.register_at_fork(after_in_child=_reset_after_fork)


def _flush_for_exporters(timeout_s: float) -> bool:
    """Hand the last queued events to the exporters (``ledgerlm.exit_order``); False when not drained."""
    drained = True
    for dispatcher in all_dispatchers():
        if dispatcher.started and not dispatcher.on_own_thread():
            drained = dispatcher.flush(timeout_s) and drained
    return drained


def _flush_at_exit() -> None:
    for dispatcher in all_dispatchers():
        if dispatcher.started and not dispatcher.flush(dispatcher.config.exit_flush_timeout):
            logger.warning(
                "ledgerlm callbacks: exit flush timed out; %d job(s) lost", dispatcher.stats()["pending"]
            )


def _reset_after_fork() -> None:
    """A forked child has none of the parent's threads: start afresh (pending parent jobs are not ours)."""
    global _dispatcher, _START_LOCK
    _START_LOCK = threading.Lock()
    _dispatcher = None
    _live.clear()
