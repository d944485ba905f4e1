"""LiteLLM config compatibility without a server: every LiteLLM provider prefix either resolves to a
provider or fails at start with one line naming the deployment, the provider and the alternative; the
LiteLLM keys ledgerlm ignores are each named in one start-up line; the deployment keys it honours land
on the deployment (stream_timeout, num_retries, region_name, model_info.mode / id)."""

from __future__ import annotations

from typing import Any

import pytest

from ledgerlm.errors import ConfigError
from ledgerlm.providers import get_provider, split_model
from ledgerlm.providers.litellm_prefixes import UNSUPPORTED_PREFIXES
from ledgerlm.proxy.config import parse_config
from ledgerlm.proxy.config_compat import unsupported_lines
from ledgerlm.proxy.models import build_registry

# OpenAI-compatible LiteLLM prefixes the issue names, and a few aliases.
WORKING = [
    "text-completion-openai",
    "azure_ai",
    "cohere",
    "perplexity",
    "cerebras",
    "nvidia_nim",
    "databricks",
    "lm_studio",
    "openai_like",
    "sagemaker",
    "custom_openai",
    "ollama_chat",
    "hosted_vllm",
    "friendliai",
    "codestral",
]


def _entry(model: str, **params: Any) -> dict[str, Any]:
    return {
        "model_name": "group-a",
        "litellm_params": {"model": model, "api_base": "http://x.invalid/v1", **params},
    }


@pytest.mark.parametrize("prefix", WORKING)
def test_litellm_prefix_works(prefix: str) -> None:
    provider, model = split_model(f"{prefix}/some-model")
    assert model == "some-model" and get_provider(provider).name == provider
    registry = build_registry(parse_config({"model_list": [_entry(f"{prefix}/some-model", api_key="k")]}))
    assert registry.get("group-a") is not None


@pytest.mark.parametrize("prefix", sorted(UNSUPPORTED_PREFIXES))
def test_unsupported_prefix_fails_at_start_with_one_line(prefix: str) -> None:
    with pytest.raises(ConfigError) as info:
        build_registry(parse_config({"model_list": [_entry(f"{prefix}/m")]}))
    text = str(info.value)
    assert "\n" not in text and "'group-a'" in text and repr(prefix) in text
    assert UNSUPPORTED_PREFIXES[prefix] in text
    assert text.startswith("model_list[0].litellm_params.model")


def test_unsupported_keys_each_named_once() -> None:
    config = parse_config(
        {
            "model_list": [_entry("openai/gpt-4o", input_cost_per_character=0.1)],
            "litellm_settings": {"drop_params": True, "num_retries": 1},
            "general_settings": {"store_model_in_db": True, "alerting": ["slack"]},
            "files_settings": [],
        }
    )
    assert sorted(unsupported_lines(config)) == [
        "config: files_settings is not supported, ignored",
        "config: general_settings.alerting is not supported, ignored",
        "config: litellm_settings.drop_params is not supported, ignored",
        "config: model_list[0].litellm_params.input_cost_per_character is not supported, ignored",
    ]


def test_deployment_keys_are_honoured() -> None:
    entry = _entry(
        "bedrock/amazon.nova-micro-v1:0",
        timeout=30,
        stream_timeout=5,
        num_retries=4,
        region_name="eu-west-1",
        rpm=100,
    )
    entry["model_info"] = {"id": "dep-1", "mode": "chat"}
    registry = build_registry(parse_config({"model_list": [entry]}))
    group = registry.get("group-a")
    assert group is not None
    deployment = group.deployments[0]
    assert deployment.deployment_id == "dep-1" and deployment.timeout == 30
    assert deployment.extra["stream_timeout"] == 5 and deployment.extra["mode"] == "chat"
    assert deployment.extra["aws_region_name"] == "eu-west-1"
    assert get_provider("bedrock").region(deployment) == "eu-west-1"  # type: ignore[attr-defined]
    assert registry.retries_by_deployment["dep-1"] == 4


def test_azure_without_deployment_name_uses_the_model_name() -> None:
    entry = {
        "model_name": "dall-e-2",
        "litellm_params": {"model": "azure/", "api_base": "https://r.openai.azure.com"},
    }
    group = build_registry(parse_config({"model_list": [entry]})).get("dall-e-2")
    assert group is not None and group.deployments[0].model == "dall-e-2"
