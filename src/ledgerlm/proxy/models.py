"""Model groups: the config's ``model_list`` turned into deployments with compiled prices, ONCE at load.

A model group is the public ``model_name``; each of its entries is a ``Deployment`` (provider, model,
credentials, tags, compiled price). Choosing among them (strategies, retries, fallbacks, cooldowns) is
``ledgerlm.routing``'s job (``proxy.routing_setup`` builds the router from these deployments).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledgerlm.errors import ConfigError, LedgerLMError
from ledgerlm.providers.base import Deployment
from ledgerlm.proxy.config import ModelEntry, ProxyConfig, _is_price_key
from ledgerlm.proxy.config_compat import deployment_settings

__all__ = ["ModelGroup", "ModelRegistry", "build_registry", "warn_missing_keys"]

log = logging.getLogger("ledgerlm.proxy")

_ROUTING_KEYS = {
    "model",
    "api_key",
    "api_base",
    "api_version",
    "tags",
    "rpm",
    "tpm",
    "weight",
    "timeout",
    "stream_timeout",
    "max_retries",
    "order",  # routing (ledgerlm.routing: priority, concurrency, budgets)
    "max_parallel_requests",
    "max_budget",
    "budget_duration",
}


@dataclass(slots=True)
class ModelGroup:
    """The deployments serving one public model name (config order)."""

    name: str
    deployments: list[Deployment]


@dataclass(slots=True)
class ModelRegistry:
    """All model groups by public name, and the deployment-level retry settings."""

    groups: dict[str, ModelGroup]
    retries_by_deployment: dict[str, int] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Public model names, in config order."""
        return list(self.groups)

    def get(self, name: str) -> ModelGroup | None:
        """The group for ``name`` or None."""
        return self.groups.get(name)


def _split_model(model: str, api_base: str | None) -> tuple[str, str]:
    """``provider/model`` -> (provider, model) by the SDK's rules; checks the provider and ``api_base``."""
    from ledgerlm.providers import get_provider, split_model
    from ledgerlm.router import validate_api_base

    try:
        provider, name = split_model(model)
        get_provider(provider)
        validate_api_base(api_base)
    except LedgerLMError as exc:
        raise ConfigError(exc.message) from None
    return provider, name


def _custom_prices(entry: ModelEntry, path: str) -> dict[str, Any] | None:
    """Custom prices (``litellm_params`` over ``model_info``), validated by the pricing module."""
    params = entry.litellm_params.model_dump(exclude_none=True)
    info = entry.model_info.model_dump(exclude_none=True)
    try:
        from ledgerlm import pricing

        extract = getattr(pricing, "extract_custom_prices", None)
        if extract is not None:
            result = extract(params, info)
            return dict(result) if result else None
    except ConfigError as exc:
        raise ConfigError(exc.message, path=path) from None
    prices = {k: v for k, v in {**info, **params}.items() if _is_price_key(k)}
    return prices or None


def _per_second(entry: ModelEntry, path: str, provider: str, model: str) -> Any:
    """A ``PerSecondPrice`` when the entry sets ``cost_per_second`` (or its legacy aliases) and no
    per-token price (``ledgerlm.pricing.per_second``), else ``None``."""
    from ledgerlm.pricing.per_second import PerSecondPrice, per_second_rate

    params = entry.litellm_params.model_dump(exclude_none=True)
    info = entry.model_info.model_dump(exclude_none=True)
    rate = per_second_rate(params, info, path)
    return None if rate is None else PerSecondPrice(rate, provider=provider, model=model)


def _deployment_id(entry: ModelEntry, index: int) -> str:
    if entry.model_info.id:
        return entry.model_info.id
    seed = orjson.dumps(
        [entry.model_name, index, entry.litellm_params.model, entry.litellm_params.api_base],
    )
    return hashlib.sha256(seed).hexdigest()[:16]


def _build_deployment(entry: ModelEntry, index: int) -> Deployment:
    from ledgerlm.pricing import compile_price

    path = f"model_list[{index}]"
    params = entry.litellm_params
    given = params.model
    if given.endswith("/"):  # LiteLLM's "azure/" with no deployment name: the model_name is the deployment
        given += entry.model_name
    try:
        provider, model = _split_model(given, params.api_base)
    except ConfigError as exc:
        field = "api_base" if "api_base" in exc.message and "provider" not in exc.message else "model"
        message = f"deployment {entry.model_name!r} ({params.model}): {exc.message}"
        raise ConfigError(message, path=f"{path}.litellm_params.{field}") from None
    custom = _custom_prices(entry, path)
    extra: dict[str, Any] = {
        k: v for k, v in (params.model_extra or {}).items() if k not in _ROUTING_KEYS and not _is_price_key(k)
    }
    extra.update(deployment_settings(entry))
    try:
        price = compile_price(provider, model, custom=custom, base_model=entry.model_info.base_model)
    except ConfigError as exc:
        raise ConfigError(exc.message, path=(exc.path and f"{path}.{exc.path}") or path) from None
    price = _per_second(entry, path, provider, model) or price
    return Deployment(
        provider=provider,
        model=model,
        api_base=params.api_base,
        api_key=params.api_key,
        api_version=params.api_version,
        model_group=entry.model_name,
        deployment_id=_deployment_id(entry, index),
        tags=list(params.tags),
        extra=extra,
        price=price,
        timeout=params.timeout,
    )


def build_registry(config: ProxyConfig) -> ModelRegistry:
    """Deployments and compiled prices for every ``model_list`` entry. Raises ``ConfigError`` (path)."""
    by_name: dict[str, list[tuple[int, ModelEntry]]] = {}
    for index, entry in enumerate(config.model_list):
        by_name.setdefault(entry.model_name, []).append((index, entry))
    groups: dict[str, ModelGroup] = {}
    retries: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for name, items in by_name.items():
        deployments = []
        for index, entry in items:
            deployment = _build_deployment(entry, index)
            assert deployment.deployment_id is not None
            if deployment.deployment_id in seen_ids:
                raise ConfigError(
                    f"duplicate deployment id {deployment.deployment_id!r} "
                    f"(also model_list[{seen_ids[deployment.deployment_id]}])",
                    path=f"model_list[{index}].model_info.id",
                )
            seen_ids[deployment.deployment_id] = index
            given_retries = entry.litellm_params.max_retries
            if given_retries is None:
                given_retries = deployment.extra.pop("num_retries", None)
            if given_retries is not None:
                retries[deployment.deployment_id] = int(given_retries)
            deployments.append(deployment)
        groups[name] = ModelGroup(name=name, deployments=deployments)
    return ModelRegistry(groups=groups, retries_by_deployment=retries)


def warn_missing_keys(registry: ModelRegistry) -> list[str]:
    """One warning per deployment without an API key where its provider needs one (no ``api_key`` and
    none of the provider's key variables set, e.g. ``ANTHROPIC_API_KEY``): its calls would fail.
    Returns the ids warned about. Providers signing otherwise (Bedrock, Vertex AI) are not checked."""
    from ledgerlm.providers import get_provider

    warned: list[str] = []
    for group in registry.groups.values():
        for deployment in group.deployments:
            provider = get_provider(deployment.provider)
            required = getattr(getattr(provider, "preset", None), "key_required", True)
            if deployment.api_key or not provider.api_key_env or not required:
                continue
            if any(os.environ.get(name) for name in provider.api_key_env):
                continue
            log.warning(
                "deployment %r of model %r (%s/%s) has no API key: set %s or litellm_params.api_key, "
                "else its calls fail",
                deployment.deployment_id,
                group.name,
                deployment.provider,
                deployment.model,
                provider.api_key_env[0],
            )
            warned.append(str(deployment.deployment_id))
    return warned
