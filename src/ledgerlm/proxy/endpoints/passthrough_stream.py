"""The relayed answer of a streamed pass-through call: the provider's bytes unchanged (SSE, or any
bytes such as Bedrock's event stream), its usage read on the way (SSE events through the provider's
stream accumulator), and the call's one terminal event, as ``engine.ChatStream`` does for chat:
success when the answer ended, failure (with the usage seen so far) when it broke or the client left.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp
import orjson

from ledgerlm.engine.call import CallOptions
from ledgerlm.engine.cost import call_cost
from ledgerlm.errors import APIError
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.endpoints.logged import Outcome, log_call
from ledgerlm.sse import SSEDecoder
from ledgerlm.types import Cost, Usage
from ledgerlm.usage import stream_accumulator

__all__ = ["RawEncoder", "RelayStream", "priced"]


def priced(deployment: Deployment, usage: Usage | None, start: float) -> tuple[Usage, Cost]:
    """``(usage, cost)`` of an answer: "unpriced" with the reason when it carried no usage."""
    if usage is None:
        return Usage(), Cost.unpriced("the pass-through answer carried no usage")
    return usage, call_cost(deployment, usage, start)


class RelayStream:
    """Async iterator of the provider's byte chunks; ``status`` / ``headers`` of its answer."""

    def __init__(
        self,
        response: aiohttp.ClientResponse,
        headers: Mapping[str, str],
        deployment: Deployment,
        body: dict[str, Any],
        options: CallOptions,
    ) -> None:
        self.status = response.status
        self.headers = headers
        self._response = response
        self._chunks = response.content.iter_any().__aiter__()
        self._call = (deployment, body, options)
        self._decoder = SSEDecoder()
        self._usage = stream_accumulator(deployment.provider)
        self._start = time.time()
        self._ended = False

    def __aiter__(self) -> RelayStream:
        return self

    async def __anext__(self) -> bytes:
        try:
            data = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._end(None)
            raise
        except Exception as exc:
            self._end(APIError(f"the pass-through stream broke: {exc!r}"))
            raise
        for event in self._decoder.feed(data):
            try:
                obj = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                self._usage.feed(obj)
        return data

    def _end(self, error: APIError | None) -> None:
        """The terminal event, once: success, or failure with the usage seen so far."""
        if self._ended:
            return
        self._ended = True
        self._response.release()
        deployment, body, options = self._call
        usage, cost = priced(deployment, self._usage.usage(), self._start)
        log_call(deployment, body, options, Outcome(usage, cost, error=error), stream=True, start=self._start)

    async def aclose(self) -> None:
        """Stop reading: a stream not read to its end is a failure (the client left, or it broke)."""
        self._end(APIError("the pass-through stream closed before its end"))


class RawEncoder:
    """The lifecycle's ``StreamEncoder`` for relayed bytes: every chunk as it came, nothing added."""

    def feed(self, item: Any) -> Iterable[bytes]:
        return (item,)

    def finish(self, stream: Any) -> Iterable[bytes]:
        return ()

    def error(self, exc: BaseException) -> Iterable[bytes]:
        return ()  # the provider's own bytes cannot carry an error event of ours

    def reply(self) -> Any:
        return None
