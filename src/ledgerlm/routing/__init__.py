"""Routing: model groups (wildcards, aliases, access groups), strategies, retries, fallbacks,
cooldowns, and the response cache. Shared by the SDK and the proxy (DESIGN.md: the ``route`` and
``attempt`` steps). See ``docs/routing.md``.

::

    groups = ModelGroups([Entry(deployment, rpm=..., ...)], aliases)
    router = Router(groups, router_settings(config["router_settings"]), MemoryState() | RedisState(url))
    entry = await router.pick("gpt-4o")
    result, info = await router.run("gpt-4o", attempt, RequestOptions(...), first=entry)
"""

from __future__ import annotations

from ledgerlm.routing.groups import Entry, ModelGroups, Resolved
from ledgerlm.routing.router import Attempt, RequestOptions, Router, RunInfo
from ledgerlm.routing.settings import RouterSettings, router_settings

__all__ = [
    "Attempt",
    "Entry",
    "ModelGroups",
    "RequestOptions",
    "Resolved",
    "Router",
    "RouterSettings",
    "RunInfo",
    "router_settings",
]
