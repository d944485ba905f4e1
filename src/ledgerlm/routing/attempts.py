"""Every attempt in the ledger: one client request, however many provider attempts it took.

A routed request (retries, fallbacks) runs several provider attempts; each produces a ``CallRecord``
at its terminal event. ``AttemptLedger`` gives each attempt its own sink and decides where each record
goes:

* the LAST attempt (the one that answered, or the one whose error the client gets) is THE spend row of
  the request: id = the client request id, with ``metadata.routing`` =
  ``{"attempts", "attempted_retries", "attempted_fallbacks", "model_group", "billable_attempts": [ids]}``;
* an earlier attempt the provider may bill (it reported usage, or has a cost) is written as its own row:
  id ``"<request id>~attempt-<n>"``, ``status`` failure, ``metadata.client_request_id`` = the request
  id, ``metadata.routing_attempt`` = n. Its spend counts in every total (spend = what providers bill);
  reports count it in no request counter (``is_attempt_row``);
* an earlier attempt that consumed nothing (an error before the first byte: 429, 5xx, connect) writes no
  row; it is counted in ``metadata.routing.attempts``.

``extra_cost`` is the USD spent by the billable earlier attempts (budgets settle it with the request).
``observe`` (optional) sees every attempt's record as it arrives (the router's budget spend).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from ledgerlm.record import ATTEMPT_MARK, CallRecord

__all__ = ["ATTEMPT_MARK", "AttemptLedger", "is_attempt_row"]


Write = Callable[[CallRecord], None]


def is_attempt_row(request_id: str) -> bool:
    """Whether a spend row is an earlier attempt of a routed request (not a request of its own)."""
    return ATTEMPT_MARK in request_id


def _billable(record: CallRecord) -> bool:
    usage = record.usage
    return bool(usage.input_tokens or usage.output_tokens or usage.provider_cost or record.response_cost)


class _Capture:
    """The sink of one attempt: keeps its record, or forwards it at once when the attempt is final."""

    __slots__ = ("final", "forward", "number", "observe", "record")

    def __init__(self, number: int, observe: Write | None = None) -> None:
        self.number = number
        self.record: CallRecord | None = None
        self.final = False
        self.forward: Write | None = None
        self.observe = observe

    def __call__(self, record: CallRecord) -> None:
        if self.record is not None:
            return
        self.record = record
        if self.observe is not None:
            self.observe(record)
        if self.final and self.forward is not None:
            self.forward(record)


class AttemptLedger:
    """Routes each attempt's record (module docstring). ``write`` is the request's own sink (the spend
    row); ``write_attempt`` writes an earlier billable attempt's row."""

    def __init__(
        self, request_id: str, write: Write, write_attempt: Write, observe: Write | None = None
    ) -> None:
        self.request_id = request_id
        self.write = write
        self.write_attempt = write_attempt
        self.observe = observe
        self.current: _Capture | None = None
        self.billable: list[str] = []
        self.extra_cost = Decimal(0)
        self.routing: dict[str, Any] = {}

    def next_attempt(self) -> _Capture:
        """The sink for the next attempt; the previous attempt is settled as an earlier one."""
        previous = self.current
        if previous is not None and previous.record is not None:
            self._earlier(previous.number, previous.record)
        self.current = _Capture(1 if previous is None else previous.number + 1, self.observe)
        return self.current

    def _earlier(self, number: int, record: CallRecord) -> None:
        if not _billable(record):
            return
        row_id = f"{self.request_id[:230]}{ATTEMPT_MARK}{number}"
        metadata = {**record.metadata, "client_request_id": self.request_id, "routing_attempt": number}
        self.billable.append(row_id)
        self.extra_cost += record.response_cost or Decimal(0)
        self.write_attempt(record.model_copy(update={"id": row_id, "metadata": metadata}))

    def finish(self, routing: dict[str, Any]) -> None:
        """The current attempt is the request's: its record (now or when it arrives) is written with
        ``metadata.routing`` = ``routing`` plus the billable attempt ids."""
        self.routing = {**routing, "billable_attempts": list(self.billable)}
        current = self.current
        if current is None:
            return
        current.final = True
        current.forward = self._final
        if current.record is not None:
            self._final(current.record)

    def _final(self, record: CallRecord) -> None:
        metadata = {**record.metadata, "routing": self.routing}
        self.write(record.model_copy(update={"metadata": metadata}))
