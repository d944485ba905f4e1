"""Proxy hooks get LiteLLM's argument types and may change the model (issue 17), on the real proxy with
the simulator: ``user_api_key_dict`` is a ``UserAPIKeyAuth`` (``from ledgerlm.proxy._types``) with
LiteLLM's field names; ``cache`` keeps values across requests (``async_set_cache`` / ``async_get_cache``
with ``ttl``); a pre-call hook that changes ``model`` re-routes the call to the new model group (its
deployment answers, the spend row and headers name it), with the new group's access check (403) and an
unknown model answering 404."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from ledgerlm.simulator import Simulator

HOOKS_MODULE = "ledgerlm_e2e_hook_types_mod"
HOOKS_SOURCE = """
from ledgerlm.integrations.custom_logger import CustomLogger
from ledgerlm.proxy._types import UserAPIKeyAuth

SEEN = []


class Router(CustomLogger):
    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        auth = user_api_key_dict
        count = (await cache.async_get_cache("calls") or 0) + 1
        await cache.async_set_cache("calls", count, ttl=60)
        SEEN.append({
            "is_auth": isinstance(auth, UserAPIKeyAuth),
            "api_key": auth.api_key, "token": auth.token, "key_alias": auth.key_alias,
            "user_id": auth.user_id, "team_id": auth.team_id, "team_alias": auth.team_alias,
            "end_user_id": auth.end_user_id, "max_budget": auth.max_budget, "models": auth.models,
            "metadata": auth.metadata, "rpm_limit": auth.rpm_limit, "calls": count,
        })
        target = {"to-priced": "priced", "to-nowhere": "no-such-model", "to-embed": "embed"}
        if data.get("user") in target:
            return {**data, "model": target[data["user"]]}
        return None


handler = Router()
"""

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def hooked(proxy_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("hook_types")
    (folder / f"{HOOKS_MODULE}.py").write_text(HOOKS_SOURCE, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        proxy = proxy_factory(
            f"sqlite:///{folder}/db.sqlite", litellm_settings={"callbacks": [f"{HOOKS_MODULE}.handler"]}
        )
    finally:
        sys.path.remove(str(folder))
    yield proxy, sys.modules[HOOKS_MODULE]
    sys.modules.pop(HOOKS_MODULE, None)


def _chat(proxy: Any, key: str, user: str, model: str = "gpt-4o-mini") -> tuple[int, Any, dict[str, str]]:
    body = {"model": model, "messages": MESSAGES, "user": user}
    return proxy.request("POST", "/v1/chat/completions", body, key=key)


def test_user_api_key_auth_fields_and_cache(hooked: Any) -> None:
    proxy, mod = hooked
    team_id = proxy.new_team(team_alias="search")
    generated = proxy.ok(
        "POST",
        "/key/generate",
        {"team_id": team_id, "user_id": "hook-user", "key_alias": "hooks", "max_budget": 5, "rpm_limit": 50},
    )
    mod.SEEN.clear()
    assert _chat(proxy, generated["key"], "cust-1")[0] == 200
    assert _chat(proxy, generated["key"], "cust-2")[0] == 200
    first, second = mod.SEEN
    assert first["is_auth"] is True
    assert first["api_key"] == first["token"] == generated["token"] and not first["api_key"].startswith("sk-")
    assert (first["key_alias"], first["user_id"], first["team_id"], first["team_alias"]) == (
        "hooks",
        "hook-user",
        team_id,
        "search",
    )
    assert first["end_user_id"] == "cust-1" and second["end_user_id"] == "cust-2"
    assert first["max_budget"] == 5 and first["rpm_limit"] == 50 and isinstance(first["models"], list)
    assert second["calls"] == first["calls"] + 1  # the cache keeps values across requests


def test_pre_call_hook_model_change_reroutes(hooked: Any, simulator: Simulator) -> None:
    proxy, _ = hooked
    status, reply, headers = _chat(proxy, proxy.new_key(), "to-priced")
    assert status == 200, reply
    assert simulator.requests[-1].json["model"] == "sim-priced"  # the new group's deployment answered
    assert headers["x-litellm-model-group"] == "priced"
    proxy.wait_written()
    row = proxy.row(headers["x-request-id"])
    assert row["model_group"] == "priced" and row["model"] == "sim-priced"


def test_reroute_checks_access_and_unknown_models(hooked: Any) -> None:
    proxy, _ = hooked
    limited = proxy.new_key(models=["gpt-4o-mini"])
    status, error, _ = _chat(proxy, limited, "to-priced")
    assert status == 403 and error["error"]["code"] == "model_not_allowed"
    assert "priced" in error["error"]["message"]
    status, error, headers = _chat(proxy, proxy.new_key(), "to-nowhere")
    assert status == 404 and error["error"]["code"] == "model_not_found"
    proxy.wait_written()
    assert proxy.row(headers["x-request-id"])["status"] == "failure"


def test_hooks_leave_bodies_without_a_model_alone(hooked: Any) -> None:
    """A pre-call hook runs on pass-through calls too (one lifecycle); a body without ``model`` (a
    ``GET`` passed through) that the hook left alone is not re-routed (it answered 400 "a pre-call hook
    left 'model' empty" when the two merged branches met)."""
    proxy, mod = hooked
    key = proxy.new_key()
    mod.SEEN.clear()
    status, reply, _ = proxy.request("GET", "/openai/v1/models", None, key=key)
    assert mod.SEEN, "the hook ran on the pass-through call"
    assert status == 200, reply
    assert reply["object"] == "list"
