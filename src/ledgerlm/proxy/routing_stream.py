"""A provider stream as the router's attempt returns it (``RoutedStream``).

* Its FIRST item is read inside the attempt (``open_routed``): an error before the client got its
  first byte (the provider answered 200, then broke, stalled past ``stream_timeout`` or sent an
  in-stream error) is a failed attempt the router retries or falls back from like a plain call. The
  broken stream has already written its record (usage seen so far, else estimated), which the attempt
  ledger (``routing.attempts``) keeps as a billable earlier attempt. After the first byte nothing is
  retried: the error goes to the client inside the stream and the row is a failure.
* ``on_finish(fn)``: ``fn(total_tokens)`` is awaited once when the stream ends (its last item, an
  error, or ``aclose``): the router counts a streamed call's tokens toward the deployment's tpm and
  ends its in-flight count then (``Router._attempt``).
* With ``keep``, the items relayed are kept (``items``) so the response cache can store the reply once
  the stream completed (``proxy.cache_call.cache_store_stream``).

Other attributes (``usage``, ``cost``, ``record`` ...) are the wrapped stream's.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

__all__ = ["RoutedStream", "open_routed"]

Finish = Callable[[int], Awaitable[None]]


class RoutedStream:
    """See the module docstring. ``inner``: the engine's stream (``ChatStream`` or a mock's)."""

    def __init__(self, inner: Any, iterator: AsyncIterator[Any], first: list[Any], keep: bool) -> None:
        self.inner = inner
        self._iterator = iterator
        self._first = first
        self.items: list[Any] | None = [] if keep else None
        self.completed = False
        self._finish: list[Finish] = []
        self._ended = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def on_finish(self, fn: Finish) -> None:
        """Await ``fn(total_tokens)`` once when the stream ends (at once if it already has)."""
        self._finish.append(fn)

    def __aiter__(self) -> RoutedStream:
        return self

    async def __anext__(self) -> Any:
        if self._first:
            item = self._first.pop()
        else:
            try:
                item = await self._iterator.__anext__()
            except StopAsyncIteration:
                self.completed = True
                await self._end()
                raise
            except BaseException:
                await self._end()
                raise
        if self.items is not None:
            self.items.append(item)
        return item

    async def aclose(self) -> None:
        """Close the wrapped stream (a stream not at its end is recorded as a failure by it)."""
        try:
            await self.inner.aclose()
        finally:
            await self._end()

    async def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        usage = getattr(self.inner, "usage", None)
        tokens = int(getattr(usage, "total_tokens", 0) or 0)
        for fn in self._finish:
            await fn(tokens)


async def open_routed(stream: Any, *, keep: bool = False) -> RoutedStream:
    """``stream`` with its first item read (module docstring). Raises the stream's error when it fails
    before its first item (the stream is closed first)."""
    iterator = stream.__aiter__()
    try:
        first = [await iterator.__anext__()]
    except StopAsyncIteration:
        first = []
    except BaseException:
        with contextlib.suppress(Exception):
            await stream.aclose()
        raise
    return RoutedStream(stream, iterator, first, keep)
