"""Routing settings: LiteLLM's ``router_settings`` (and the routing keys of ``litellm_settings``),
validated once at load into one frozen ``RouterSettings``.

Keys honoured (names and defaults as LiteLLM documents them, https://docs.litellm.ai/docs/routing and
https://docs.litellm.ai/docs/proxy/reliability)::

    router_settings:
      routing_strategy: simple-shuffle | least-busy | latency-based-routing | usage-based-routing-v2
                        | cost-based-routing          (also accepted: usage-based-routing)
      routing_strategy_args: {lowest_latency_buffer: 0.0, ttl: 3600}
      num_retries: 2            # attempts after the first, per model group (the router is the retry loop)
      retry_after: 0            # minimum seconds to wait before a retry
      timeout: 600              # seconds, a whole non-streamed call
      stream_timeout: null      # seconds to the first byte and between chunks of a stream
      fallbacks: [{"gpt-4o": ["claude"]}]          # "*" as the key: for every group
      context_window_fallbacks: [{"gpt-4o-mini": ["gpt-4o"]}]
      content_policy_fallbacks: [{"gpt-4o": ["claude"]}]
      default_fallbacks: ["claude"]                # when a group has no fallbacks of its own
      allowed_fails: 3          # failures of a deployment in one minute before it cools down
      cooldown_time: 5          # seconds a deployment stays out of the picks
      disable_cooldowns: false
      model_group_alias: {"gpt-4": "gpt-4o"}      # or {"gpt-4": {"model": "gpt-4o", "hidden": true}}
      redis_url / redis_host + redis_port + redis_password: shared state between instances
      enable_tag_filtering: false     # tag-based routing (routing.filters)
      tag_filtering_match_any: true   # a deployment needs ANY request tag (false: ALL of them)
      provider_budget_config: {openai: {budget_limit: 100, time_period: 1d}}   # routing.budget_limits
      default_max_parallel_requests: null   # per deployment without its own max_parallel_requests
    litellm_settings: num_retries, request_timeout, fallbacks, context_window_fallbacks,
                      content_policy_fallbacks, default_fallbacks (router_settings wins)

Raises ``ConfigError`` naming the key for a bad value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ledgerlm.errors import ConfigError
from ledgerlm.routing.budget_limits import Budget, provider_budgets

__all__ = ["STRATEGIES", "FallbackMap", "RouterSettings", "parse_fallbacks", "router_settings"]

STRATEGIES = (
    "simple-shuffle",
    "least-busy",
    "latency-based-routing",
    "usage-based-routing-v2",
    "cost-based-routing",
)
_STRATEGY_ALIASES = {
    "usage-based-routing": "usage-based-routing-v2",
    "latency-based": "latency-based-routing",
}

FallbackMap = dict[str, list[str]]
"""Model group -> the groups tried in order after it failed (``"*"``: any group)."""


@dataclass(frozen=True, slots=True)
class RouterSettings:
    """The routing configuration (see the module docstring for each key; seconds, counts)."""

    routing_strategy: str = "simple-shuffle"
    num_retries: int = 2
    retry_after: float = 0.0
    timeout: float | None = 600.0
    stream_timeout: float | None = None
    fallbacks: FallbackMap = field(default_factory=dict)
    context_window_fallbacks: FallbackMap = field(default_factory=dict)
    content_policy_fallbacks: FallbackMap = field(default_factory=dict)
    default_fallbacks: list[str] = field(default_factory=list)
    allowed_fails: int = 3
    cooldown_time: float = 5.0
    disable_cooldowns: bool = False
    model_group_alias: dict[str, str] = field(default_factory=dict)
    hidden_aliases: frozenset[str] = frozenset()
    lowest_latency_buffer: float = 0.0
    redis_url: str | None = None
    enable_tag_filtering: bool = False
    tag_filtering_match_any: bool = True
    provider_budget_config: dict[str, Budget] = field(default_factory=dict)
    default_max_parallel_requests: int | None = None


def parse_fallbacks(value: Any, path: str) -> FallbackMap:
    """``[{"a": ["b", "c"]}, ...]`` (LiteLLM's list of one-key mappings) or ``{"a": [...]}`` -> map.

    Raises ``ConfigError`` (path) for any other shape."""
    if value is None:
        return {}
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list):
        raise ConfigError("must be a list of {model_group: [fallback groups]}", path=path)
    out: FallbackMap = {}
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigError("must be a mapping {model_group: [fallback groups]}", path=f"{path}[{index}]")
        for name, targets in item.items():
            targets = [targets] if isinstance(targets, str) else targets
            if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
                raise ConfigError("must be a list of model group names", path=f"{path}[{index}].{name}")
            out.setdefault(str(name), []).extend(targets)
    return out


def _number(value: Any, path: str, *, minimum: float = 0.0, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigError(f"must be a number >= {minimum:g}", path=path)
    return float(value)


def _aliases(value: Any) -> tuple[dict[str, str], frozenset[str]]:
    if value is None:
        return {}, frozenset()
    if not isinstance(value, Mapping):
        raise ConfigError("must be a mapping alias -> model group", path="router_settings.model_group_alias")
    aliases: dict[str, str] = {}
    hidden: set[str] = set()
    for alias, target in value.items():
        if isinstance(target, Mapping):
            if not isinstance(target.get("model"), str):
                raise ConfigError("needs 'model'", path=f"router_settings.model_group_alias.{alias}")
            aliases[str(alias)] = str(target["model"])
            if target.get("hidden"):
                hidden.add(str(alias))
        elif isinstance(target, str):
            aliases[str(alias)] = target
        else:
            raise ConfigError("must be a model group name", path=f"router_settings.model_group_alias.{alias}")
    return aliases, frozenset(hidden)


def _strategy(value: Any) -> str:
    name = _STRATEGY_ALIASES.get(str(value), str(value))
    if name not in STRATEGIES:
        raise ConfigError(f"must be one of {', '.join(STRATEGIES)}", path="router_settings.routing_strategy")
    return name


def _redis_url(router: Mapping[str, Any]) -> str | None:
    if router.get("redis_url"):
        return str(router["redis_url"])
    host = router.get("redis_host")
    if not host:
        return None
    password = router.get("redis_password")
    auth = f":{password}@" if password else ""
    return f"redis://{auth}{host}:{router.get('redis_port') or 6379}"


def router_settings(
    router: Mapping[str, Any] | None, litellm: Mapping[str, Any] | None = None
) -> RouterSettings:
    """``RouterSettings`` from the config's ``router_settings`` over ``litellm_settings``."""
    r = dict(router or {})
    merged = {**{k: v for k, v in (litellm or {}).items() if v is not None}, **r}
    if "timeout" not in r and "request_timeout" in merged:
        merged["timeout"] = merged["request_timeout"]
    aliases, hidden = _aliases(r.get("model_group_alias"))
    args = r.get("routing_strategy_args") or {}
    default_fallbacks = merged.get("default_fallbacks") or []
    if not isinstance(default_fallbacks, list):
        raise ConfigError("must be a list of model group names", path="router_settings.default_fallbacks")
    return RouterSettings(
        routing_strategy=_strategy(merged.get("routing_strategy", "simple-shuffle")),
        num_retries=int(_number(merged.get("num_retries", 2), "router_settings.num_retries") or 0),
        retry_after=_number(merged.get("retry_after", 0), "router_settings.retry_after") or 0.0,
        timeout=_number(merged.get("timeout", 600.0), "router_settings.timeout", allow_none=True),
        stream_timeout=_number(
            merged.get("stream_timeout"), "router_settings.stream_timeout", allow_none=True
        ),
        fallbacks=parse_fallbacks(merged.get("fallbacks"), "router_settings.fallbacks"),
        context_window_fallbacks=parse_fallbacks(
            merged.get("context_window_fallbacks"), "router_settings.context_window_fallbacks"
        ),
        content_policy_fallbacks=parse_fallbacks(
            merged.get("content_policy_fallbacks"), "router_settings.content_policy_fallbacks"
        ),
        default_fallbacks=[str(x) for x in default_fallbacks],
        allowed_fails=int(_number(merged.get("allowed_fails", 3), "router_settings.allowed_fails") or 0),
        cooldown_time=_number(merged.get("cooldown_time", 5.0), "router_settings.cooldown_time") or 0.0,
        disable_cooldowns=bool(merged.get("disable_cooldowns", False)),
        model_group_alias=aliases,
        hidden_aliases=hidden,
        lowest_latency_buffer=float(args.get("lowest_latency_buffer", 0.0) or 0.0),
        redis_url=_redis_url(r),
        enable_tag_filtering=bool(merged.get("enable_tag_filtering", False)),
        tag_filtering_match_any=bool(merged.get("tag_filtering_match_any", True)),
        provider_budget_config=provider_budgets(r.get("provider_budget_config")),
        default_max_parallel_requests=_count(
            merged.get("default_max_parallel_requests"), "router_settings.default_max_parallel_requests"
        ),
    )


def _count(value: Any, path: str) -> int | None:
    """A positive integer or None. Raises ``ConfigError`` naming ``path``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError("must be a positive integer", path=path)
    return value
