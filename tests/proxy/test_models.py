"""Model groups: deployments and compiled prices built once at load, simple shuffle, config errors."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest

from ledgerlm.errors import ConfigError
from ledgerlm.proxy.config import parse_config
from ledgerlm.proxy.models import build_registry
from ledgerlm.proxy.routing_setup import build_router
from ledgerlm.routing import Router
from ledgerlm.types import Usage


def _entry(name: str, model: str, **params: object) -> dict[str, object]:
    return {"model_name": name, "litellm_params": {"model": model, "api_key": "k", **params}}


def test_groups_deployments_and_prices_are_built_once() -> None:
    config = parse_config(
        {
            "model_list": [
                _entry("gpt", "openai/gpt-4o-mini", tags=["a"], timeout=7, max_retries=1),
                _entry("gpt", "openai/gpt-4o-mini", api_base="http://127.0.0.1:9/v1"),
                _entry(
                    "custom",
                    "openai/my-model",
                    input_cost_per_token="0.000001",
                    output_cost_per_token="0.000002",
                ),
            ]
        }
    )
    registry = build_registry(config)
    assert registry.names() == ["gpt", "custom"]
    first, second = registry.groups["gpt"].deployments
    assert (first.provider, first.model, first.tags, first.timeout) == ("openai", "gpt-4o-mini", ["a"], 7)
    assert first.deployment_id != second.deployment_id
    assert registry.retries_by_deployment == {first.deployment_id: 1}
    custom = registry.groups["custom"].deployments[0]
    cost = custom.price.cost(Usage(input_tokens=1000, output_tokens=100))
    assert cost.total == Decimal("0.0012")
    again = build_registry(config).groups["gpt"].deployments[0]
    assert again.deployment_id == first.deployment_id  # stable across restarts


def test_simple_shuffle_uses_every_deployment_and_weights() -> None:
    config = parse_config(
        {
            "model_list": [
                _entry("g", "openai/a", rpm=1),
                _entry("g", "openai/b", rpm=1000),
            ]
        }
    )
    router = build_router(config, build_registry(config))
    picks = Counter(asyncio.run(_picks(router, "g", 2000)))
    assert picks["b"] > 1900
    uniform_config = parse_config({"model_list": [_entry("u", "openai/a"), _entry("u", "openai/b")]})
    uniform = build_router(uniform_config, build_registry(uniform_config))
    assert set(asyncio.run(_picks(uniform, "u", 200))) == {"a", "b"}


async def _picks(router: Router, group: str, n: int) -> list[str]:
    return [(await router.pick(group)).deployment.model for _ in range(n)]


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        (_entry("m", "nosuchprovider/x"), r"^model_list\[0\]\.litellm_params\.model: "),
        (_entry("m", "openai/x", api_base="not a url"), r"^model_list\[0\]\.litellm_params\.api_base: "),
    ],
)
def test_bad_deployment_fails_with_path(entry: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError, match=path):
        build_registry(parse_config({"model_list": [entry]}))


def test_duplicate_deployment_id_fails() -> None:
    entries = [
        {**_entry("a", "openai/x"), "model_info": {"id": "same"}},
        {**_entry("b", "openai/y"), "model_info": {"id": "same"}},
    ]
    with pytest.raises(ConfigError, match=r"^model_list\[1\]\.model_info\.id: duplicate deployment id"):
        build_registry(parse_config({"model_list": entries}))
