"""Callbacks named in the config, and the proxy hooks of ``CustomLogger`` (LiteLLM names and arguments).

Loading (``load_callbacks``): each name in ``litellm_settings.callbacks`` / ``success_callback`` /
``failure_callback`` is either ``module.attribute`` (an instance, a class instantiated without arguments,
or a plain function ``fn(kwargs, response, start_time, end_time)``; the module is imported normally, else
from ``<config dir>/<module>.py`` like LiteLLM), or an exporter name resolved by
``ledgerlm.integrations.get_exporter(name, settings)``; anything else: ``ConfigError("unknown callback")``.

Hooks (``ProxyHooks``), called only for loggers that override them:

* ``async_pre_call_hook(user_api_key_dict, cache, data, call_type)`` -> a dict replaces the request, a
  string rejects it (400, the string is the message); an exception rejects it (400 with its message,
  or its own status for ledgerlm errors);
* ``async_moderation_hook(data, user_api_key_dict, call_type)``: all run concurrently after the pre-call
  hooks, before the upstream call; raising rejects (400);
* ``async_post_call_success_hook(data, user_api_key_dict, response)`` -> a dict replaces the response;
* ``async_post_call_failure_hook(request_data, original_exception, user_api_key_dict)``;
* ``async_post_call_streaming_hook(user_api_key_dict, response)`` per chunk -> a dict replaces the chunk.

Post-call hooks that raise are logged and never change the response.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import logging
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ledgerlm.callbacks import CustomLogger
from ledgerlm.callbacks.workers import CallbackWorkers
from ledgerlm.errors import BadRequestError, ConfigError, LedgerLMError
from ledgerlm.proxy.auth import KeyContext

__all__ = ["HookCache", "LoadedCallbacks", "ProxyHooks", "close_callbacks", "load_callbacks"]

log = logging.getLogger("ledgerlm.proxy")


class HookCache:
    """The ``cache`` argument of ``async_pre_call_hook``: an in-process key/value store with LiteLLM's
    ``DualCache`` method names (``ttl``: seconds; ``None`` keeps the value). Values live in this proxy
    process only (LiteLLM's ``DualCache`` also writes to Redis)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = 100_000) -> None:
        self._data: dict[str, tuple[float | None, Any]] = {}
        self._clock = clock
        self._max = max_entries

    def get_cache(self, key: str, **_: Any) -> Any:
        """The value, or None when absent or expired."""
        entry = self._data.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires is not None and expires <= self._clock():
            self._data.pop(key, None)
            return None
        return value

    def set_cache(self, key: str, value: Any, ttl: float | None = None, **_: Any) -> None:
        """Store ``value`` (for ``ttl`` seconds); the oldest half is dropped when full."""
        if len(self._data) >= self._max and key not in self._data:
            for old in list(self._data)[: self._max // 2]:
                self._data.pop(old, None)
        self._data[key] = (None if ttl is None else self._clock() + float(ttl), value)

    def delete_cache(self, key: str) -> None:
        self._data.pop(key, None)

    def increment_cache(self, key: str, value: float, ttl: float | None = None, **_: Any) -> float:
        """Add ``value`` to a number (absent: 0) and return the result."""
        total = (self.get_cache(key) or 0) + value
        self.set_cache(key, total, ttl=ttl)
        return float(total)

    def batch_get_cache(self, keys: list[str], **_: Any) -> list[Any]:
        return [self.get_cache(k) for k in keys]

    async def async_get_cache(self, key: str, **kwargs: Any) -> Any:
        return self.get_cache(key, **kwargs)

    async def async_set_cache(self, key: str, value: Any, ttl: float | None = None, **kwargs: Any) -> None:
        self.set_cache(key, value, ttl=ttl, **kwargs)

    async def async_delete_cache(self, key: str) -> None:
        self.delete_cache(key)

    async def async_increment_cache(
        self, key: str, value: float, ttl: float | None = None, **_: Any
    ) -> float:
        return self.increment_cache(key, value, ttl=ttl)

    async def async_batch_get_cache(self, keys: list[str], **_: Any) -> list[Any]:
        return self.batch_get_cache(keys)


class _SyncFunctionOn(CustomLogger):
    """A plain function ``fn(kwargs, response, start_time, end_time)`` from ``success_callback`` (or
    ``failure_callback``): called for that event only, in the dispatcher's thread pool."""

    def __init__(self, fn: Callable[..., Any], kind: str) -> None:
        self.fn = fn
        self.kind = kind

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        if self.kind == "success":
            self.fn(kwargs, response_obj, start_time, end_time)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        if self.kind == "failure":
            self.fn(kwargs, response_obj, start_time, end_time)


class _AsyncOn(CustomLogger):
    """An ``async def`` function, or a ``CustomLogger``, restricted to success (or failure) events."""

    def __init__(self, inner: Any, kind: str) -> None:
        self.inner = inner
        self.kind = kind

    async def _forward(self, kind: str, args: tuple[Any, ...]) -> None:
        if kind != self.kind:
            return
        inner = self.inner
        if isinstance(inner, CustomLogger):
            await getattr(inner, f"async_log_{kind}_event")(*args)
        else:
            await inner(*args)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        await self._forward("success", (kwargs, response_obj, start_time, end_time))

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        await self._forward("failure", (kwargs, response_obj, start_time, end_time))


def _only_on(obj: Any, kind: str) -> CustomLogger:
    if isinstance(obj, CustomLogger) and not _overrides(obj, f"async_log_{kind}_event"):
        # a logger with only the sync hook runs in the dispatcher's thread pool, never on its loop
        return _SyncFunctionOn(getattr(obj, f"log_{kind}_event"), kind)
    if isinstance(obj, CustomLogger) or inspect.iscoroutinefunction(obj):
        return _AsyncOn(obj, kind)
    if not callable(obj):
        raise ConfigError(f"{kind}_callback entries must be functions or CustomLogger instances")
    return _SyncFunctionOn(obj, kind)


class LoadedCallbacks:
    """Callbacks for every call (``per_call``: passed to the engine) and the proxy-hook loggers."""

    def __init__(self, per_call: list[Any], loggers: list[CustomLogger]) -> None:
        self.per_call = per_call
        self.loggers = loggers


def _import_attr(spec: str, base_dir: Path | None) -> Any:
    module_name, _, attr = spec.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        candidate = (base_dir / (module_name.replace(".", "/") + ".py")) if base_dir else None
        if candidate is None or not candidate.is_file():
            raise
        file_spec = importlib.util.spec_from_file_location(module_name, candidate)
        if file_spec is None or file_spec.loader is None:
            raise
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[module_name] = module
        file_spec.loader.exec_module(module)
    if not hasattr(module, attr):
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}")
    return getattr(module, attr)


def _exporter(name: str, settings: Mapping[str, Any]) -> Any:
    try:
        integrations = importlib.import_module("ledgerlm.integrations")
    except ImportError:  # pragma: no cover
        integrations = None
    get_exporter: Callable[..., Any] | None = getattr(integrations, "get_exporter", None)
    if get_exporter is None:
        raise ConfigError(f"unknown callback {name!r} (no exporter registry available)")
    try:
        return get_exporter(name, settings)
    except (KeyError, LookupError) as exc:
        raise ConfigError(f"unknown callback {name!r}") from exc


def load_one(name: str, settings: Mapping[str, Any], base_dir: Path | None, path: str) -> Any:
    """Resolve one callback name (see the module docstring). Raises ``ConfigError`` with ``path``."""
    try:
        if "." in name:
            obj = _import_attr(name, base_dir)
            return obj() if isinstance(obj, type) else obj
        return _exporter(name, settings)
    except ConfigError as exc:
        raise ConfigError(exc.message, path=path) from None
    except Exception as exc:
        raise ConfigError(f"cannot load callback {name!r}: {exc}", path=path) from None


def load_callbacks(
    callbacks: list[str],
    success: list[str],
    failure: list[str],
    *,
    settings: Mapping[str, Any],
    base_dir: Path | None = None,
) -> LoadedCallbacks:
    """Load ``litellm_settings`` callbacks once at start. Raises ``ConfigError`` naming the bad entry."""
    per_call: list[Any] = []
    loggers: list[CustomLogger] = []
    for index, name in enumerate(callbacks):
        obj = load_one(name, settings, base_dir, f"litellm_settings.callbacks[{index}]")
        per_call.append(obj)
        if isinstance(obj, CustomLogger):
            loggers.append(obj)
    for kind, names in (("success", success), ("failure", failure)):
        for index, name in enumerate(names):
            obj = load_one(name, settings, base_dir, f"litellm_settings.{kind}_callback[{index}]")
            per_call.append(_only_on(obj, kind))
    return LoadedCallbacks(per_call=per_call, loggers=loggers)


def _overrides(obj: Any, name: str) -> bool:
    method = getattr(type(obj), name, None)
    return method is not None and method is not getattr(CustomLogger, name, None)


class ProxyHooks:
    """Runs the proxy hooks of the loaded loggers. Cheap when no logger overrides a hook."""

    def __init__(self, loggers: list[CustomLogger]) -> None:
        self.cache = HookCache()
        self.pre = [x for x in loggers if _overrides(x, "async_pre_call_hook")]
        self.success = [x for x in loggers if _overrides(x, "async_post_call_success_hook")]
        self.failure = [x for x in loggers if _overrides(x, "async_post_call_failure_hook")]
        self.streaming = [x for x in loggers if _overrides(x, "async_post_call_streaming_hook")]
        self.moderation = [x for x in loggers if _overrides(x, "async_moderation_hook")]
        if self.moderation:  # moderation runs in the pre-call step (see ``pre_call``)
            self.pre = list(dict.fromkeys([*self.pre, *self.moderation]))

    async def pre_call(self, ctx: KeyContext, data: dict[str, Any], call_type: str) -> dict[str, Any]:
        """Run pre-call hooks in order, then every ``async_moderation_hook(data, user_api_key_dict,
        call_type)`` concurrently; returns the (maybe replaced) request. A hook that raises, or a pre-call
        hook that returns a string (LiteLLM's way to reject, the string is the message), rejects the
        request with 400 ``rejected_by_hook``. Moderation runs BEFORE the upstream call (LiteLLM runs it
        beside the call), so a rejected request costs nothing."""
        for logger in self.pre:
            if not _overrides(logger, "async_pre_call_hook"):
                continue
            result = await _guarded(logger.async_pre_call_hook(ctx, self.cache, data, call_type))
            if isinstance(result, str):
                raise BadRequestError(result, code="rejected_by_hook")
            if isinstance(result, dict):
                data = result
        if self.moderation:
            checks = [_guarded(x.async_moderation_hook(data, ctx, call_type)) for x in self.moderation]
            await asyncio.gather(*checks)
        return data

    async def post_success(self, data: dict[str, Any], ctx: KeyContext, response: Any) -> Any:
        """Run success hooks; a dict returned replaces the response."""
        for logger in self.success:
            try:
                result = await logger.async_post_call_success_hook(data, ctx, response)
            except Exception:
                log.exception("async_post_call_success_hook of %s raised", type(logger).__name__)
                continue
            if isinstance(result, dict):
                response = result
        return response

    async def post_failure(self, data: dict[str, Any], exc: BaseException, ctx: KeyContext) -> None:
        """Run failure hooks (errors logged)."""
        for logger in self.failure:
            try:
                await logger.async_post_call_failure_hook(data, exc, ctx)
            except Exception:
                log.exception("async_post_call_failure_hook of %s raised", type(logger).__name__)

    async def on_chunk(self, ctx: KeyContext, chunk: dict[str, Any]) -> dict[str, Any]:
        """Run streaming hooks on one chunk; a dict returned replaces it."""
        for logger in self.streaming:
            try:
                result = await logger.async_post_call_streaming_hook(ctx, chunk)
            except Exception:
                log.exception("async_post_call_streaming_hook of %s raised", type(logger).__name__)
                continue
            if isinstance(result, dict):
                chunk = result
        return chunk


async def _guarded(awaitable: Any) -> Any:
    """Await a hook; anything it raises other than a ledgerlm API error becomes a 400 naming it."""
    try:
        return await awaitable
    except LedgerLMError:
        raise
    except Exception as exc:
        raise BadRequestError(str(exc) or type(exc).__name__, code="rejected_by_hook") from exc


async def close_callbacks(
    loaded: LoadedCallbacks, workers: CallbackWorkers | None = None, timeout_s: float = 10.0
) -> None:
    """At shutdown: drain the callback queues (the app's own ``workers``; ``None``: every dispatcher),
    then flush and close every loaded exporter (objects with an ``aclose()``), so queued events reach
    their backends. Errors are logged, never raised."""
    from ledgerlm.callbacks import aflush

    try:
        await aflush(timeout=timeout_s, workers=workers)
    except Exception:
        log.exception("flushing callbacks at shutdown failed")
    for obj in loaded.per_call:
        target = obj.inner if isinstance(obj, _AsyncOn) else obj
        aclose = getattr(target, "aclose", None)
        if aclose is None or not inspect.iscoroutinefunction(aclose):
            continue
        try:
            await aclose()
        except Exception:
            log.exception("closing callback %r at shutdown failed", type(target).__name__)
