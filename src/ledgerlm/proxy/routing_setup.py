"""The proxy's ``Router`` from its config: the deployments of ``model_list`` (already built by
``proxy.models``) with their routing fields, ``router_settings`` / ``litellm_settings``, and the shared
state (Redis when ``router_settings`` names one, as LiteLLM: ``redis_url`` or ``redis_host`` +
``redis_port`` + ``redis_password``; else in-process).
"""

from __future__ import annotations

from ledgerlm.proxy.config import ProxyConfig
from ledgerlm.proxy.models import ModelRegistry
from ledgerlm.routing import Entry, ModelGroups, Router, router_settings
from ledgerlm.routing.cache import ResponseCache, cache_settings
from ledgerlm.routing.filters import deployment_limits
from ledgerlm.routing.state import MemoryState, RedisState, RoutingState

__all__ = ["build_response_cache", "build_router"]


def _entries(config: ProxyConfig, registry: ModelRegistry) -> list[Entry]:
    by_id = {d.deployment_id: d for g in registry.groups.values() for d in g.deployments}
    entries: list[Entry] = []
    order = {name: [d.deployment_id for d in g.deployments] for name, g in registry.groups.items()}
    seen: dict[str, int] = {}
    for model_entry in config.model_list:
        index = seen.get(model_entry.model_name, 0)
        seen[model_entry.model_name] = index + 1
        deployment = by_id[order[model_entry.model_name][index]]
        params = model_entry.litellm_params
        info = model_entry.model_info.model_dump(exclude_none=True)
        groups = info.get("access_groups") or []
        entries.append(
            Entry(
                deployment=deployment,
                rpm=params.rpm,
                tpm=params.tpm,
                weight=params.weight,
                stream_timeout=params.stream_timeout,
                max_retries=params.max_retries,
                access_groups=[str(g) for g in groups] if isinstance(groups, list) else [],
                model_info=info,
                model_name=model_entry.model_name,
                **deployment_limits(params.model_extra or {}, f"model_list[{len(entries)}].litellm_params"),
            )
        )
    return entries


def model_groups(config: ProxyConfig, registry: ModelRegistry) -> ModelGroups:
    """The model groups (wildcards, aliases) of ``config``'s model list. Raises ``ConfigError``."""
    litellm = config.litellm_settings.model_dump(exclude_none=True)
    litellm.update(config.litellm_settings.model_extra or {})
    settings = router_settings(config.router_settings, litellm)
    return ModelGroups(_entries(config, registry), settings.model_group_alias, settings.hidden_aliases)


def build_router(config: ProxyConfig, registry: ModelRegistry) -> Router:
    """The router (no I/O: a Redis client is made on first use). Raises ``ConfigError``."""
    litellm = config.litellm_settings.model_dump(exclude_none=True)
    litellm.update(config.litellm_settings.model_extra or {})
    settings = router_settings(config.router_settings, litellm)
    groups = ModelGroups(_entries(config, registry), settings.model_group_alias, settings.hidden_aliases)
    state: RoutingState = RedisState(settings.redis_url) if settings.redis_url else MemoryState()
    return Router(groups, settings, state)


def build_response_cache(config: ProxyConfig, redis_url: str | None) -> ResponseCache | None:
    """The response cache when ``litellm_settings.cache`` is on (no I/O). Raises ``ConfigError``."""
    litellm = config.litellm_settings.model_dump(exclude_none=True)
    litellm.update(config.litellm_settings.model_extra or {})
    settings = cache_settings(litellm, redis_url)
    return ResponseCache.build(settings) if settings is not None else None
