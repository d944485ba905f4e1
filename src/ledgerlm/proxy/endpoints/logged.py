"""``log_call``: the single terminal event of a call the engine did not run (pass-through, stored
responses, a locally estimated token count, mocks), written through the engine's ``Call`` and its one
record builder (``engine.record.build_record``) so the row is the same as an engine call's.

``kwargs`` are the keyword arguments the lifecycle hands an ``Endpoint.call`` (``context``,
``call_type``, ``callbacks``, ``sinks``: the call's spend sink or the router's attempt sink,
``num_retries``, ``timeout``): the record goes where an engine call's would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledgerlm import engine
from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.engine.record import build_record
from ledgerlm.errors import APIError
from ledgerlm.providers import get_provider
from ledgerlm.providers.base import Deployment
from ledgerlm.record import CallRecord
from ledgerlm.types import Cost, Usage

__all__ = ["Outcome", "RawResult", "log_call"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended: ``usage`` (tokens), ``cost`` (USD, or unpriced with the reason), ``error``
    (``None`` on success) and the ``response`` answer (a dict is recorded with the row)."""

    usage: Usage
    cost: Cost
    error: APIError | None = None
    response: Any = None


@dataclass(slots=True)
class RawResult:
    """A finished call the engine did not run, as the lifecycle reads it: the answer's ``raw`` bytes,
    HTTP ``status`` and ``headers``, its parsed ``body`` (or ``None``), the ``record`` logged and
    its ``cost`` (USD)."""

    raw: bytes
    status: int
    headers: Mapping[str, str]
    body: Any
    record: CallRecord
    cost: Cost


def log_call(
    deployment: Deployment,
    body: Mapping[str, Any],
    options: CallOptions,
    outcome: Outcome,
    *,
    stream: bool = False,
    start: float | None = None,
    api_base: str | None = None,
) -> CallRecord:
    """Record ``outcome`` as the call's success or failure event (callbacks notified, sinks fed);
    the ``CallRecord`` built. ``start``: epoch seconds the call started (default: now). ``api_base``:
    the row's ``api_base`` when the deployment names none (default: the provider's; a custom
    pass-through target is no provider of ledgerlm's)."""
    one = Call(options, deployment, body, stream=stream)
    if start is not None:
        one.start = start
    one.usage, one.cost = outcome.usage, outcome.cost
    one.default_api_base = api_base or get_provider(deployment.provider).default_api_base
    log = engine._open_log(one)
    answer = outcome.response if isinstance(outcome.response, dict) else None
    if outcome.error is None:
        record = build_record(one, response=answer)
        log.success(record, outcome.response)
    else:
        record = build_record(one, error=outcome.error, response=answer)
        log.failure(record, outcome.error)
    return record
