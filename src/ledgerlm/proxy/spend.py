"""Spend rows from the proxy: the per-request sink and the failure record for errors raised before the
engine produced one (unknown model, forbidden model, bad tags, a pre-call hook's rejection, admission).

The sink runs synchronously inside the engine's terminal event (``CallLog.add_sink``), so the row is in the
spool (``Spool.append``: one ``os.write`` on an ``O_APPEND`` file) BEFORE the proxy sends the response or
the final ``[DONE]`` of a stream.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledgerlm.callbacks import CallStart, start_call
from ledgerlm.engine.call import Call
from ledgerlm.engine.record import build_record
from ledgerlm.record import CallRecord
from ledgerlm.runtime import Runtime, default_runtime
from ledgerlm.types import CallContext, Cost

__all__ = ["RecordingSink", "emit_failure", "failure_record"]


class RecordingSink:
    """The per-request sink: hands the record to ``write`` and remembers that it did.

    ``defer`` (``store_prompts_in_spend_logs``): the engine's record carries no content, so the row is
    written by ``flush(messages, response)`` instead, which the proxy calls before the response (or the
    final ``[DONE]``) is sent, and on every error path.
    """

    __slots__ = ("defer", "record", "write", "written")

    def __init__(self, write: Callable[[CallRecord], None], *, defer: bool = False) -> None:
        self.write = write
        self.defer = defer
        self.record: CallRecord | None = None
        self.written = False

    def __call__(self, record: CallRecord) -> None:
        if self.record is not None:
            return
        self.record = record
        if not self.defer:
            self.written = True
            self.write(record)

    def flush(self, messages: Any, response: Any) -> None:
        """Write a deferred record with its content (no-op when not deferred or already written)."""
        if self.record is None or self.written:
            return
        self.written = True
        self.write(self.record.model_copy(update={"messages": messages, "response": response}))


def failure_record(call: Call, exc: BaseException, messages: Any = None) -> CallRecord:
    """The ``failure`` record of an error raised by the proxy itself after auth, built by the engine's
    one record builder (``ledgerlm.engine.record.build_record``): no usage, so it costs exactly $0
    (never "unpriced"); ``messages``: the request content when prompts are stored."""
    call.cost = Cost(total=Decimal(0))
    record = build_record(call, error=exc)
    return record if messages is None else record.model_copy(update={"messages": messages})


def emit_failure(
    record: CallRecord,
    exc: BaseException,
    callbacks: list[Any],
    sink: RecordingSink,
    context: CallContext,
    runtime: Runtime | None = None,
) -> None:
    """The terminal event of a call that failed in the proxy: the spend row (through ``sink``) and the
    configured failure callbacks, through the same ``CallLog`` the engine uses, on ``runtime``'s
    callback lists and workers (the app's; ``None``: the process-wide ones)."""
    runtime = runtime or default_runtime()
    log = start_call(
        CallStart(
            call_type=record.call_type,
            model=record.requested_model,
            messages=record.messages,
            params={},
            context=context,
            stream=record.stream,
            is_async=True,
            per_call_callbacks=callbacks or None,
        ),
        runtime.callback_lists(),
        runtime.workers,
    )
    log.add_sink(sink)
    log.failure(record, exc)
    if sink.record is None:  # a CallLog that did not run its sinks must not lose the row
        sink(record)
    sink.flush(record.messages, None)
