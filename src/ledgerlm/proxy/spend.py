"""Spend rows from the proxy: the per-request sink and the failure record for errors raised before the
engine produced one (unknown model, forbidden model, bad tags, a pre-call hook's rejection, admission).

The sink runs synchronously inside the engine's terminal event (``CallLog.add_sink``), so the row is in the
spool (``Spool.append``: one ``os.write`` on an ``O_APPEND`` file) BEFORE the proxy sends the response or
the final ``[DONE]`` of a stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledgerlm.errors import LedgerLMError
from ledgerlm.providers.base import Deployment
from ledgerlm.record import CallRecord, CallType, CostRecord, ErrorRecord
from ledgerlm.types import CallContext

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


def _error(exc: BaseException) -> ErrorRecord:
    if isinstance(exc, LedgerLMError):
        status = exc.status_code if isinstance(exc.status_code, int) else None
        return ErrorRecord(type=type(exc).__name__, status=status, message=exc.message)
    return ErrorRecord(type=type(exc).__name__, status=500, message="internal error")


def failure_record(
    *,
    ctx: CallContext,
    exc: BaseException,
    call_type: CallType,
    requested_model: str,
    deployment: Deployment | None,
    start_time: float,
    stream: bool,
    messages: Any = None,
) -> CallRecord:
    """A ``failure`` CallRecord for an error raised by the proxy itself after auth: no usage, so it
    cost exactly $0 (``cost.total == Decimal(0)``, empty breakdown; never "unpriced"). Times in epoch
    seconds."""
    end = time.time()
    return CallRecord(
        id=ctx.request_id,
        call_type=call_type,
        status="failure",
        requested_model=requested_model,
        model=deployment.model if deployment else requested_model,
        model_group=ctx.model_group,
        deployment_id=deployment.deployment_id if deployment else None,
        provider=deployment.provider if deployment else "",
        api_base=deployment.api_base if deployment else None,
        start_time=start_time,
        end_time=end,
        latency_s=max(0.0, end - start_time),
        stream=stream,
        request_tags=list(ctx.request_tags),
        metadata=dict(ctx.metadata),
        key_hash=ctx.key_hash,
        key_alias=ctx.key_alias,
        user_id=ctx.user_id,
        team_id=ctx.team_id,
        organization_id=ctx.organization_id,
        end_user=ctx.end_user,
        requester_ip=ctx.requester_ip,
        error=_error(exc),
        messages=messages,
        cost=CostRecord(total=Decimal(0)),
        response_cost=Decimal(0),
    )


def emit_failure(
    record: CallRecord, exc: BaseException, callbacks: list[Any], sink: RecordingSink, context: CallContext
) -> None:
    """The terminal event of a call that failed in the proxy: the spend row (through ``sink``) and the
    configured failure callbacks, through the same ``CallLog`` the engine uses."""
    from ledgerlm.callbacks import start_call

    log = start_call(
        call_type=record.call_type,
        model=record.requested_model,
        messages=record.messages,
        params={},
        context=context,
        stream=record.stream,
        is_async=True,
        per_call_callbacks=callbacks or None,
    )
    log.add_sink(sink)
    log.failure(record, exc)
    if sink.record is None:  # a CallLog that did not run its sinks must not lose the row
        sink(record)
    sink.flush(record.messages, None)
