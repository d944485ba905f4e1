"""``ChatStream``: the streamed half of the engine, an async iterator of OpenAI chunk dicts.

It reads the open upstream response, decodes it with the provider's ``StreamDecoder`` and ends with
exactly one terminal event on the call's ``CallLog``:

* success when the body ends after ``[DONE]`` or a finish reason;
* failure when the stream breaks (``APIConnectionError``), stalls past the timeout (``APITimeoutError``),
  carries an in-stream error, ends early, or when the consumer stops before the end (``aclose()``,
  cancellation or garbage collection: ``ClientDisconnectedError``).

A failure carries the usage seen so far: the provider's usage when its usage chunk arrived, else an
estimate (prompt ~ chars/4, one output token per content delta) marked ``ledgerlm_estimated`` in raw.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp

from ledgerlm.callbacks import CallLog
from ledgerlm.engine_record import build_record, failure_cost
from ledgerlm.errors import APIConnectionError, APIError, APIResponseValidationError
from ledgerlm.providers.base import StreamDecoder
from ledgerlm.record import CallRecord
from ledgerlm.transport import DEFAULT_TIMEOUT_S, map_client_error
from ledgerlm.types import Cost, Usage

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
        *,
        response: aiohttp.ClientResponse,
        decoder: StreamDecoder,
        log: CallLog,
        finish: Callable[[Usage], Cost],
        record_args: dict[str, Any],
        estimate_input: Callable[[], int],
        timeout: float | None,
    ) -> None:
        self._response = response
        self._decoder = decoder
        self._log = log
        self._price = finish
        self._record_args = record_args
        self._estimate_input = estimate_input
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
            chunks = self._decoder.feed(data) if data else self._decoder.close()
        except APIError as exc:
            self._finish(exc)
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = map_client_error(
                exc,
                provider=self._record_args["deployment"].provider,
                model=self._record_args["deployment"].model,
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
        done = getattr(self._decoder, "done", False)
        if done or self._decoder.finish_reasons:
            self._finish(None)
        elif getattr(self._decoder, "chunk_count", 1) == 0:
            self._finish(APIResponseValidationError("the provider answered 200 without any stream event"))
        else:
            self._finish(APIConnectionError("the stream ended before its last chunk (no [DONE])"))

    def _usage_so_far(self) -> Usage:
        if self._decoder.usage is not None:
            return self._decoder.usage
        return Usage(
            input_tokens=self._estimate_input(),
            output_tokens=int(getattr(self._decoder, "delta_count", 0)),
            raw={"ledgerlm_estimated": True},
        )

    def _finish(self, error: APIError | None) -> None:
        """The single terminal event: build the record, release the connection, log it."""
        if self.finished:
            return
        self.finished = True
        if error is not None and error.provider is None:
            error.provider = self._record_args["deployment"].provider
            error.model = self._record_args["deployment"].model
        try:
            usage = self._usage_so_far()
            try:
                cost = self._price(usage)
            except Exception as exc:  # a pricing bug must not lose the record
                cost = Cost.unpriced(f"pricing failed: {exc!r}")
            if error is not None:
                cost = failure_cost(usage, cost)
            self.usage, self.cost, self.error = usage, cost, error
            self.record = build_record(
                **self._record_args,
                usage=usage,
                cost=cost,
                error=error,
                stream=True,
                finish_reasons=list(self._decoder.finish_reasons),
                first_token_time=self.first_token_time,
                response_id=self._decoder.response_id,
                response_model=self._decoder.response_model,
            )
        finally:
            if error is None:
                self._response.release()
            else:
                self._response.close()
        if error is None:
            self._log.success(self.record, None)
        else:
            self._log.failure(self.record, error)

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
