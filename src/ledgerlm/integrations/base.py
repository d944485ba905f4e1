"""``BatchingExporter``: the queue, batching, retry and overflow machinery every exporter shares.

Flow of one event::

    hook (dispatcher loop) -> enqueue: dedupe by record id, filter content, append to a bounded deque
                                       (queue full: spill to the disk spool, or drop when there is none)
    worker thread (own asyncio loop, own aiohttp session):
        every ``flush_interval_s`` or ``batch_size`` events:
            replay the disk spool oldest first (one attempt per segment while the backend is down)
            send the queue in batches: retries with exponential backoff on 429 / 5xx / timeouts /
            connection errors; a batch that still fails goes to the spool (or is dropped without one)

The caller never waits on the network: ``enqueue`` is an append plus, at most, a wake-up of the worker
(or a single JSON-lines append when the queue is full). The backend runs on its own thread and loop, so
a backend that hangs or answers 500 forever cannot slow the caller's loop.

Each event is sent once: records are deduplicated by id at enqueue, a spooled segment is deleted only
after the backend accepted it, and each batch carries a stable idempotency key (``batch_key``) so a
resend after a lost response can be deduplicated by the backend.

Counters (``stats()``): ``enqueued``, ``sent``, ``retried`` (retry attempts), ``spilled`` (events
written to disk), ``replayed`` (events sent from disk), ``dropped`` (lost: queue and spool full, or
rejected by the backend with a 4xx), ``rejected`` (single items a backend refused inside an accepted
batch, e.g. Langfuse's 207 errors), ``duplicates`` (ignored re-deliveries), ``errors`` (exporter bugs).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import logging
import random
import threading
import time
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import aiohttp

from ledgerlm.custom_logger import CustomLogger
from ledgerlm.exit_order import flush_producers
from ledgerlm.integrations.events import record_from_kwargs, to_export_dict
from ledgerlm.integrations.settings import BatchSettings
from ledgerlm.integrations.spool import DiskSpool
from ledgerlm.record import CallRecord, RecordEvent

__all__ = ["BatchingExporter", "PermanentSendError", "RetryableSendError", "live_exporters"]

log = logging.getLogger("ledgerlm.integrations")

_DEDUPE_WINDOW = 10_000
_COUNTERS = (
    "enqueued",
    "sent",
    "retried",
    "spilled",
    "replayed",
    "dropped",
    "rejected",
    "duplicates",
    "errors",
)


class RetryableSendError(Exception):
    """The backend may accept the batch later (408, 429, 5xx, timeout, connection error).

    ``retry_after``: seconds the backend asked to wait (``Retry-After``), or ``None``.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """The backend rejected the batch for good (4xx other than 429); its events are dropped."""


_LIVE: weakref.WeakSet[BatchingExporter] = weakref.WeakSet()


def live_exporters() -> list[BatchingExporter]:
    """Exporters whose worker thread has started (for metrics about the exporters themselves)."""
    return list(_LIVE)


def _register_exit(fn: Callable[[], None]) -> None:
    """Run ``fn`` at interpreter exit BEFORE thread pools shut down (``threading._register_atexit``, the
    hook ``concurrent.futures`` uses), so the final flush can still resolve host names; falls back to
    ``atexit`` when that hook is missing or closed."""
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        try:
            register(fn)
            return
        except RuntimeError:
            pass
    atexit.register(fn)


def _close_at_exit(ref: weakref.ReferenceType[BatchingExporter]) -> None:
    """At interpreter exit: let the callback dispatcher hand over its last events (its own exit flush
    runs after this one), then flush what is queued (one attempt, the rest to the spool)."""
    exporter = ref()
    if exporter is None:
        return
    flush_producers(5.0)
    exporter.close(timeout=5.0)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class BatchingExporter(CustomLogger):
    """Base of the batching exporters. Subclasses implement ``send_batch`` (and may override ``accepts``).

    Lifecycle: the worker thread starts on the first ``enqueue``; ``flush()`` sends what is queued now;
    ``close()`` flushes (one attempt, the rest to the spool) and stops the thread. ``aflush``/``aclose``
    are the awaitable forms for async callers.
    """

    name: ClassVar[str] = "batching"

    def __init__(self, settings: BatchSettings | None = None) -> None:
        self.settings = settings or BatchSettings()
        self.counters: dict[str, int] = dict.fromkeys(_COUNTERS, 0)
        self.session: aiohttp.ClientSession | None = None
        self._queue: deque[dict[str, Any]] = deque()
        self._spool: DiskSpool | None = None
        if self.settings.spool_dir is not None:
            self._spool = DiskSpool(
                self.settings.spool_dir / self.name,
                max_bytes=self.settings.max_spool_bytes,
                segment_events=self.settings.batch_size,
            )
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._send_lock: asyncio.Lock | None = None
        self._closing = False
        self._down_until = 0.0
        self._probe_delay = self.settings.backoff_initial_s

    # -- to implement ------------------------------------------------------------------------------

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """Deliver ``events`` (CallRecord JSON dicts) to the backend.

        Raises ``RetryableSendError`` / ``PermanentSendError`` (or aiohttp / OS errors, retried).
        """
        raise NotImplementedError

    def accepts(self, event: Mapping[str, Any]) -> bool:
        """Whether this exporter ships ``event`` (e.g. failures only). Default: every event."""
        return True

    def observe(self, event: Mapping[str, Any]) -> None:
        """Called on the caller's thread for each accepted event (cheap, in-memory work only:
        metrics). Exceptions are counted in ``errors`` and never reach the caller."""

    async def on_stop(self) -> None:
        """Called on the worker loop after the last flush (release backend resources)."""

    # -- callback hooks ----------------------------------------------------------------------------

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Forward ``kwargs["standard_logging_object"]`` to ``enqueue``."""
        self._enqueue_kwargs(kwargs)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Forward ``kwargs["standard_logging_object"]`` to ``enqueue``."""
        self._enqueue_kwargs(kwargs)

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Sync form of the hook (deduplicated with the async one by record id)."""
        self._enqueue_kwargs(kwargs)

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """Sync form of the hook (deduplicated with the async one by record id)."""
        self._enqueue_kwargs(kwargs)

    def consume_records(self, events: Sequence[RecordEvent]) -> None:
        """The record stage (``ledgerlm.callbacks.pipeline``): each call's ``CallRecord`` straight to
        :meth:`enqueue`, no LiteLLM ``kwargs`` in between (content filled in only when this exporter logs
        content). Runs on the pipeline thread; never waits on the network."""
        content = self.settings.content_logging
        for event in events:
            self.enqueue(event.with_content() if content else event.record)

    def _enqueue_kwargs(self, kwargs: Mapping[str, Any]) -> None:
        record = record_from_kwargs(kwargs)
        if record is not None:
            self.enqueue(record)

    # -- enqueue (caller side) ---------------------------------------------------------------------

    def enqueue(self, record: CallRecord | Mapping[str, Any]) -> bool:
        """Queue one call for export; never waits on the network. Returns False when not queued
        (duplicate, filtered out, or dropped because queue and spool are full)."""
        event = to_export_dict(record, content_logging=self.settings.content_logging)
        if not self.accepts(event) or self._is_duplicate(event.get("id")):
            return False
        try:
            self.observe(event)
        except Exception:
            self._count("errors")
            log.exception("exporter %s: observe failed", self.name)
        return self.enqueue_event(event)

    def enqueue_event(self, event: dict[str, Any]) -> bool:
        """Queue an already-built JSON event (no filtering, no dedupe); False when dropped."""
        self._count("enqueued")
        self._ensure_started()
        if self._closing or len(self._queue) >= self.settings.max_queue:
            return self._spill([event]) == 1
        self._queue.append(event)
        if len(self._queue) >= self.settings.batch_size:
            self._wake_worker()
        return True

    def _count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to a counter (thread-safe: the caller and the worker both count)."""
        with self._count_lock:
            self.counters[name] += n

    def _is_duplicate(self, record_id: Any) -> bool:
        if not isinstance(record_id, str):
            return False
        with self._lock:
            if record_id in self._seen:
                self._count("duplicates")
                return True
            self._seen[record_id] = None
            if len(self._seen) > _DEDUPE_WINDOW:
                self._seen.popitem(last=False)
        return False

    def _spill(self, events: list[dict[str, Any]]) -> int:
        """Write events to the spool; the ones that do not fit (or no spool) are dropped."""
        written = 0
        if self._spool is not None and events:
            try:
                written = self._spool.append(events)
            except OSError:
                log.exception("exporter %s: spool write failed", self.name)
        self._count("spilled", written)
        if written < len(events):
            self._count("dropped", len(events) - written)
            log.warning("exporter %s: dropped %d events", self.name, len(events) - written)
        return written

    # -- worker thread -----------------------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._thread is not None or self._closing:
            return
        with self._lock:
            if self._thread is not None:
                return
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(
                target=self._thread_main, name=f"ledgerlm-export-{self.name}", daemon=True
            )
            self._thread.start()
            _LIVE.add(self)
            _register_exit(functools.partial(_close_at_exit, weakref.ref(self)))

    def _wake_worker(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._set_wake)

    def _set_wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _thread_main(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()

    async def _main(self) -> None:
        self._wake, self._stop, self._send_lock = asyncio.Event(), asyncio.Event(), asyncio.Lock()
        timeout = aiohttp.ClientTimeout(total=self.settings.request_timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self.session = session
            while not self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.flush_interval_s)
                self._wake.clear()
                await self._pump(force=False, final=False)
            await self._pump(force=True, final=True)
            with contextlib.suppress(Exception):
                await self.on_stop()
            self.session = None

    async def _pump(self, *, force: bool, final: bool) -> None:
        """Replay the spool, then send the queue in batches (never raises)."""
        assert self._send_lock is not None
        async with self._send_lock:
            try:
                if self._spool is not None and not await self._replay_spool(force=force):
                    self._spill(self._take(len(self._queue)))
                    return
                while self._queue:
                    batch = self._take(self.settings.batch_size)
                    if not await self._deliver(batch, attempts=1 if final else None):
                        self._spill(batch)
                        if self._spool is not None:
                            self._spill(self._take(len(self._queue)))
                            self._mark_down()
                            return
            except Exception:
                self._count("errors")
                log.exception("exporter %s: worker error", self.name)

    def _take(self, n: int) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self._queue and len(out) < n:
            out.append(self._queue.popleft())
        return out

    async def _replay_spool(self, *, force: bool) -> bool:
        """Send spooled segments oldest first; True when the spool is empty afterwards."""
        assert self._spool is not None
        while True:
            if not force and time.monotonic() < self._down_until:
                return self._spool.is_empty()
            oldest = self._spool.oldest()  # small file read on the exporter's own loop
            if oldest is None:
                return True
            path, events = oldest
            if events and not await self._deliver(events, attempts=1, replay=True):
                self._mark_down()
                return False
            self._spool.remove(path)
            self._probe_delay = self.settings.backoff_initial_s
            self._down_until = 0.0

    def _mark_down(self) -> None:
        """Back off before probing the backend again (doubling, capped at ``backoff_max_s``)."""
        self._down_until = time.monotonic() + self._probe_delay
        self._probe_delay = min(self.settings.backoff_max_s, self._probe_delay * 2)

    async def _deliver(
        self, batch: list[dict[str, Any]], *, attempts: int | None = None, replay: bool = False
    ) -> bool:
        """Send one batch with retries; True when done (sent, or permanently rejected)."""
        tries = attempts if attempts is not None else self.settings.max_retries + 1
        for attempt in range(tries):
            try:
                await self.send_batch(batch)
            except PermanentSendError as exc:
                self._count("dropped", len(batch))
                log.warning("exporter %s: backend rejected %d events: %s", self.name, len(batch), exc)
                return True
            except (RetryableSendError, aiohttp.ClientError, TimeoutError, OSError) as exc:
                if attempt + 1 >= tries or self._closing:
                    log.warning("exporter %s: send failed: %r", self.name, exc)
                    return False
                self._count("retried")
                await self._sleep(self._backoff(attempt, getattr(exc, "retry_after", None)))
                continue
            except Exception:  # an exporter bug or a broken runtime: keep the events (spool)
                self._count("errors")
                log.exception("exporter %s: send_batch raised", self.name)
                return False
            self._count("sent", len(batch))
            if replay:
                self._count("replayed", len(batch))
            return True
        return False

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        base = min(self.settings.backoff_max_s, self.settings.backoff_initial_s * float(2**attempt))
        delay = base * (0.5 + random.random() / 2)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(delay, self.settings.backoff_max_s)

    async def _sleep(self, seconds: float) -> None:
        assert self._stop is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    # -- HTTP helper -------------------------------------------------------------------------------

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, bytes]:
        """POST ``body``; returns ``(status, response body)`` for 2xx/3xx.

        Raises ``RetryableSendError`` on 408/429/5xx, ``PermanentSendError`` on other 4xx; aiohttp and
        timeout errors propagate (the caller retries them).
        """
        assert self.session is not None, "post() runs on the worker loop"
        async with self.session.post(url, data=body, headers=dict(headers)) as resp:
            payload = await resp.read()
            status = resp.status
            retry_after = _retry_after(resp.headers.get("Retry-After"))
        if status in (408, 429) or status >= 500:
            raise RetryableSendError(f"HTTP {status}", retry_after)
        if status >= 400:
            raise PermanentSendError(f"HTTP {status}: {payload[:200]!r}")
        return status, payload

    # -- control -----------------------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters plus ``queued`` (events in memory) and ``spool_bytes`` (bytes on disk)."""
        out = dict(self.counters)
        out["queued"] = len(self._queue)
        out["spool_bytes"] = self._spool.size_bytes if self._spool is not None else 0
        return out

    def flush(self, timeout: float = 30.0) -> bool:
        """Send what is queued and spooled now (probing a backend marked down).

        Blocks the calling thread up to ``timeout`` seconds; True when queue and spool are empty.
        """
        loop = self._loop
        if loop is None or self._thread is None or not self._thread.is_alive():
            return not self._queue
        future = asyncio.run_coroutine_threadsafe(self._pump(force=True, final=False), loop)
        with contextlib.suppress(TimeoutError):
            future.result(timeout)
        return not self._queue and (self._spool is None or self._spool.is_empty())

    async def aflush(self, timeout: float = 30.0) -> bool:
        """Awaitable ``flush`` (runs it in a thread)."""
        return await asyncio.to_thread(self.flush, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush (one attempt per batch; the rest goes to the spool) and stop the worker thread."""
        self._closing = True
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._signal_stop)
        thread.join(timeout)

    def _signal_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        self._set_wake()

    async def aclose(self, timeout: float = 30.0) -> None:
        """Awaitable ``close`` (runs it in a thread)."""
        await asyncio.to_thread(self.close, timeout)
