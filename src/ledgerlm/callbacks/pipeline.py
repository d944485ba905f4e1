"""The typed record pipeline: terminal stages that take ``CallRecord`` values, in batches.

Order of a call's terminal event (``CallLog.success`` / ``CallLog.failure``)::

    sinks            the proxy's spend spool, synchronously, first (non-lossy)
    budget settle    the proxy's lifecycle, awaited on its own loop (``budgets``)
    record stages    metrics (``PrometheusExporter``), then exporters (``BatchingExporter`` and its
                     subclasses): ``consume_records(events)`` with the ``CallRecord`` itself, no LiteLLM
                     ``kwargs`` built for them and none parsed back into a record
    user callbacks   ``CustomLogger`` hooks and plain functions: the LiteLLM-style adapter at the edge
                     (``ledgerlm.callbacks.call_log`` -> the dispatcher's lanes)

The record stages run on one pipeline thread: the caller appends ``(record, consumers)`` to a deque under
a lock and wakes the thread only when it is idle; the thread then lingers ``LINGER_S`` before taking the
next batch, so steady traffic costs one hand-off per batch, not one per call (issue 22). A stage that
raises is counted and logged by the dispatcher (``record_error``) and never reaches the caller; stages
must not block (exporters append to their own queue; metrics update memory). Pending records count in
its dispatcher's ``pending`` (``flush`` waits for them) and in ``enqueued`` / ``delivered``.

The SDK's calls use the process-wide pipeline (:func:`get_pipeline`, on the process-wide dispatcher); a
runtime of its own (each proxy app's) has ``RecordPipeline(its_dispatcher)``, stopped with
:meth:`RecordPipeline.stop` when the app shuts down.
"""

from __future__ import annotations

import collections
import os
import threading
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from ledgerlm.callbacks.dispatcher import Dispatcher, get_dispatcher
from ledgerlm.record import RecordEvent

__all__ = [
    "LINGER_S",
    "MAX_PENDING",
    "RecordConsumer",
    "RecordEvent",
    "RecordPipeline",
    "get_pipeline",
    "is_record_consumer",
]

MAX_PENDING = 10_000
"""Events waiting for the pipeline thread at most; beyond, an event is dropped for its stages (counted in
the dispatcher's ``dropped``): a stage that hangs cannot grow memory without bound."""

LINGER_S = 0.02
"""Seconds the pipeline thread waits after a batch before taking the next one (batches hand-offs)."""

_HOOKS = (
    "log_success_event",
    "async_log_success_event",
    "log_failure_event",
    "async_log_failure_event",
    "log_post_api_call",
    "log_stream_event",
    "async_log_stream_event",
)


@runtime_checkable
class RecordConsumer(Protocol):
    """A record stage: takes a batch of events in call order (on the pipeline thread; must not block)."""

    def consume_records(self, events: Sequence[RecordEvent]) -> None: ...


_CONSUMER_TYPES: dict[type, bool] = {}


def is_record_consumer(target: object) -> bool:
    """True when ``target`` takes records directly: its class defines ``consume_records`` and does not
    override a LiteLLM-style log hook below the class that defines it (such a subclass keeps the hooks)."""
    kind = type(target)
    known = _CONSUMER_TYPES.get(kind)
    if known is None:
        known = _CONSUMER_TYPES[kind] = _consumes(kind)
    return known


def _consumes(kind: type) -> bool:
    owner = next((c for c in kind.__mro__ if "consume_records" in vars(c)), None)
    if owner is None:
        return False
    return all(getattr(kind, name, None) is getattr(owner, name, None) for name in _HOOKS)


def _stage_order(consumer: object) -> int:
    """Metrics (``record_stage = 30``) before exporters (default 40)."""
    return int(getattr(consumer, "record_stage", 40))


class RecordPipeline:
    """The record stages' queue and thread (see the module docstring). Thread-safe; started lazily."""

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        dispatcher.add_flush_hook(self.hurry)
        self._cond = threading.Condition(threading.Lock())
        self._pending: collections.deque[tuple[RecordEvent, tuple[object, ...]]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._idle = False
        self._hurry = False

    def submit(self, event: RecordEvent, consumers: Sequence[object]) -> None:
        """Queue ``event`` for ``consumers`` (record stages); never blocks, never raises."""
        dispatcher = self.dispatcher
        if len(self._pending) >= MAX_PENDING:
            for consumer in consumers:
                dispatcher.count_drop(f"{type(consumer).__qualname__}.consume_records")
            return
        dispatcher.hold(len(consumers))
        with self._cond:
            self._pending.append((event, tuple(consumers)))
            if self._thread is None:
                self._start()
            elif self._idle:
                self._cond.notify()

    def hurry(self) -> None:
        """Cut the linger short (a flush is waiting)."""
        with self._cond:
            self._hurry = True
            self._cond.notify()

    def stop(self, timeout_s: float = 1.0) -> None:
        """Stop the thread once the queue is empty (flush the dispatcher first); a later :meth:`submit`
        starts a new one."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._cond.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            self.dispatcher.remove_stage_thread(thread)

    def _start(self) -> None:
        thread = threading.Thread(target=self._serve, name="ledgerlm-record-pipeline", daemon=True)
        self.dispatcher.add_stage_thread(thread)
        self._thread = thread
        thread.start()

    def _serve(self) -> None:
        me = threading.current_thread()
        while True:
            with self._cond:
                while not self._pending:
                    if self._thread is not me:  # stopped
                        return
                    self._idle = True
                    self._cond.wait()
                self._idle = False
                batch = list(self._pending)
                self._pending.clear()
            run_batch(batch, self.dispatcher)
            with self._cond:
                if not self._hurry:
                    self._cond.wait(LINGER_S)
                self._hurry = False


def run_batch(batch: Sequence[tuple[RecordEvent, tuple[object, ...]]], dispatcher: Dispatcher) -> None:
    """Hand each consumer its events of ``batch`` in call order, stages in order; errors and deliveries
    are counted on ``dispatcher``; never raises."""
    by_consumer: dict[int, tuple[object, list[RecordEvent]]] = {}
    for event, consumers in batch:
        for consumer in consumers:
            by_consumer.setdefault(id(consumer), (consumer, []))[1].append(event)
    for consumer, events in sorted(by_consumer.values(), key=lambda item: _stage_order(item[0])):
        try:
            consumer.consume_records(events)  # type: ignore[attr-defined]
        except Exception as exc:
            dispatcher.record_error(f"{type(consumer).__qualname__}.consume_records", exc)
        finally:
            dispatcher.release(len(events))


_LOCK = threading.Lock()
_pipeline: RecordPipeline | None = None


def get_pipeline() -> RecordPipeline:
    """The process-wide pipeline (created on first use; recreated in a forked child)."""
    global _pipeline
    if _pipeline is None:
        with _LOCK:
            if _pipeline is None:
                global _fork_registered
                if not _fork_registered:
                    _fork_registered = True
                    os.register_at_fork(after_in_child=_reset_after_fork)
                _pipeline = RecordPipeline(get_dispatcher())
    return _pipeline


_fork_registered = False


def _reset_after_fork() -> None:
    """A forked child has none of the parent's threads: start afresh."""
    global _pipeline
    _pipeline = None
