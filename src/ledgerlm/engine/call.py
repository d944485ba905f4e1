"""The call as a value: ``CallOptions`` (frozen: how the caller wants it run) and ``Call`` (one per call:
identity, timing, and what it consumed, filled in as it goes), plus ``CallResult`` (a finished plain call).

``Call`` is what the record builder (``ledgerlm.engine.record.build_record``) reads; the proxy builds one
too for a failure raised before the engine ran (``deployment`` may then be ``None``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgerlm.providers.base import Deployment
from ledgerlm.record import CallRecord
from ledgerlm.runtime import Runtime, default_runtime
from ledgerlm.types import CallContext, Cost, Usage

__all__ = ["Call", "CallOptions", "CallResult", "Sink"]

Sink = Callable[[CallRecord], None]


@dataclass(frozen=True, slots=True)
class CallOptions:
    """How to run one call. ``call_type``: the record's (``acompletion``, ``aembedding``, ``amessages``
    ...); ``num_retries``: retries of a retryable error; ``timeout``: seconds for the whole plain call
    or between stream chunks (``None``: the deployment's, else the transport's default);
    ``callbacks``: per-call callbacks (beside the global lists); ``sinks``: functions receiving the
    record synchronously at the terminal event (the proxy's spend spool); ``runtime``: the transport
    and callback lists to use (``None``: ``ledgerlm.runtime.default_runtime()``)."""

    context: CallContext
    call_type: str = "acompletion"
    num_retries: int = 2
    timeout: float | None = None
    callbacks: tuple[Any, ...] = ()
    sinks: tuple[Sink, ...] = ()
    runtime: Runtime | None = None

    def in_runtime(self) -> Runtime:
        """The runtime the call runs in."""
        return self.runtime if self.runtime is not None else default_runtime()


@dataclass(slots=True)
class Call:
    """One call. Identity and timing are set when it starts (``start``: epoch seconds); ``usage``,
    ``cost`` (USD), ``retries``, ``first_token_time``, ``finish_reasons``, ``response_id`` and
    ``response_model`` as the call learns them. ``deployment`` is ``None`` only for a proxy failure
    before a deployment was chosen; ``requested_model`` then names what the client asked for."""

    options: CallOptions
    deployment: Deployment | None
    body: Mapping[str, Any]
    stream: bool = False
    start: float = field(default_factory=time.time)
    requested_model: str | None = None
    default_api_base: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost: Cost | None = None
    retries: int = 0
    first_token_time: float | None = None
    finish_reasons: list[str] = field(default_factory=list)
    response_id: str | None = None
    response_model: str | None = None

    @property
    def context(self) -> CallContext:
        return self.options.context

    @property
    def call_type(self) -> str:
        return self.options.call_type


@dataclass(slots=True)
class CallResult:
    """A finished plain call: ``body`` (the OpenAI-format response dict), canonical ``usage`` (tokens),
    ``cost`` (USD), the ``record`` logged, and ``raw`` (the upstream bytes when the provider speaks the
    OpenAI format, so a proxy can forward them untouched; else ``None``)."""

    body: dict[str, Any]
    usage: Usage
    cost: Cost
    record: CallRecord
    raw: bytes | None = None
