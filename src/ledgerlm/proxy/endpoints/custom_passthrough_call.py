"""The engine side of a custom pass-through call (``ledgerlm.proxy.endpoints.custom_passthrough``): the
lifecycle's ``Endpoint.call`` / ``open_stream`` for one ``PassThroughEndpoint`` entry. The request is
sent once to the target; the call's one row is written with ``log_call`` (``api_base`` = the target),
priced by ``passthrough_usage.custom_cost``:

* plain: the answer's bytes (a ``RawResult``), usage read from its JSON when in a known format;
* streamed: a ``CustomRelay`` (the target's bytes unchanged, SSE usage read on the way, the row at the
  end: success when the answer ended, failure when it broke or the client left);
* an error answer (or an unreachable target): a failure row, the ``APIError`` raised (the route relays
  a target's answer as it came, status and body).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledgerlm.engine.call import CallOptions
from ledgerlm.errors import APIError
from ledgerlm.providers.base import Deployment, HTTPRequest
from ledgerlm.proxy.endpoints.logged import Outcome, RawResult, log_call
from ledgerlm.proxy.endpoints.passthrough_usage import answer_usage, custom_cost, stream_usage
from ledgerlm.proxy.passthrough_config import PassThroughEndpoint
from ledgerlm.record import CallRecord
from ledgerlm.sse import SSEDecoder
from ledgerlm.transport import SendOptions, SendResult, TransportResponse, send_with
from ledgerlm.types import Cost, Usage

__all__ = ["CustomRelay", "custom_open", "custom_plain"]

_RELAY_DROP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"} | {
    "content-encoding",
    "date",
    "server",
}


@dataclass(frozen=True, slots=True)
class _Row:
    """What the call's row is written with: the entry (pricing), deployment, body, options, start."""

    entry: PassThroughEndpoint
    deployment: Deployment
    body: Mapping[str, Any]
    options: CallOptions
    stream: bool
    start: float

    def write(
        self, usage: Usage | None, family: str | None, error: APIError | None, answer: Any = None
    ) -> tuple[CallRecord, Cost]:
        """The call's one terminal event (success, or failure with ``error``): the record, its cost."""
        cost = custom_cost(self.entry, self.deployment.model, usage, family, self.start)
        outcome = Outcome(usage or Usage(), cost, error=error, response=answer)
        record = log_call(
            self.deployment,
            self.body,
            self.options,
            outcome,
            stream=self.stream,
            start=self.start,
            api_base=self.entry.target,
        )
        return record, cost


def _target_error(status: int, body: bytes, headers: Any) -> APIError:
    message = f"the pass-through target answered HTTP {status}"
    return APIError(message, status_code=status, body=body, headers=dict(headers))


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    """The target's answer headers relayed (not hop-by-hop ones)."""
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _RELAY_DROP}


async def _send(row: _Row, http: HTTPRequest) -> SendResult:
    """Send once (the entry's ``timeout``); an error answer or an unreachable target is the call's
    failure row, then raised."""
    try:
        sending = SendOptions(
            _target_error, "pass_through", row.deployment.model, row.entry.timeout, 0, row.stream
        )
        return await send_with(row.options.in_runtime().transport, http, sending)
    except APIError as exc:
        row.write(None, None, exc)
        raise


async def custom_plain(
    deployment: Deployment,
    body: dict[str, Any],
    options: CallOptions,
    *,
    http: HTTPRequest,
    entry: PassThroughEndpoint,
) -> RawResult:
    """A non-streamed call: the answer's bytes, status and headers, one row."""
    row = _Row(entry, deployment, body, options, False, time.time())
    sent = await _send(row, http)
    raw = sent.body or b""
    family, usage, answer = answer_usage(raw)
    record, cost = row.write(usage, family, None, answer)
    return RawResult(raw, sent.status, _kept(sent.headers), answer, record, cost)


async def custom_open(
    deployment: Deployment,
    body: dict[str, Any],
    options: CallOptions,
    *,
    http: HTTPRequest,
    entry: PassThroughEndpoint,
) -> CustomRelay:
    """A streamed call: the open answer, relayed by the lifecycle (``CustomRelay`` writes the row)."""
    row = _Row(entry, deployment, body, options, True, time.time())
    sent = await _send(row, http)
    assert sent.response is not None
    return CustomRelay(sent.response, _kept(sent.headers), row)


class CustomRelay:
    """Async iterator of the target's byte chunks; ``status`` / ``headers`` of its answer; the row
    once: at the end (success), or failure when it broke or was closed early (``aclose``)."""

    def __init__(self, response: TransportResponse, headers: Mapping[str, str], row: _Row) -> None:
        self.status = response.status
        self.headers = headers
        self._response = response
        self._chunks = response.content.iter_any().__aiter__()
        self._row = row
        self._decoder = SSEDecoder()
        self._usage = stream_usage()
        self._ended = False

    def __aiter__(self) -> CustomRelay:
        return self

    async def __anext__(self) -> bytes:
        try:
            data: bytes = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._end(None)
            raise
        except Exception as exc:
            self._end(APIError(f"the pass-through stream broke: {exc!r}"))
            raise
        for event in self._decoder.feed(data):
            self._usage.feed(event.data)
        return data

    def _end(self, error: APIError | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._response.release()
        self._row.write(self._usage.usage(), self._usage.family, error)

    async def aclose(self) -> None:
        """Stop reading: a stream not read to its end is a failure (the client left, or it broke)."""
        self._end(APIError("the pass-through stream closed before its end"))
