"""``CustomLogger``: the callback base class, with LiteLLM's hook names.

Override the hooks you need; the others are no-ops. Every hook runs off the response path (see
``ledgerlm.callbacks.dispatcher``): sync hooks in a bounded thread pool, ``async`` hooks on the
dispatcher's own event loop (never the caller's). What a hook raises is logged and counted, never
propagated to the caller.

Arguments (LiteLLM's shapes): ``kwargs`` is the payload dict (``model``, ``messages``,
``response_cost`` (``Decimal`` USD or ``None`` when unpriced), ``cache_hit``, ``litellm_params``
with ``metadata``, ``exception`` on failure, ``standard_logging_object`` (the ``CallRecord`` as a
JSON dict) ...); ``response_obj`` is the response (the assembled response for streams, the
exception on failure); ``start_time`` / ``end_time`` are timezone-aware UTC ``datetime`` objects.

Which hooks fire for sync, async and streamed calls is tabled in ``docs/callbacks.md``.
"""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ["CustomLogger", "is_async_hook", "overrides"]


class CustomLogger:
    """Base class for callbacks. Register an instance in ``ledgerlm.callbacks`` or per call."""

    # -- call events ---------------------------------------------------------------------------
    def log_pre_api_call(self, model: str, messages: Any, kwargs: dict[str, Any]) -> None:
        """Before the provider is called (every call)."""

    def log_post_api_call(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """After the provider answered or failed (every call, once, before the terminal hook)."""

    def log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call succeeded (sync calls; also async calls when no async hook is overridden)."""

    def log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call failed (sync calls; also async calls when no async hook is overridden)."""

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call succeeded (async calls; also sync calls when no sync hook is overridden)."""

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """A call failed (async calls; also sync calls when no sync hook is overridden)."""

    # -- opt-in per-chunk hooks (called only when overridden) -----------------------------------
    def log_stream_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """One streamed chunk (``response_obj`` is the chunk) of a sync stream."""

    async def async_log_stream_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        """One streamed chunk (``response_obj`` is the chunk) of an async stream."""

    # -- proxy hooks (called by the proxy, inline; defaults are no-ops) -------------------------
    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: str
    ) -> Any:
        """Proxy: before routing. Return a modified ``data`` dict, ``None`` to keep it, or a string to
        reject the request (400, the string is the message)."""
        return None

    async def async_moderation_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, call_type: str
    ) -> Any:
        """Proxy: check the request (raise to reject it with 400); runs after the pre-call hooks."""
        return None

    async def async_post_call_success_hook(
        self, data: dict[str, Any], user_api_key_dict: Any, response: Any
    ) -> Any:
        """Proxy: after a successful call, before the response is sent. Return ``None`` to keep it."""
        return None

    async def async_post_call_failure_hook(
        self, request_data: dict[str, Any], original_exception: BaseException, user_api_key_dict: Any
    ) -> Any:
        """Proxy: after a failed call, before the error is sent."""
        return None

    async def async_post_call_streaming_hook(self, user_api_key_dict: Any, response: Any) -> Any:
        """Proxy: on a streamed response. Return ``None`` to keep it."""
        return None


def overrides(target: object, hook: str) -> bool:
    """True when ``target``'s class overrides ``CustomLogger.<hook>`` (or adds it on a non-logger)."""
    cls = type(target)
    key = (cls, hook)
    found = _OVERRIDES.get(key)
    if found is None:
        mine = getattr(cls, hook, None)
        found = _OVERRIDES[key] = mine is not None and mine is not getattr(CustomLogger, hook, None)
    return found


_OVERRIDES: dict[tuple[type, str], bool] = {}


def is_async_hook(target: object, hook: str) -> bool:
    """True when ``target.<hook>`` is ``async def`` (whatever its name says: a user may write
    ``async def log_success_event``); such hooks run on the dispatcher loop, the others in the pool."""
    key = (type(target), hook)
    found = _ASYNC_HOOKS.get(key)
    if found is None:
        found = _ASYNC_HOOKS[key] = inspect.iscoroutinefunction(getattr(type(target), hook, None))
    return found


_ASYNC_HOOKS: dict[tuple[type, str], bool] = {}
