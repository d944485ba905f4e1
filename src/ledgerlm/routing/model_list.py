"""``GET /v1/models``: the public model names, with wildcard groups expanded into concrete names as
LiteLLM does (https://docs.litellm.ai/docs/wildcard_routing, https://docs.litellm.ai/docs/proxy/model_discovery;
LiteLLM's ``proxy/auth/model_checks.get_known_models_from_wildcard``):

* exact groups and visible aliases are listed as they are;
* a ``provider/suffix`` wildcard group (``openai/*``, ``anthropic/claude-*``) lists
  ``<provider>/<model>`` for every model the deployment's provider is known to serve whose id starts
  with the suffix before its ``*``: the models of the price catalog (genai-prices) for that provider,
  or, with ``litellm_settings.check_provider_endpoint: true``, the ids the provider's own
  ``GET <api_base>/models`` returns (OpenAI-compatible providers; cached ``ENDPOINT_TTL_S``; the
  catalog's when the endpoint fails);
* the wildcard route itself (``openai/*``) is listed with ``?return_wildcard_routes=true``, and when
  nothing could be expanded from it (``"*"``, ``gpt-*``, a provider unknown to the catalog);
* every name is checked against the caller's access lists (``allowed``), names are unique.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ledgerlm.routing.groups import Entry, ModelGroups, is_wildcard

__all__ = ["ENDPOINT_TTL_S", "catalog_models", "endpoint_models", "listed_models"]

log = logging.getLogger("ledgerlm.routing")
ENDPOINT_TTL_S = 600.0
_ENDPOINT_CACHE: dict[str, tuple[float, list[str]]] = {}


def catalog_models(provider: str) -> list[str]:
    """The model ids the price catalog knows for a ledgerlm provider name (empty when none)."""
    from genai_prices import data_snapshot

    from ledgerlm.pricing.catalog import catalog_provider_id

    pid = catalog_provider_id(provider) or provider.lower()
    for item in data_snapshot.get_snapshot().providers:
        if item.id == pid:
            return [m.id for m in item.models]
    return []


async def endpoint_models(entry: Entry, timeout_s: float = 5.0) -> list[str] | None:
    """The ids the deployment's provider lists at ``GET <api_base>/models`` (OpenAI-compatible
    providers only; None for others or on any failure, logged). Cached ``ENDPOINT_TTL_S`` per base."""
    import aiohttp

    from ledgerlm.providers import get_provider
    from ledgerlm.transport import get_session

    deployment = entry.deployment
    provider = get_provider(deployment.provider)
    base = deployment.api_base or provider.default_api_base
    if not provider.returns_openai_format or not base:
        return None
    url = base.rstrip("/") + "/models"
    cached = _ENDPOINT_CACHE.get(url)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    key = deployment.api_key or next((os.environ[n] for n in provider.api_key_env if n in os.environ), None)
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        session = await get_session()
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with session.get(url, headers=headers, timeout=timeout) as response:
            response.raise_for_status()
            body: Any = await response.json(content_type=None)
        ids = [str(item["id"]) for item in body["data"]]
    except Exception as exc:
        log.warning("check_provider_endpoint: %s failed (%r); listing the catalog's models", url, exc)
        return None
    _ENDPOINT_CACHE[url] = (time.monotonic() + ENDPOINT_TTL_S, ids)
    return ids


def _expand(pattern: str, entry: Entry, known: list[str]) -> list[str]:
    """``head/<model>`` for the known models matching the pattern's suffix (module docstring)."""
    head, sep, suffix = pattern.partition("/")
    if not sep or "*" in head:
        return []
    prefix = suffix.split("*", 1)[0]
    provider = entry.deployment.provider + "/"
    ids = (m[len(provider) :] if m.startswith(provider) else m for m in known)
    return [f"{head}/{m}" for m in ids if m.startswith(prefix)]


async def listed_models(
    groups: ModelGroups,
    allowed: Callable[[str], bool],
    *,
    return_wildcard_routes: bool = False,
    check_provider_endpoint: bool = False,
) -> list[str]:
    """The names ``GET /v1/models`` lists for a caller (module docstring)."""
    out: dict[str, None] = {}
    for name in groups.names():
        if not is_wildcard(name):
            if allowed(name):
                out[name] = None
            continue
        expanded: list[str] = []
        for entry in groups.patterns.get(name, ()):
            known = await endpoint_models(entry) if check_provider_endpoint else None
            if known is None:
                known = catalog_models(entry.deployment.provider)
            expanded.extend(_expand(name, entry, known))
        if (return_wildcard_routes or not expanded) and allowed(name):
            out[name] = None
        for model in expanded:
            if allowed(model):
                out[model] = None
    return list(out)
