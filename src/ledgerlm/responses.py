"""OpenAI-shaped response objects returned by the SDK.

* ``ModelResponse`` (``chat.completion``), ``ModelResponseStream`` (``chat.completion.chunk``) and
  ``EmbeddingResponse`` (``list`` of ``embedding``) are dicts with attribute access
  (``response.choices[0].message.content``), ``.model_dump()`` (plain dicts) and
  ``.model_dump_json()``; ``usage`` is in the OpenAI form as the provider sent it.
* ``response.ledger`` is a ``Ledger``: canonical ``usage`` (``ledgerlm.types.Usage``, tokens), ``cost``
  (``Cost``, USD), ``response_cost`` (``Decimal`` USD or ``None`` when unpriced), ``request_id`` and
  the ``record`` (``CallRecord``) that was logged.
* ``CustomStreamWrapper``: the iterator a streamed call returns (sync or async, as the call was);
  ``.ledger`` is set once the stream has ended.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledgerlm.objects import OpenAIObject  # OpenAIObject is re-exported
from ledgerlm.record import CallRecord
from ledgerlm.types import Cost, Usage

if TYPE_CHECKING:
    from ledgerlm.engine.stream import ChatStream

__all__ = [
    "CustomStreamWrapper",
    "EmbeddingResponse",
    "Ledger",
    "ModelResponse",
    "ModelResponseStream",
    "OpenAIObject",
]


@dataclass(frozen=True, slots=True)
class Ledger:
    """What ledgerlm measured for one call: canonical ``usage`` (tokens), ``cost`` (USD),
    ``response_cost`` (``cost.total``: ``Decimal`` USD or ``None`` when unpriced), ``request_id``
    (ledgerlm's id of the call, also the record's ``id``) and the logged ``record``."""

    usage: Usage
    cost: Cost
    request_id: str
    record: CallRecord

    @property
    def response_cost(self) -> Decimal | None:
        return self.cost.total


class _WithLedger(OpenAIObject):
    __slots__ = ("ledger",)

    def __init__(self, data: dict[str, Any], ledger: Ledger | None = None) -> None:
        super().__init__(data)
        self.ledger = ledger


class ModelResponse(_WithLedger):
    """A ``chat.completion`` (OpenAI format) with ``.ledger``."""

    __slots__ = ()


class EmbeddingResponse(_WithLedger):
    """An embeddings ``list`` (OpenAI format) with ``.ledger``."""

    __slots__ = ()


class ModelResponseStream(OpenAIObject):
    """One ``chat.completion.chunk`` (OpenAI format)."""

    __slots__ = ()


class CustomStreamWrapper:
    """The stream of a ``completion(stream=True)`` (sync iterator) or ``acompletion(stream=True)``
    (async iterator) call, yielding ``ModelResponseStream`` chunks.

    ``.ledger`` is ``None`` until the stream has ended (after the last chunk, or after it failed or was
    closed); ``close()`` / ``aclose()`` stop early (recorded as a failure of the call).
    """

    def __init__(self, stream: ChatStream, *, request_id: str, sync: bool) -> None:
        self._stream = stream
        self._request_id = request_id
        self._sync = sync
        self._iterator: Iterator[dict[str, Any]] | None = None

    @property
    def ledger(self) -> Ledger | None:
        """The call's ``Ledger`` once the stream ended, else ``None``."""
        s = self._stream
        if s.record is None or s.usage is None or s.cost is None:
            return None
        return Ledger(usage=s.usage, cost=s.cost, request_id=self._request_id, record=s.record)

    # sync ------------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[ModelResponseStream]:
        return self

    def __next__(self) -> ModelResponseStream:
        if not self._sync:
            raise TypeError("this stream comes from acompletion(): iterate it with 'async for'")
        if self._iterator is None:
            from ledgerlm.transport import iterate_sync

            self._iterator = iterate_sync(self._stream, aclose=self._stream.aclose)
        return ModelResponseStream(next(self._iterator))

    def close(self) -> None:
        """Stop a sync stream early (closes the upstream connection)."""
        if self._iterator is not None:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        if not self._stream.finished:
            from ledgerlm.transport import submit

            submit(self._stream.aclose)

    def __enter__(self) -> CustomStreamWrapper:
        return self

    def __del__(self) -> None:
        # A sync stream dropped before its end: close it on the bridge loop that owns the connection.
        stream = getattr(self, "_stream", None)
        if stream is not None and self._sync and not stream.finished:
            with contextlib.suppress(Exception):
                self.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # async -----------------------------------------------------------------------------------
    def __aiter__(self) -> AsyncIterator[ModelResponseStream]:
        return self

    async def __anext__(self) -> ModelResponseStream:
        if self._sync:
            raise TypeError("this stream comes from completion(): iterate it with 'for'")
        return ModelResponseStream(await self._stream.__anext__())

    async def aclose(self) -> None:
        """Stop an async stream early (closes the upstream connection)."""
        await self._stream.aclose()

    async def __aenter__(self) -> CustomStreamWrapper:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
