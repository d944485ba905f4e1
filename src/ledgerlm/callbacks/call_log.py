"""``CallLog``: one call's log handle, and :func:`start_call` that opens it.

The engine calls, in order::

    log = start_call(CallStart(call_type=..., model=..., messages=..., params=..., context=...,
                               stream=..., is_async=..., per_call_callbacks=[...], no_log=...))
    log.pre_api_call()              # input events (dispatched, never inline)
    log.stream_chunk(chunk)         # per chunk; a no-op unless a logger overrides a stream hook
    log.success(record, response) | log.failure(record, exc)   # exactly one wins; later ones are
                                                               # counted (duplicate_terminal), ignored

The terminal call runs the sinks added with :meth:`CallLog.add_sink` synchronously (the proxy's spend
spool: non-lossy), then enqueues one job per hook on the call's runtime's workers (``start_call(...,
workers=runtime.workers)``: a proxy app's own dispatcher and record pipeline; ``None``: the process-wide
ones). Nothing else runs on the caller's path; the payload
(``kwargs``, ``standard_logging_object``) is built by the first worker that needs it, once.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledgerlm.callbacks import payload
from ledgerlm.callbacks.assemble import assemble_chat_completion
from ledgerlm.callbacks.custom_logger import CustomLogger, is_async_hook, overrides
from ledgerlm.callbacks.dispatcher import Dispatcher, get_dispatcher
from ledgerlm.callbacks.pipeline import RecordPipeline, get_pipeline, is_record_consumer
from ledgerlm.callbacks.registry import Callback, current_lists, targets_for
from ledgerlm.callbacks.workers import CallbackWorkers
from ledgerlm.record import CallRecord, RecordEvent
from ledgerlm.types import CallContext

__all__ = ["CallLog", "CallStart", "Sink", "start_call"]

Sink = Callable[[CallRecord], None]


class _Event:
    """One event's hook arguments, built once on first use by any worker (thread-safe)."""

    __slots__ = ("_args", "_build", "_lock")

    def __init__(self, build: Callable[[], tuple[dict[str, Any], Any, datetime | None, datetime | None]]):
        self._build = build
        self._lock = threading.Lock()
        self._args: tuple[dict[str, Any], Any, datetime | None, datetime | None] | None = None

    def args(self) -> tuple[dict[str, Any], Any, datetime | None, datetime | None]:
        """``(kwargs copy, response_obj, start_time, end_time)``."""
        if self._args is None:
            with self._lock:
                if self._args is None:
                    self._args = self._build()
        kwargs, response, start, end = self._args
        return dict(kwargs), response, start, end


def _is_async_callable(fn: object) -> bool:
    """``async def`` functions and objects whose ``__call__`` is ``async def``."""
    call = fn.__call__ if callable(fn) and not inspect.isfunction(fn) else None
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def _pick_hook(
    target: CustomLogger, sync_name: str, async_name: str, is_async: bool
) -> tuple[str, bool] | None:
    """The hook that receives an event: the one matching the call mode, else the other if overridden."""
    order = ((async_name, True), (sync_name, False)) if is_async else ((sync_name, False), (async_name, True))
    for name, _ in order:
        if overrides(target, name):
            return name, is_async_hook(target, name)
    return None


class CallLog:
    """Handle for one call's events; guarantees exactly one terminal event (thread-safe)."""

    def __init__(
        self,
        info: payload.CallInfo,
        per_call: Sequence[Callback] | None,
        lists: Mapping[str, list[Callback]],
        workers: CallbackWorkers | None = None,
    ) -> None:
        self.info = info
        # the runtime's workers; None: the process-wide ones (the pipeline looked up only when needed)
        self._dispatcher: Dispatcher = get_dispatcher() if workers is None else workers.dispatcher
        self._pipeline: RecordPipeline | None = None if workers is None else workers.pipeline
        self._input = targets_for("input", per_call, lists)
        self._success = targets_for("success", per_call, lists)
        self._failure = targets_for("failure", per_call, lists)
        self._stream = tuple(t for t in self._success if isinstance(t, CustomLogger) and _wants_chunks(t))
        self._sinks: list[Sink] = []
        self._lock = threading.Lock()
        # chunks kept (references only) to assemble a stream's response for the success hooks
        self._chunks: list[Any] | None = [] if info.stream and self._success else None
        self.done = False

    def add_sink(self, fn: Sink) -> None:
        """Add a non-lossy sink ``fn(record)`` run synchronously, first, at the terminal event."""
        self._sinks.append(fn)

    # -- events ---------------------------------------------------------------------------------
    def pre_api_call(self) -> None:
        """Dispatch the input event: ``log_pre_api_call`` of loggers, ``input_callback`` functions."""
        if self._input:
            self._guarded(self._dispatch_input)

    def _dispatch_input(self) -> None:
        info = self.info
        event = _Event(
            lambda: (payload.pre_call_kwargs(info), None, payload.to_datetime(info.start_time), None)
        )
        dispatcher = self._dispatcher
        for target in self._input:
            if isinstance(target, CustomLogger):
                if overrides(target, "log_pre_api_call"):
                    label = f"{_name(target)}.log_pre_api_call"
                    is_async = is_async_hook(target, "log_pre_api_call")
                    dispatcher.submit(target, label, _pre_job(target, event), is_async=is_async)
            else:
                _submit_function(dispatcher, target, event)

    def stream_chunk(self, chunk: Any) -> None:
        """Dispatch one chunk to loggers overriding ``log_stream_event`` / ``async_log_stream_event``."""
        if self._chunks is not None:
            self._chunks.append(chunk)
        if self._stream and not self.done:
            self._guarded(self._dispatch_chunk, chunk)

    def _dispatch_chunk(self, chunk: Any) -> None:
        info = self.info
        now = time.time()
        event = _Event(
            lambda: (
                payload.pre_call_kwargs(info, "stream_event"),
                payload.visible_response(info, chunk),
                payload.to_datetime(info.start_time),
                payload.to_datetime(now),
            )
        )
        for target in self._stream:
            _submit_hook(
                self._dispatcher,
                target,
                event,
                ("log_stream_event", "async_log_stream_event"),
                info.is_async,
                bulk=True,
            )

    def success(self, record: CallRecord, response_obj: Any) -> None:
        """The call succeeded: sinks, then ``log_success_event`` hooks / success functions. Never raises."""
        if self._claim():
            self._guarded(self._terminal, record, response_obj, None)

    def failure(self, record: CallRecord, exception: BaseException) -> None:
        """The call failed: sinks, then ``log_failure_event`` hooks / failure functions. Never raises."""
        if self._claim():
            self._guarded(self._terminal, record, None, exception)

    # -- steps ----------------------------------------------------------------------------------
    def _claim(self) -> bool:
        with self._lock:
            if self.done:
                duplicate = True
            else:
                duplicate = False
                self.done = True
        if duplicate:
            self._dispatcher.count("duplicate_terminal")
        return not duplicate

    def _terminal(self, record: CallRecord, response_obj: Any, exc: BaseException | None) -> None:
        record = self._normalise(record)
        self._run_sinks(record)
        targets = self._success if exc is None else self._failure
        if not targets:
            return
        info = self.info
        chunks = self._chunks if exc is None and response_obj is None else None
        self._chunks = None
        stages = tuple(t for t in targets if is_record_consumer(t))
        if stages:
            targets = tuple(t for t in targets if not is_record_consumer(t))
            pipeline = self._pipeline or get_pipeline()
            pipeline.submit(self._record_event(record, response_obj, chunks, exc), stages)
            if not targets:
                return

        def build() -> tuple[dict[str, Any], Any, datetime | None, datetime | None]:
            response = assemble_chat_completion(chunks) if chunks is not None else response_obj
            visible = payload.visible_response(info, response)
            kwargs = payload.terminal_kwargs(info, record, visible, exc)
            return kwargs, visible, kwargs["start_time"], kwargs["end_time"]

        event = _Event(build)
        kind = "success" if exc is None else "failure"
        hooks = (f"log_{kind}_event", f"async_log_{kind}_event")
        dispatcher = self._dispatcher
        for target in targets:
            if isinstance(target, CustomLogger):
                _submit_post_call(dispatcher, target, event)
                _submit_hook(dispatcher, target, event, hooks, info.is_async)
            else:
                _submit_function(dispatcher, target, event)

    def _record_event(
        self, record: CallRecord, response_obj: Any, chunks: list[Any] | None, exc: BaseException | None
    ) -> RecordEvent:
        """The record stages' event; its content (the call's messages, the response) only when allowed."""
        info = self.info
        if not info.content_allowed():
            return RecordEvent(record)

        def content() -> tuple[Any, Any]:
            if exc is not None:
                return info.messages, None
            response = assemble_chat_completion(chunks) if chunks is not None else response_obj
            return info.messages, payload.visible_response(info, response)

        return RecordEvent(record, content)

    def _normalise(self, record: CallRecord) -> CallRecord:
        """A ``no_log`` call's record never carries content, whoever built it."""
        if self.info.no_log and (
            not record.no_log or record.messages is not None or record.response is not None
        ):
            return record.model_copy(update={"no_log": True, "messages": None, "response": None})
        return record

    def _run_sinks(self, record: CallRecord) -> None:
        for sink in self._sinks:
            try:
                sink(record)
            except Exception as exc:
                self._dispatcher.record_error(f"sink {_name(sink)}", exc)

    def _guarded(self, step: Callable[..., None], *args: Any) -> None:
        """Run a dispatch step; a bug in it is counted and logged, never raised into the caller's call."""
        try:
            step(*args)
        except Exception as exc:
            self._dispatcher.record_error(f"ledgerlm.callbacks.{step.__name__}", exc)

    def __del__(self) -> None:
        try:
            if not self.done and (self._success or self._failure or self._sinks):
                self._dispatcher.count("abandoned")
        except Exception:  # interpreter shutdown, or a handle whose __init__ failed
            return


def _wants_chunks(target: CustomLogger) -> bool:
    return overrides(target, "log_stream_event") or overrides(target, "async_log_stream_event")


def _name(target: object) -> str:
    name = getattr(target, "__qualname__", None)
    return str(name) if name else type(target).__qualname__


def _pre_job(target: CustomLogger, event: _Event) -> Callable[[], object]:
    def job() -> object:
        kwargs, _, _, _ = event.args()
        hook: Callable[..., object] = target.log_pre_api_call  # may be ``async def`` in a subclass
        return hook(kwargs["model"], kwargs["messages"], kwargs)

    return job


def _submit_post_call(dispatcher: Dispatcher, target: CustomLogger, event: _Event) -> None:
    if not overrides(target, "log_post_api_call"):
        return
    hook = target.log_post_api_call
    is_async = is_async_hook(target, "log_post_api_call")
    dispatcher.submit(
        target, f"{_name(target)}.log_post_api_call", lambda: hook(*event.args()), is_async=is_async
    )


def _submit_hook(
    dispatcher: Dispatcher,
    target: CustomLogger,
    event: _Event,
    names: tuple[str, str],
    is_async: bool,
    *,
    bulk: bool = False,
) -> None:
    """Queue the hook of ``names`` (sync name, async name) that receives the event (see ``_pick_hook``)."""
    picked = _pick_hook(target, names[0], names[1], is_async)
    if picked is None:
        return
    name, hook_is_async = picked
    hook = getattr(target, name)
    dispatcher.submit(
        target, f"{_name(target)}.{name}", lambda: hook(*event.args()), is_async=hook_is_async, bulk=bulk
    )


def _submit_function(dispatcher: Dispatcher, fn: Callable[..., Any], event: _Event) -> None:
    """Plain functions: ``fn(kwargs, response_obj, start_time, end_time)``, sync or ``async def``."""
    dispatcher.submit(fn, _name(fn), lambda: fn(*event.args()), is_async=_is_async_callable(fn))


@dataclass(frozen=True, slots=True)
class CallStart:
    """What a call's log handle is opened with: ``call_type`` (``completion``, ``acompletion``,
    ``aembedding`` ...), ``model`` (as logged), ``messages`` (or ``input``), ``params`` (the request
    body), ``context``, ``stream``, ``is_async`` (async hooks of the caller's kind), ``per_call_callbacks``
    (this call only), ``no_log`` (drop content from every payload), ``extra`` (more payload fields)."""

    call_type: str = "completion"
    model: str = ""
    messages: Any = None
    params: Mapping[str, Any] | None = None
    context: CallContext | None = None
    stream: bool = False
    is_async: bool = False
    per_call_callbacks: Sequence[Callback] | None = None
    no_log: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


def start_call(
    start: CallStart,
    lists: Mapping[str, list[Callback]] | None = None,
    workers: CallbackWorkers | None = None,
) -> CallLog:
    """Open the log handle of one call (see the module docstring).

    ``lists``: the four callback lists in effect (a runtime's, ``Runtime.callback_lists()``); default:
    the package's, read now (a callback registered while the call runs sees the next call).
    ``workers``: the runtime's dispatcher and record pipeline (``Runtime.workers``); default: the
    process-wide ones.
    ``no_log`` (or ``context.no_log``) drops content from every payload while usage and cost are
    still logged.
    """
    context = start.context
    info = payload.CallInfo(
        call_type=start.call_type,
        model=start.model,
        messages=start.messages,
        params=dict(start.params or {}),
        metadata=dict(context.metadata) if context is not None else {},
        request_id=context.request_id if context is not None else None,
        stream=start.stream,
        is_async=start.is_async,
        no_log=start.no_log or (context is not None and context.no_log),
        start_time=time.time(),
        extra=dict(start.extra),
    )
    return CallLog(info, start.per_call_callbacks, lists if lists is not None else current_lists(), workers)
