"""The response cache on the proxy's call path (``routing.cache``): a hit answers without a provider
call; a successful miss is stored.

A hit's spend row: ``cache_hit`` true, spend 0 (no usage: the provider billed nothing), and
``metadata.request_metadata.cache`` = ``{"key", "saved_cost" (USD decimal string, None when the
original was unpriced), "cached_usage"}``. Callbacks get the success event with ``cache_hit`` True.
The admission reservation is settled at 0: budgets are not charged for hits.

Streamed chat calls (``STREAMED_CALL_TYPES``) use the same entries (``routing.cache_stream``): a hit is
replayed as ``chat.completion.chunk`` frames through the endpoint's stream encoder (``cache_replay``;
the same row as a plain hit, ``stream`` true); a miss is stored once the stream completed well
(``cache_store_stream``: the body assembled from the chunks relayed, the usage the stream reported).
A stream that failed or was cut short is never stored. Streams of other formats (messages, responses)
are not cached. Header: ``x-litellm-cache-key`` on hits, misses and stores. A cache backend that fails
(Redis down) is logged and the call goes on uncached.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledgerlm.callbacks import CallStart, start_call
from ledgerlm.engine import ChatResult
from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.engine.record import build_record
from ledgerlm.record import CallRecord
from ledgerlm.routing.cache import CacheControls
from ledgerlm.routing.cache_stream import body_from_chunks, chunks_from_body, openai_usage
from ledgerlm.types import Cost, Usage

if TYPE_CHECKING:
    from ledgerlm.proxy.call import ProxyCall
    from ledgerlm.proxy.lifecycle import StreamEncoder

__all__ = ["STREAMED_CALL_TYPES", "cache_lookup", "cache_replay", "cache_store", "cache_store_stream"]

log = logging.getLogger("ledgerlm.proxy")


STREAMED_CALL_TYPES = frozenset({"acompletion", "completion"})
"""Call types whose streams are served from and stored in the cache (OpenAI chat chunks)."""


def _key(call: ProxyCall) -> tuple[str, CacheControls] | None:
    cache = call.state.response_cache
    if cache is None or not cache.supports(call.call_type):
        return None
    if call.stream and call.call_type not in STREAMED_CALL_TYPES:
        return None
    controls = CacheControls.from_body(call.body)
    return cache.key(call.call_type, call.model, call.body, controls), controls


async def cache_lookup(call: ProxyCall) -> ChatResult | None:
    """The cached answer as a ``ChatResult`` (record written, callbacks run), or None (miss, no cache,
    streamed call, ``no-cache``)."""
    keyed = _key(call)
    if keyed is None:
        return None
    key, controls = keyed
    call.cache_key = key
    assert call.state.response_cache is not None
    try:
        entry = await call.state.response_cache.lookup(key, controls)
    except Exception as exc:
        log.warning("response cache lookup failed (%r): calling the provider", exc)
        return None
    if entry is None:
        return None
    return _emit_hit(call, key, entry)


def _emit_hit(call: ProxyCall, key: str, entry: dict[str, Any]) -> ChatResult:
    deployment = call.deployment
    assert deployment is not None
    ctx = call.ctx
    body = entry["body"]
    options = CallOptions(ctx, call.call_type)
    spent = Call(options, deployment, call.body, call.stream, time.time(), requested_model=call.model)
    spent.cost = Cost(total=Decimal(0))
    record = build_record(spent, response=body)
    cache = {"key": key, "saved_cost": entry.get("cost"), "cached_usage": entry.get("usage")}
    record = record.model_copy(update={"cache_hit": True, "metadata": {**record.metadata, "cache": cache}})
    handle = start_call(
        CallStart(
            call_type=call.call_type,
            model=call.model,
            messages=call.body.get("messages", call.body.get("input")),
            params=call.body,
            context=ctx,
            is_async=True,
            per_call_callbacks=call.state.callbacks.per_call or [],
        ),
        call.state.runtime.callback_lists(),
        call.state.runtime.workers,  # the app's own dispatcher and record pipeline
    )
    handle.add_sink(call.sink)
    handle.success(record, body)
    return ChatResult(body, Usage(), Cost(total=Decimal(0)), record, None)


async def cache_store(call: ProxyCall, result: Any) -> None:
    """Store a successful non-streamed answer (unless ``no-store``)."""
    await _store(call, result.body, result.record)


async def _store(call: ProxyCall, body: dict[str, Any], record: CallRecord) -> None:
    keyed = _key(call)
    if keyed is None or call.state.response_cache is None:
        return
    key, controls = keyed
    entry = {
        "body": body,
        "usage": record.usage.model_dump(mode="json"),
        "cost": None if record.response_cost is None else format(record.response_cost, "f"),
        "deployment_id": record.deployment_id,
    }
    try:
        await call.state.response_cache.store(key, entry, controls)
    except Exception as exc:
        log.warning("response cache store failed (%r): answer not cached", exc)
        return
    if not controls.no_store:
        call.cache_key = key


async def cache_store_stream(call: ProxyCall, stream: Any) -> None:
    """Store a stream that completed well (its items kept by ``RoutedStream``; module docstring)."""
    items = getattr(stream, "items", None)
    record = call.sink.record
    if items is None or not getattr(stream, "completed", False) or record is None:
        return
    if record.status != "success":
        return
    usage = openai_usage(record.usage.input_tokens, record.usage.output_tokens)
    await _store(call, body_from_chunks(items, usage), record)


async def cache_replay(
    call: ProxyCall, encoder: StreamEncoder, hit: ChatResult
) -> AsyncGenerator[bytes, None]:
    """A streamed hit: the row (already written) flushed, the reservation settled at 0, then the
    cached body replayed as chunks through ``encoder`` (module docstring)."""
    options = call.body.get("stream_options")
    include = isinstance(options, dict) and bool(options.get("include_usage"))
    call.sink.flush(call.content(), hit.body if call.sink.defer else None)
    await call.settle(hit.record)
    for chunk in chunks_from_body(hit.body, include_usage=include):
        for frame in encoder.feed(chunk):
            yield frame
    for frame in encoder.finish(hit):
        yield frame
