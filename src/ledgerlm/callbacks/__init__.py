"""Callbacks: the ``CustomLogger`` base, the global callback lists and the per-call log handle.

INTERFACE CONTRACT (the engine calls this; the callbacks work implements it):

    log = start_call(call_type=..., model=..., messages=..., params=..., context=..., stream=...,
                     is_async=..., per_call_callbacks=[...])
    log.pre_api_call()                       # input_callback fns + CustomLogger.log_pre_api_call
    log.stream_chunk(chunk_dict)             # opt-in per-chunk hooks (cheap no-op when nobody opted in)
    log.success(record, response_obj)        # exactly one of success/failure per call; later calls
    log.failure(record, exception)           #   are ignored (and counted), never raise
    log.add_sink(fn)                         # non-lossy sinks called synchronously with the CallRecord
                                             #   at the terminal event (the proxy's spend spool)

The implementation in this file is provisional (no dispatch yet).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledgerlm.record import CallRecord
from ledgerlm.types import CallContext

__all__ = ["CallLog", "CustomLogger", "start_call"]


class CustomLogger:
    """Base class for callbacks (LiteLLM-compatible hook names). Override the hooks you need."""

    def log_pre_api_call(self, model: str, messages: Any, kwargs: dict[str, Any]) -> None:
        """Before the provider is called."""

    def log_post_api_call(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """After the provider answered (or failed)."""

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call succeeded (sync hook)."""

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call failed (sync hook)."""

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call succeeded (async hook)."""

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call failed (async hook)."""


class CallLog:
    """Handle for one call's events; guarantees exactly one terminal event."""

    def __init__(self, **call: Any) -> None:
        self.call = call
        self._sinks: list[Callable[[CallRecord], None]] = []
        self.done = False

    def add_sink(self, fn: Callable[[CallRecord], None]) -> None:
        self._sinks.append(fn)

    def pre_api_call(self) -> None:
        return None

    def stream_chunk(self, chunk: dict[str, Any]) -> None:
        return None

    def success(self, record: CallRecord, response_obj: Any) -> None:
        self._terminal(record)

    def failure(self, record: CallRecord, exception: BaseException) -> None:
        self._terminal(record)

    def _terminal(self, record: CallRecord) -> None:
        if self.done:
            return
        self.done = True
        for sink in self._sinks:
            sink(record)


def start_call(*, context: CallContext | None = None, **call: Any) -> CallLog:
    """Open the log handle of one call (see the module docstring)."""
    return CallLog(context=context, **call)
