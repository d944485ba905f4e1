"""Find a deployment's pricing inputs in a proxy config file (LiteLLM-style ``model_list``).

Used by ``completion_cost(..., config=...)`` and ``ledgerlm cost --config``. The proxy has its own
full config loader; this reads only what pricing needs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledgerlm.errors import ConfigError
from ledgerlm.pricing.custom import extract_custom_prices

__all__ = ["DeploymentPricing", "deployment_pricing", "load_config"]


@dataclass(frozen=True, slots=True)
class DeploymentPricing:
    """What prices one ``model_list`` entry: provider, model, custom prices, ``base_model``."""

    provider: str
    model: str
    custom: dict[str, Decimal] | None
    base_model: str | None


def _resolve_env(value: Any) -> Any:
    """``os.environ/VAR`` strings -> the variable's value (recursively); reads, never writes."""
    if isinstance(value, str) and value.startswith("os.environ/"):
        return os.environ.get(value.removeprefix("os.environ/"))
    if isinstance(value, Mapping):
        return {k: _resolve_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v) for v in value]
    return value


def load_config(config: Mapping[str, Any] | str | os.PathLike[str]) -> Mapping[str, Any]:
    """The config as a dict: a mapping as-is, or a YAML file (``yaml.safe_load``), with
    ``os.environ/VAR`` values resolved. Raises ``ConfigError`` when unreadable or not a mapping."""
    if isinstance(config, Mapping):
        return _resolve_env(config)  # type: ignore[no-any-return]
    import yaml

    try:
        data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {os.fspath(config)!r}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"config {os.fspath(config)!r} is not a mapping")
    return _resolve_env(data)  # type: ignore[no-any-return]


def deployment_pricing(config: Mapping[str, Any], model_name: str) -> DeploymentPricing:
    """The first ``model_list`` entry whose ``model_name`` is ``model_name``.

    Its ``litellm_params.model`` (``"provider/model"``) gives provider and model; custom prices come
    from ``litellm_params`` / ``model_info``; ``base_model`` from either. Raises ``ConfigError``.
    """
    entries = config.get("model_list")
    if not isinstance(entries, list):
        raise ConfigError("the config has no model_list")
    for index, entry in enumerate(entries):
        if isinstance(entry, Mapping) and entry.get("model_name") == model_name:
            return _entry_pricing(entry, f"model_list[{index}]")
    raise ConfigError(f"no model_list entry has model_name {model_name!r}")


def _entry_pricing(entry: Mapping[str, Any], path: str) -> DeploymentPricing:
    params = entry.get("litellm_params") or {}
    info = entry.get("model_info") or {}
    if not isinstance(params, Mapping) or not isinstance(info, Mapping):
        raise ConfigError("litellm_params and model_info must be mappings", path=path)
    target = params.get("model")
    if not isinstance(target, str) or "/" not in target:
        raise ConfigError(f"model {target!r} has no provider prefix", path=f"{path}.litellm_params.model")
    provider, _, model = target.partition("/")
    base_model = params.get("base_model") or info.get("base_model")
    return DeploymentPricing(
        provider=provider,
        model=model,
        custom=extract_custom_prices(params, info, path=path),
        base_model=base_model if isinstance(base_model, str) else None,
    )
