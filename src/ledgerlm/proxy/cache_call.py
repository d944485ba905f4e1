"""The response cache on the proxy's call path (``routing.cache``): a hit answers without a provider
call; a successful non-streamed miss is stored.

A hit's spend row: ``cache_hit`` true, spend 0 (no usage: the provider billed nothing), and
``metadata.request_metadata.cache`` = ``{"key", "saved_cost" (USD decimal string, None when the
original was unpriced), "cached_usage"}``. Callbacks get the success event with ``cache_hit`` True.
The admission reservation is settled at 0: budgets are not charged for hits. Streamed calls are
neither served from nor stored in the cache. Header: ``x-litellm-cache-key`` on hits and stores.
A cache backend that fails (Redis down) is logged and the call goes on uncached.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledgerlm.callbacks import CallStart, start_call
from ledgerlm.engine import ChatResult
from ledgerlm.engine.call import Call, CallOptions
from ledgerlm.engine.record import build_record
from ledgerlm.routing.cache import CacheControls
from ledgerlm.types import Cost, Usage

if TYPE_CHECKING:
    from ledgerlm.proxy.call import ProxyCall

__all__ = ["cache_lookup", "cache_store"]

log = logging.getLogger("ledgerlm.proxy")


def _key(call: ProxyCall) -> tuple[str, CacheControls] | None:
    cache = call.state.response_cache
    if cache is None or call.stream or not cache.supports(call.call_type):
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
    spent = Call(options, deployment, call.body, False, time.time(), requested_model=call.model)
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
        )
    )
    handle.add_sink(call.sink)
    handle.success(record, body)
    return ChatResult(body, Usage(), Cost(total=Decimal(0)), record, None)


async def cache_store(call: ProxyCall, result: Any) -> None:
    """Store a successful non-streamed answer (unless ``no-store``)."""
    keyed = _key(call)
    if keyed is None or call.state.response_cache is None:
        return
    key, controls = keyed
    record = result.record
    entry = {
        "body": result.body,
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
