"""``Router``: the one router of the SDK and the proxy: pick a deployment, run attempts with retries,
fallbacks and cooldowns (LiteLLM's semantics: https://docs.litellm.ai/docs/routing,
https://docs.litellm.ai/docs/proxy/reliability).

::

    router = Router(groups, settings, state)
    entry = await router.pick("gpt-4o")                       # Entry (its .deployment), or 404 / 429
    result, info = await router.run("gpt-4o", attempt, RequestOptions(...), first=entry)

``attempt(Attempt) -> result`` makes ONE provider call on ``Attempt.deployment`` with its
``timeout``/``max_retries``; it raises the provider's ``APIError`` on failure. A streamed result
(``RequestOptions.stream``) with an ``on_finish(fn)`` method stays in flight until it ends; its tokens
count toward the deployment's tpm then (``fn(total_tokens)``; latency is the time to its first item).
The router:

1. picks a healthy deployment of the group with the strategy (cooled-down ones left out; all cooling:
   429 ``no_deployments_available`` with the seconds left as ``retry_after``);
2. retries ``num_retries`` times on retryable errors (408/409/429/5xx, connection, timeout); the next
   pick may be another deployment; it waits the provider's ``Retry-After`` (at least ``retry_after``)
   when no other deployment is healthy, else exponential backoff (0.5 s doubling, at most 8 s);
3. records each failure: 401/404/408/429 cool the deployment down at once, other deployment failures
   after ``allowed_fails`` in one minute, for ``cooldown_time`` seconds (never the only deployment of
   a group, as LiteLLM);
4. on the group's final failure tries the fallbacks in order: ``context_window_fallbacks`` for a
   context-window error, ``content_policy_fallbacks`` for a content-policy one, else ``fallbacks``
   (``"*"`` applies to every group), else ``default_fallbacks``; per-request lists replace the
   configured ones; a 4xx the caller caused is never retried nor falls back. Fallback groups the caller
   may not use (``allowed``) are skipped. When every fallback failed, the ORIGINAL error is raised.

``RunInfo`` (returned, and set as ``routing_info`` on a raised error) carries what the
``x-litellm-*`` headers report.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, TypeVar

from ledgerlm.errors import InternalServerError, RateLimitError
from ledgerlm.providers.base import Deployment
from ledgerlm.routing import classify
from ledgerlm.routing.budget_limits import budget_keys, over_budget_error
from ledgerlm.routing.filters import by_order, by_tags
from ledgerlm.routing.groups import Entry, ModelGroups, Resolved
from ledgerlm.routing.settings import FallbackMap, RouterSettings
from ledgerlm.routing.state import MemoryState, RoutingState, Stats
from ledgerlm.routing.strategies import STRATEGY_FUNCTIONS
from ledgerlm.transport import RetryPolicy

__all__ = ["Attempt", "AttemptFn", "RequestOptions", "Router", "RunInfo"]

log = logging.getLogger("ledgerlm.routing")
T = TypeVar("T")
STATE_RETRY_S = 5.0
"""Seconds routing goes on without its (shared) state after the state store failed."""
_BACKOFF = RetryPolicy(initial_delay_s=0.5, max_delay_s=8.0, max_retry_after_s=60.0)


@dataclass(slots=True)
class RequestOptions:
    """Per-request routing options (LiteLLM request-body keys): ``num_retries``, ``timeout`` /
    ``stream_timeout`` (seconds), ``fallbacks`` / ``context_window_fallbacks`` /
    ``content_policy_fallbacks`` (group names, or ``{"model": name, ...overrides}``),
    ``disable_fallbacks``, ``mock_testing_fallbacks``; ``stream``; ``tokens`` (estimated, for tpm);
    ``tags`` (the request's, for tag-based routing)."""

    num_retries: int | None = None
    timeout: float | None = None
    stream_timeout: float | None = None
    fallbacks: list[Any] | None = None
    context_window_fallbacks: list[Any] | None = None
    content_policy_fallbacks: list[Any] | None = None
    disable_fallbacks: bool = False
    mock_testing_fallbacks: bool = False
    stream: bool = False
    tokens: int = 0
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Attempt:
    """One provider attempt: ``entry`` (its ``deployment``), ``group`` (model group), ``number``
    (1-based over the whole request), ``timeout`` (seconds), ``max_retries`` (transport retries inside
    the attempt), ``overrides`` (body fields a per-request fallback replaces, e.g. ``messages``)."""

    entry: Entry
    group: str
    number: int
    timeout: float | None
    max_retries: int
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def deployment(self) -> Deployment:
        return self.entry.deployment


@dataclass(slots=True)
class RunInfo:
    """What happened: ``model_group`` and ``entry`` of the last attempt, ``attempted_retries`` (retries
    in the group that answered or failed last), ``attempted_fallbacks`` (fallback groups tried),
    ``attempts`` (provider attempts made)."""

    model_group: str = ""
    entry: Entry | None = None
    attempted_retries: int = 0
    attempted_fallbacks: int = 0
    attempts: int = 0


AttemptFn = Callable[[Attempt], Awaitable[T]]


class _Run(Generic[T]):
    """The state of one ``Router.run``."""

    def __init__(self, attempt: AttemptFn[T], options: RequestOptions, first: Entry | None) -> None:
        self.attempt = attempt
        self.options = options
        self.first = first
        self.info = RunInfo()


class Router:
    """Model groups + settings + shared state (see the module docstring)."""

    def __init__(
        self, groups: ModelGroups, settings: RouterSettings | None = None, state: RoutingState | None = None
    ) -> None:
        self.groups = groups
        self.settings = settings or RouterSettings()
        self.state: RoutingState = state or MemoryState()
        self.strategy = STRATEGY_FUNCTIONS[self.settings.routing_strategy]
        self._background: set[asyncio.Task[Any]] = set()
        self._state_down_until = 0.0
        self._by_id = {e.id: e for e in groups.all_entries()}
        self._slots: dict[str, asyncio.Semaphore] = {}

    # -- state (a broken shared state never fails a call: logged, then defaults) ----------------------

    async def stats(self, entries: list[Entry]) -> dict[str, Stats]:
        """``Stats`` per entry id (defaults when the state store fails, and for ``STATE_RETRY_S``
        after a failure: a Redis outage costs one timeout, not one per request)."""
        ids = [e.id for e in entries]
        if time.monotonic() < self._state_down_until:
            return {i: Stats() for i in ids}
        try:
            return await self.state.stats(ids)
        except Exception as exc:
            self._state_failed(exc)
            return {i: Stats() for i in ids}

    def _state_failed(self, exc: BaseException) -> None:
        self._state_down_until = time.monotonic() + STATE_RETRY_S
        log.warning("routing state unavailable (%r): routing without it for %.0f s", exc, STATE_RETRY_S)

    async def _safe(self, call: Coroutine[Any, Any, Any]) -> Any:
        if time.monotonic() < self._state_down_until:
            call.close()
            return None
        try:
            return await call
        except Exception as exc:
            self._state_failed(exc)
            return None

    async def _note(self, call: Coroutine[Any, Any, Any]) -> None:
        """A usage update (in flight, rpm/tpm, latency): awaited on in-process state; on shared state
        (Redis) sent as a background task so its round trip is not on the response path."""
        if isinstance(self.state, MemoryState):
            await self._safe(call)
            return
        task = asyncio.get_running_loop().create_task(self._safe(call))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Wait (at most ``timeout_s``) for background state updates, then close the state store."""
        pending = list(self._background)
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        await self.state.close()

    # -- pick -------------------------------------------------------------------------------------------

    def resolve(self, name: str) -> Resolved:
        """The group serving ``name`` (404 ``model_not_found`` when none)."""
        return self.groups.resolve(name)

    async def pick(
        self,
        name: str,
        *,
        tokens: int = 0,
        exclude: frozenset[str] = frozenset(),
        tags: Sequence[str] = (),
    ) -> Entry:
        """A healthy deployment of ``name`` chosen by the strategy after the filters
        (``routing.filters``: tags, budgets, order). Raises 404 (unknown), 400 (tags match no
        deployment), 429 ``no_deployments_available`` (all cooling down or over budget;
        ``retry_after`` = seconds left)."""
        resolved = self.resolve(name)
        stats = await self.stats(resolved.entries)
        healthy = [e for e in resolved.entries if stats[e.id].cooldown_s <= 0]
        if not healthy:
            wait = min(s.cooldown_s for s in stats.values())
            raise RateLimitError(
                f"No deployments available for selected model {name!r}: all are cooling down; "
                f"try again in {wait:.1f} seconds",
                code="no_deployments_available",
                retry_after=wait,
            )
        if self.settings.enable_tag_filtering:
            healthy = by_tags(healthy, tags, match_any=self.settings.tag_filtering_match_any, model=name)
        healthy = await self._within_budget(name, healthy)
        if exclude and len(healthy) > 1:
            healthy = [e for e in healthy if e.id not in exclude] or healthy
        return self.strategy(by_order(healthy), stats, tokens, self.settings.lowest_latency_buffer)

    # -- budgets (routing.budget_limits) ----------------------------------------------------------------

    async def _within_budget(self, name: str, entries: list[Entry]) -> list[Entry]:
        """``entries`` without those over a budget (429 when none is left)."""
        providers = self.settings.provider_budget_config
        now = time.time()
        keyed = {e.id: budget_keys(e, providers, now) for e in entries}
        wanted = sorted({k for pairs in keyed.values() for k, _ in pairs})
        if not wanted:
            return entries
        spent = await self._safe(self.state.spend(wanted))
        if not isinstance(spent, dict):
            return entries  # the state store failed: routing goes on without budgets
        left = [e for e in entries if all(spent[k] < b.limit for k, b in keyed[e.id])]
        if not left:
            raise over_budget_error(name, entries, providers)
        return left

    def spent(self, deployment_id: str | None, usd: Decimal | None) -> None:
        """Count ``usd`` (one attempt's cost) toward the budgets of the deployment and its provider
        (sent in the background; a no-op when no budget applies)."""
        entry = self._by_id.get(deployment_id or "")
        if entry is None or not usd:
            return
        pairs = budget_keys(entry, self.settings.provider_budget_config, time.time())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a record finished outside the loop (a dropped stream's finalizer)
            return
        for key, budget in pairs:
            task = loop.create_task(self._safe(self.state.add_spend(key, usd, budget.seconds)))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _slot(self, entry: Entry) -> asyncio.Semaphore | None:
        """The deployment's ``max_parallel_requests`` semaphore (else the router's default), or None."""
        limit = entry.max_parallel_requests or self.settings.default_max_parallel_requests
        if limit is None:
            return None
        slot = self._slots.get(entry.id)
        if slot is None:
            slot = self._slots[entry.id] = asyncio.Semaphore(limit)
        return slot

    # -- run --------------------------------------------------------------------------------------------

    async def run(
        self,
        name: str,
        attempt: AttemptFn[T],
        options: RequestOptions | None = None,
        *,
        first: Entry | None = None,
        allowed: Callable[[str], bool] | None = None,
    ) -> tuple[T, RunInfo]:
        """Serve ``name`` with retries and fallbacks (module docstring). Raises the original error with
        ``routing_info`` set when every attempt failed."""
        run = _Run(attempt, options or RequestOptions(), first)
        try:
            return await self._group(run, name, {}), run.info
        except Exception as exc:
            original = exc
        chain = [] if run.options.disable_fallbacks else self._fallbacks(name, original, run.options)
        for target, overrides in chain:
            if allowed is not None and not allowed(target):
                continue
            run.info.attempted_fallbacks += 1
            run.first = None
            try:
                return await self._group(run, target, overrides), run.info
            except Exception as exc:
                log.info("fallback %r for %r failed: %r", target, name, exc)
        original.routing_info = run.info  # type: ignore[attr-defined]
        raise original

    async def _group(self, run: _Run[T], name: str, overrides: dict[str, Any]) -> T:
        """One model group: attempts with retries (module docstring, steps 1-3)."""
        retries = (
            run.options.num_retries if run.options.num_retries is not None else self.settings.num_retries
        )
        run.info.attempted_retries = 0
        tried: set[str] = set()
        for number in range(retries + 1):
            entry = run.first or await self.pick(
                name, tokens=run.options.tokens, exclude=frozenset(tried), tags=run.options.tags
            )
            run.first = None
            tried.add(entry.id)
            run.info.model_group, run.info.entry = self.resolve(name).group, entry
            try:
                return await self._attempt(run, entry, run.info.model_group, overrides)
            except Exception as exc:
                if number >= retries or not classify.retryable(exc):
                    raise
                await asyncio.sleep(await self._delay(name, entry, exc, number))
                run.info.attempted_retries += 1
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, run: _Run[T], entry: Entry, group: str, overrides: dict[str, Any]) -> T:
        run.info.attempts += 1
        spec = Attempt(
            entry=entry,
            group=group,
            number=run.info.attempts,
            timeout=self._timeout(entry, run.options),
            max_retries=entry.max_retries or 0,
            overrides=overrides,
        )
        await self._note(self.state.begin(entry.id))
        started = time.perf_counter()
        try:
            if run.options.mock_testing_fallbacks and run.info.attempted_fallbacks == 0:
                raise InternalServerError("mock_testing_fallbacks: this attempt fails on purpose")
            slot = self._slot(entry)
            if slot is None:
                result = await run.attempt(spec)
            else:
                async with slot:  # max_parallel_requests: wait for a free slot
                    result = await run.attempt(spec)
        except BaseException as exc:
            await self._note(self.state.end(entry.id, None, 0))
            if isinstance(exc, Exception):
                await self._failed(group, entry, exc)
            raise
        latency = time.perf_counter() - started
        on_finish = getattr(result, "on_finish", None) if run.options.stream else None
        if callable(on_finish):  # a stream: in flight until it ends, its tokens counted then
            on_finish(lambda tokens: self._note(self.state.end(entry.id, latency, tokens)))
            return result
        usage = getattr(result, "usage", None)
        tokens = int(getattr(usage, "total_tokens", 0) or 0)
        await self._note(self.state.end(entry.id, latency, tokens))
        return result

    def _timeout(self, entry: Entry, options: RequestOptions) -> float | None:
        """Per request, else per deployment, else router settings (stream: ``stream_timeout`` first)."""
        if options.stream:
            for value in (
                options.stream_timeout,
                options.timeout,
                entry.stream_timeout,
                self.settings.stream_timeout,
            ):
                if value is not None:
                    return value
        for value in (options.timeout, entry.deployment.timeout, self.settings.timeout):
            if value is not None:
                return value
        return None

    async def _failed(self, group: str, entry: Entry, exc: Exception) -> None:
        """Count the failure; cool the deployment down when due (never a group's only deployment)."""
        s = self.settings
        if s.disable_cooldowns or not classify.counts_as_failure(exc):
            return
        found = self.groups.find(group)
        if found is None or len(found.entries) < 2:
            return
        if classify.cooldown_now(exc):
            await self._safe(self.state.cool(entry.id, s.cooldown_time))
            return
        fails = await self._safe(self.state.fail(entry.id))
        if isinstance(fails, int) and fails > s.allowed_fails:
            await self._safe(self.state.cool(entry.id, s.cooldown_time))

    async def _delay(self, name: str, entry: Entry, exc: Exception, number: int) -> float:
        """Seconds before the next attempt (module docstring, step 2)."""
        floor = self.settings.retry_after
        resolved = self.groups.find(name)
        others = [e for e in (resolved.entries if resolved else ()) if e.id != entry.id]
        if others:
            stats = await self.stats(others)
            if any(stats[e.id].cooldown_s <= 0 for e in others):
                return floor
        return max(floor, _BACKOFF.delay(number, classify.retry_after_of(exc)))

    def _fallbacks(
        self, name: str, exc: Exception, options: RequestOptions
    ) -> list[tuple[str, dict[str, Any]]]:
        """The fallback groups for ``exc`` in order, with per-request overrides (module docstring)."""
        s = self.settings
        kind = classify.kind(exc)
        if kind == "context_window":
            given, configured = options.context_window_fallbacks, s.context_window_fallbacks
        elif kind == "content_policy":
            given, configured = options.content_policy_fallbacks, s.content_policy_fallbacks
        elif kind == "transient":
            given, configured = options.fallbacks, s.fallbacks
        else:
            return []
        if given is not None:
            return _request_fallbacks(given, name)
        chain = _lookup(configured, name)
        if not chain and kind == "transient":
            chain = list(s.default_fallbacks)
        return [(target, {}) for target in chain if target != name]


def _lookup(fallbacks: FallbackMap, name: str) -> list[str]:
    return list(fallbacks.get(name) or fallbacks.get("*") or [])


def _request_fallbacks(given: list[Any], name: str) -> list[tuple[str, dict[str, Any]]]:
    """Per-request fallbacks: ``["b", {"model": "c", "messages": [...]}]`` or ``[{"a": ["b"]}]``."""
    out: list[tuple[str, dict[str, Any]]] = []
    for item in given:
        if isinstance(item, str):
            out.append((item, {}))
        elif isinstance(item, dict) and isinstance(item.get("model"), str):
            out.append((item["model"], {k: v for k, v in item.items() if k != "model"}))
        elif isinstance(item, dict):
            for target in item.get(name) or item.get("*") or []:
                out.append((str(target), {}))
    return out
