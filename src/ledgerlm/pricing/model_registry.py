"""Models registered at run time with LiteLLM's ``register_model`` (its ``model_cost`` dict shape).

::

    register_model({"my-model": {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6,
                                 "max_tokens": 8192, "litellm_provider": "openai", "mode": "chat"}})
    register_model("https://example.com/model_prices.json")   # or a path to such a JSON file

Each entry is merged into any earlier one of the same name (LiteLLM's ``model_cost[name].update``). Its
price keys (``ledgerlm.pricing.custom``: ``input_cost_per_token`` ...) price later calls of that model
(``compile_price`` consults ``registered`` before the catalog); ``max_output_tokens`` (else
``max_tokens``) bounds budget reservations. A negative or non-numeric price raises ``ConfigError``
naming the key. Process-wide; ``version()`` changes on every registration (price caches key on it).
"""

from __future__ import annotations

import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from ledgerlm.errors import ConfigError
from ledgerlm.pricing.custom import validate_custom_prices

__all__ = ["register_model", "registered", "version"]

_REGISTRY: dict[str, dict[str, Any]] = {}
_VERSION = [0]
MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024


def _load(source: str) -> Mapping[str, Any]:
    """A ``model_cost`` dict from an ``http(s)://`` URL (10 s timeout) or a JSON file path."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=10) as response:
            raw = response.read(MAX_DOWNLOAD_BYTES + 1)
        if len(raw) > MAX_DOWNLOAD_BYTES:
            raise ConfigError(f"register_model: {source} is larger than {MAX_DOWNLOAD_BYTES} bytes")
    else:
        raw = Path(source).read_bytes()
    data = orjson.loads(raw)
    if not isinstance(data, dict):
        raise ConfigError(f"register_model: {source} must hold a JSON object of models")
    return data


def register_model(model_cost: Mapping[str, Any] | str) -> dict[str, Any]:
    """Register models (module docstring); returns the entries registered. Raises ``ConfigError``."""
    entries = _load(model_cost) if isinstance(model_cost, str) else model_cost
    checked: dict[str, dict[str, Any]] = {}
    for name, entry in entries.items():
        if name == "sample_spec":  # LiteLLM's price file carries a documentation entry
            continue
        if not isinstance(entry, Mapping):
            raise ConfigError(f"register_model: the entry of {name!r} must be an object")
        validate_custom_prices(entry, path=f"register_model.{name}")
        checked[str(name)] = dict(entry)
    for name, entry in checked.items():
        _REGISTRY[name] = {**_REGISTRY.get(name, {}), **entry}
    _VERSION[0] += 1
    return checked


def registered(provider: str, model: str) -> dict[str, Any] | None:
    """The registered entry of ``provider/model`` (or of ``model`` alone), or None."""
    return _REGISTRY.get(f"{provider}/{model}") or _REGISTRY.get(model)


def version() -> int:
    """A counter that changes on every ``register_model`` call."""
    return _VERSION[0]
