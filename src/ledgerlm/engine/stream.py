"""``ChatStream``: the streamed half of the engine, an async iterator of OpenAI chunk dicts.

It reads the open upstream response, decodes it with the provider's ``StreamDecoder`` and ends with
exactly one terminal event on the call's ``CallLog``:

* success when the body ends after ``[DONE]`` or a finish reason;
* failure when the stream breaks (``APIConnectionError``), stalls past the timeout (``APITimeoutError``),
  carries an in-stream error, ends early, or when the consumer stops before the end (``aclose()``,
  cancellation or garbage collection: ``ClientDisconnectedError``).

A failure carries the usage seen so far, the same way for every wire format
(``StreamDecoder.usage_so_far`` in ``ledgerlm.providers.stream``): the provider's usage when it sent
one, else an estimate (prompt ~ chars/4; output ~ chars/4 of the deltas' text, at least one token per
delta) marked ``ledgerlm_estimated`` in raw.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ledgerlm.callbacks import CallLog
from ledgerlm.engine.call import Call
from ledgerlm.engine.cost import call_cost, with_duration
from ledgerlm.engine.record import build_record, failure_cost
from ledgerlm.errors import APIConnectionError, APIError, APIResponseValidationError
from ledgerlm.providers.base import StreamDecoder
from ledgerlm.record import CallRecord
from ledgerlm.transport import DEFAULT_TIMEOUT_S, READ_ERRORS, TransportResponse, map_client_error
from ledgerlm.types import Cost, Usage
from ledgerlm.usage.tier import with_requested_tier

__all__ = ["ChatStream", "ClientDisconnectedError"]


class ClientDisconnectedError(APIError):
    """The consumer stopped reading (or the calling task was cancelled) before the call ended.

    Status 499 ("client closed request"); recorded as the failure of that call.
    """

    status_code = 499
    error_type = "client_disconnected"
    default_code = "client_disconnected"


class ChatStream:
    """Async iterator of ``chat.completion.chunk`` dicts; ``usage`` (canonical, tokens), ``cost``
    (USD) and ``record`` are set when it ends (also on failure); ``error`` holds the failure."""

    def __init__(
        self,
        response: TransportResponse,
        decoder: StreamDecoder,
        log: CallLog,
        call: Call,
        *,
        estimate_input: Callable[[], int],
    ) -> None:
        assert call.deployment is not None
        self._response = response
        self._decoder = decoder
        self._log = log
        self._call = call
        self._deployment = call.deployment
        self._estimate_input = estimate_input
        timeout = call.options.timeout if call.options.timeout is not None else call.deployment.timeout
        self._timeout = DEFAULT_TIMEOUT_S if timeout is None else timeout
        self._loop = asyncio.get_running_loop()
        self._pending: deque[dict[str, Any]] = deque()
        self._eof = False
        self.finished = False
        self.first_token_time: float | None = None
        self.usage: Usage | None = None
        self.cost: Cost | None = None
        self.record: CallRecord | None = None
        self.error: APIError | None = None

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        while not self._pending:
            if self._eof or self.finished:
                if not self.finished:
                    self._end_of_body()
                    if self.error is not None:
                        raise self.error
                raise StopAsyncIteration
            await self._read()
        chunk = self._pending.popleft()
        if self.first_token_time is None:
            self.first_token_time = time.time()
        self._log.stream_chunk(chunk)
        return chunk

    async def _read(self) -> None:
        try:
            data = await self._response.content.readany()
            chunks = self._decoder.decode(data)
        except APIError as exc:
            self._finish(exc)
            raise
        except READ_ERRORS as exc:
            error = map_client_error(
                exc,
                provider=self._deployment.provider,
                model=self._deployment.model,
                url=str(self._response.url),
                timeout=self._timeout,
            )
            self._finish(error)
            raise error from exc
        except asyncio.CancelledError:
            self._finish(ClientDisconnectedError("the streaming call was cancelled"))
            raise
        if not data:
            self._eof = True
        self._pending.extend(chunks)

    def _end_of_body(self) -> None:
        if self._decoder.done or self._decoder.finish_reasons:
            self._finish(None)
        elif self._decoder.chunk_count == 0:
            self._finish(APIResponseValidationError("the provider answered 200 without any stream event"))
        else:
            self._finish(APIConnectionError("the stream ended before its last chunk (no [DONE])"))

    def _finish(self, error: APIError | None) -> None:
        """The single terminal event: build the record, release the connection, log it."""
        if self.finished:
            return
        self.finished = True
        if error is not None and error.provider is None:
            error.provider = self._deployment.provider
            error.model = self._deployment.model
        try:
            self.record = build_record(self._account(), error=error)
            self.usage, self.cost, self.error = self._call.usage, self.record_cost(error), error
        finally:
            if error is None:
                self._response.release()
            else:
                self._response.close()
        if error is None:
            self._log.success(self.record, None)
        else:
            self._log.failure(self.record, error)

    def _account(self) -> Call:
        """The call with what the stream saw: usage (estimated when never reported), cost, timing."""
        call, decoder = self._call, self._decoder
        usage = decoder.usage_so_far(self._estimate_input)
        call.usage = usage = with_requested_tier(usage, call.body)  # issue 18 item 6
        call.usage = usage = with_duration(self._deployment, usage, call.start)  # per-second prices
        try:
            call.cost = call_cost(self._deployment, usage, call.start)
        except Exception as exc:  # a pricing bug must not lose the record
            call.cost = Cost.unpriced(f"pricing failed: {exc!r}")
        call.finish_reasons = list(decoder.finish_reasons)
        call.first_token_time = self.first_token_time
        call.response_id, call.response_model = decoder.response_id, decoder.response_model
        return call

    def record_cost(self, error: APIError | None) -> Cost:
        """The cost recorded: the call's, or ``failure_cost`` of it for a failure (USD)."""
        cost = self._call.cost if self._call.cost is not None else Cost.unpriced("no cost computed")
        return cost if error is None else failure_cost(self._call.usage, cost)

    async def aclose(self) -> None:
        """Stop early: closes the upstream connection; a stream not yet ended is a failure
        (``ClientDisconnectedError``) carrying the usage seen so far."""
        self._finish(ClientDisconnectedError("the consumer closed the stream before its end"))

    def __del__(self) -> None:
        if getattr(self, "finished", True):
            return
        error = ClientDisconnectedError("the stream was dropped before its end")
        with contextlib.suppress(Exception):  # nothing may escape a finalizer
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._loop or self._loop.is_closed():
                self._finish(error)
            else:  # the connection belongs to another thread's loop: finish there
                self._loop.call_soon_threadsafe(self._finish, error)
