"""Wildcard model groups, model_group_alias, key model access with wildcards and access groups: unit
checks of ``ModelGroups`` and the real proxy with the openai client."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from tests.routing.harness import RoutedProxy, deployment

from ledgerlm.errors import ConfigError
from ledgerlm.providers.base import Deployment
from ledgerlm.routing import Entry, ModelGroups, router_settings
from ledgerlm.simulator import Simulator


def _entry(name: str, model: str, **fields: object) -> Entry:
    provider, _, rest = model.partition("/")
    return Entry(
        Deployment(provider, rest, deployment_id=f"{name}:{model}", model_group=name),
        model_name=name,
        **fields,
    )  # type: ignore[arg-type]


def test_wildcards_exact_first_then_most_specific() -> None:
    groups = ModelGroups(
        [
            _entry("gpt-4o", "openai/gpt-4o"),
            _entry("openai/*", "openai/*"),
            _entry("gpt-*", "openai/gpt-*"),
            _entry("*", "anthropic/*"),
        ],
        aliases={"best": "gpt-4o"},
    )
    assert groups.resolve("gpt-4o").entries[0].deployment.model == "gpt-4o"
    found = groups.resolve("openai/o3-mini")
    assert found.wildcard and found.group == "openai/o3-mini"
    assert (found.entries[0].deployment.provider, found.entries[0].deployment.model) == ("openai", "o3-mini")
    assert groups.resolve("gpt-5-nano").entries[0].deployment.model == "gpt-5-nano"
    assert groups.resolve("claude-x").entries[0].deployment.provider == "anthropic"
    assert groups.resolve("best").group == "gpt-4o"
    assert groups.resolve("claude-x") is groups.resolve("claude-x"), "concrete deployments made once"


def test_access_lists_with_wildcards_and_access_groups() -> None:
    groups = ModelGroups(
        [
            _entry("a", "openai/a", access_groups=["beta"]),
            _entry("b", "openai/b"),
            _entry("openai/*", "openai/*"),
        ]
    )
    assert groups.allowed([], "b") and groups.allowed(["all-proxy-models"], "b")
    assert groups.allowed(["beta"], "a") and not groups.allowed(["beta"], "b")
    assert groups.allowed(["openai/*"], "openai/gpt-4o") and not groups.allowed(["openai/*"], "b")


def test_router_settings_validation() -> None:
    settings = router_settings(
        {
            "routing_strategy": "usage-based-routing",
            "fallbacks": [{"a": ["b"]}],
            "model_group_alias": {"x": {"model": "a", "hidden": True}},
        },
        {"num_retries": 4, "request_timeout": 9},
    )
    assert settings.routing_strategy == "usage-based-routing-v2" and settings.num_retries == 4
    assert settings.timeout == 9 and settings.fallbacks == {"a": ["b"]} and settings.hidden_aliases == {"x"}
    with pytest.raises(ConfigError, match="routing_strategy"):
        router_settings({"routing_strategy": "fastest"})
    with pytest.raises(ConfigError, match=r"fallbacks\[0\]"):
        router_settings({"fallbacks": ["b"]})


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoutedProxy]:
    with Simulator() as sim:
        model_list = [
            deployment("openai/*", sim.url, "*"),
            deployment("beta-model", sim.url, "gpt-4o-mini", info={"access_groups": ["beta"]}),
            deployment("gpt-4o-mini", sim.url, "gpt-4o-mini"),
        ]
        running = RoutedProxy(
            tmp_path_factory.mktemp("groups"),
            model_list,
            router_settings={"model_group_alias": {"mini": "gpt-4o-mini"}},
        )
        running.sim = sim  # type: ignore[attr-defined]
        yield running
        running.close()


def test_wildcard_group_serves_unlisted_models(proxy: RoutedProxy) -> None:
    raw = proxy.chat("openai/gpt-4.1-nano")
    assert raw.parse().choices[0].message.content
    assert proxy.sim.requests[-1].json["model"] == "gpt-4.1-nano"  # type: ignore[attr-defined]
    (row,) = proxy.rows(request_id=raw.headers["x-request-id"])
    assert row["model"] == "gpt-4.1-nano" and row["model_group"] == "openai/gpt-4.1-nano"
    assert row["spend"] is not None, "a catalog model behind a wildcard is priced"


def test_alias_and_unknown_model(proxy: RoutedProxy) -> None:
    assert proxy.chat("mini").headers["x-litellm-model-group"] == "gpt-4o-mini"
    with pytest.raises(openai.NotFoundError):
        proxy.chat("mistral-large")


def test_key_access_with_wildcards_and_access_groups(proxy: RoutedProxy) -> None:
    wild = proxy.admin("POST", "/key/generate", {"models": ["openai/*"]})["key"]
    beta = proxy.admin("POST", "/key/generate", {"models": ["beta"]})["key"]
    assert proxy.chat("openai/gpt-4o", key=wild).parse().choices
    with pytest.raises(openai.PermissionDeniedError):
        proxy.chat("gpt-4o-mini", key=wild)
    assert proxy.chat("beta-model", key=beta).parse().choices
    with pytest.raises(openai.PermissionDeniedError):
        proxy.chat("gpt-4o-mini", key=beta)
    listed = {m.id for m in proxy.client(beta).models.list()}
    assert listed == {"beta-model"}


def test_model_info_is_filtered_by_the_key(proxy: RoutedProxy) -> None:
    beta = proxy.admin("POST", "/key/generate", {"models": ["beta"]})["key"]
    import urllib.request

    import orjson

    req = urllib.request.Request(f"{proxy.url}/model/info", headers={"authorization": f"Bearer {beta}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        data = orjson.loads(resp.read())["data"]
    assert [d["model_name"] for d in data] == ["beta-model"]
    assert data[0]["model_info"]["access_groups"] == ["beta"]


def test_models_list_expands_wildcard_groups(proxy: RoutedProxy) -> None:
    listed = [m.id for m in proxy.client().models.list()]
    assert {"beta-model", "gpt-4o-mini", "mini"} <= set(listed)
    assert {"openai/gpt-4o", "openai/gpt-4o-mini"} <= set(listed), "the catalog's openai models"
    assert "openai/*" not in listed and len(listed) == len(set(listed))
    routes = [m["id"] for m in proxy.admin("GET", "/v1/models?return_wildcard_routes=true")["data"]]
    assert "openai/*" in routes and "openai/gpt-4o" in routes
    wild = proxy.admin("POST", "/key/generate", {"models": ["openai/*"]})["key"]
    only = {m.id for m in proxy.client(wild).models.list()}
    assert only and all(name.startswith("openai/") for name in only)
    assert "openai/gpt-4o" in only


def test_models_list_asks_the_provider_endpoint(tmp_path_factory: pytest.TempPathFactory) -> None:
    with Simulator(models={"house-model": {}}) as sim:
        running = RoutedProxy(
            tmp_path_factory.mktemp("discovery"),
            [deployment("openai/*", sim.url, "*"), deployment("house-*", sim.url, "house-*")],
            litellm_settings={"check_provider_endpoint": True},
        )
        try:
            listed = {m.id for m in running.client().models.list()}
            assert {"openai/house-model", "openai/sim-model"} <= listed
            assert "openai/gpt-4o" not in listed, "the provider's own list, not the catalog's"
            assert "house-*" in listed, "a pattern without a provider prefix is listed as it is"
        finally:
            running.close()
