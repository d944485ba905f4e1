"""``GET /health`` (LiteLLM's model health check) on the real proxy with the simulator: each deployment
is called once with a tiny request by its ``model_info.mode`` (chat, embedding), a wildcard with
``health_check_model``, per-unit modes left unchecked; the answer has LiteLLM's fields and types and
never a secret; the calls are logged (``metadata.health_check``) and charged to no key; only admins
(and admin viewers) may run it; ``background_health_checks`` serves the cached result."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tests.e2e.conftest import SIM_KEY

from ledgerlm.simulator import Simulator


def _models(sim_url: str) -> list[dict[str, Any]]:
    base = f"{sim_url}/v1"
    common = {"api_base": base, "api_key": SIM_KEY}
    return [
        {"model_name": "ok-chat", "litellm_params": {"model": "openai/gpt-4o-mini", **common}},
        {"model_name": "bad", "litellm_params": {"model": "openai/sim-broken", **common}},
        {
            "model_name": "emb",
            "litellm_params": {"model": "openai/text-embedding-3-small", **common},
            "model_info": {"mode": "embedding"},
        },
        {
            "model_name": "img",
            "litellm_params": {"model": "openai/dall-e-3", **common},
            "model_info": {"mode": "image_generation"},
        },
        {
            "model_name": "openai/*",
            "litellm_params": {"model": "openai/*", **common},
            "model_info": {"health_check_model": "openai/gpt-4o-mini"},
        },
    ]


def test_health_checks_every_deployment(proxy_factory: Any, simulator: Simulator, tmp_path: Path) -> None:
    proxy = proxy_factory(f"sqlite:///{tmp_path}/db.sqlite", model_list=_models(simulator.url))
    before = len(simulator.requests)
    result = proxy.ok("GET", "/health")
    assert isinstance(result["healthy_count"], int) and isinstance(result["unhealthy_count"], int)
    healthy = {e["model_name"]: e for e in result["healthy_endpoints"]}
    unhealthy = {e["model_name"]: e for e in result["unhealthy_endpoints"]}
    assert set(healthy) == {"ok-chat", "emb", "openai/*"} and result["healthy_count"] == 3
    assert set(unhealthy) == {"bad"} and result["unhealthy_count"] == 1
    assert isinstance(unhealthy["bad"]["error"], str) and unhealthy["bad"]["error"]
    assert [e["model_name"] for e in result["unchecked_endpoints"]] == ["img"]
    assert healthy["ok-chat"]["model"] == "openai/gpt-4o-mini"
    assert healthy["ok-chat"]["api_base"] == f"{simulator.url}/v1"
    assert SIM_KEY not in str(result) and all("api_key" not in e for e in result["healthy_endpoints"])
    sent = simulator.requests[before:]
    assert sorted(r.path for r in sent) == sorted(["/v1/chat/completions"] * 3 + ["/v1/embeddings"])
    chats = [r.json for r in sent if r.path == "/v1/chat/completions"]
    assert all(body["max_tokens"] == 1 for body in chats)
    assert sum(1 for body in chats if body["model"] == "gpt-4o-mini") == 2  # the wildcard's check model
    # logged, charged to nobody
    proxy.wait_written()
    rows = [r for r in proxy.rows() if r["metadata"]["request_metadata"].get("health_check")]
    assert len(rows) == 4 and all(not r["api_key"] and r["team_id"] is None for r in rows)
    wildcard = next(r for r in rows if r["model_group"] == "openai/*")
    assert wildcard["spend"] is not None and wildcard["spend"] > 0  # priced as gpt-4o-mini
    # one model group
    only = proxy.ok("GET", "/health?model=ok-chat")
    assert only["healthy_count"] == 1 and only["unhealthy_count"] == 0


def test_health_is_for_admins(proxy_factory: Any, simulator: Simulator, tmp_path: Path) -> None:
    proxy = proxy_factory(f"sqlite:///{tmp_path}/db.sqlite", model_list=_models(simulator.url)[:1])
    viewer = proxy.ok("POST", "/user/new", {"user_id": "hv", "user_role": "proxy_admin_viewer"})["key"]
    internal = proxy.ok("POST", "/user/new", {"user_id": "hi", "user_role": "internal_user"})["key"]
    assert proxy.ok("GET", "/health", key=viewer)["healthy_count"] == 1
    status, error, _ = proxy.request("GET", "/health", key=internal)
    assert status == 403 and error["error"]["type"] == "permission_denied"
    assert proxy.request("GET", "/health", key=None)[0] == 401


def test_background_health_checks_serve_the_last_result(
    proxy_factory: Any, simulator: Simulator, tmp_path: Path
) -> None:
    proxy = proxy_factory(
        f"sqlite:///{tmp_path}/db.sqlite",
        model_list=_models(simulator.url)[:2],
        general_settings={"background_health_checks": True, "health_check_interval": 3600},
    )
    checker = proxy.app.state.health_checker
    deadline = time.monotonic() + 20
    while checker.latest is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert checker.latest is not None
    before = len(simulator.requests)
    for _ in range(3):
        result = proxy.ok("GET", "/health")
        assert (result["healthy_count"], result["unhealthy_count"]) == (1, 1)
    assert len(simulator.requests) == before  # served from the background run, no provider call
