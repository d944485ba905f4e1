"""LiteLLM's management entities over real HTTP on the real proxy (SQLite and PostgreSQL, simulator
upstream, the official openai client for calls): organizations, team members and switches, users, end
users under ``/customer`` and ``/end_user``, budget tiers (with per-end-user rpm enforced), key
regenerate/block/unblock/health, ``/routes``, ``/active/callbacks``. Response fields and types as
LiteLLM documents them; money is a JSON number."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import openai
import pytest
from tests.e2e.conftest import Proxy
from tests.helpers.net import openai_client

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_organizations(proxy: Proxy) -> None:
    org_id = _uid("org")
    made = proxy.ok(
        "POST",
        "/organization/new",
        {"organization_id": org_id, "organization_alias": "Acme", "max_budget": 10},
    )
    assert made["organization_id"] == org_id and made["max_budget"] == 10 and made["spend"] == 0
    status, updated, _ = proxy.request(
        "PATCH", "/organization/update", {"organization_id": org_id, "organization_alias": "Acme 2"}
    )
    assert status == 200 and updated["organization_alias"] == "Acme 2"
    added = proxy.ok(
        "POST",
        "/organization/member_add",
        {"organization_id": org_id, "member": {"user_id": _uid("u"), "role": "org_admin"}},
    )
    assert added["updated_users"][0]["user_role"] == "org_admin"
    team = proxy.ok("POST", "/team/new", {"organization_id": org_id})
    info = proxy.ok("GET", f"/organization/info?organization_id={org_id}")
    assert [t["team_id"] for t in info["teams"]] == [team["team_id"]] and len(info["members"]) == 1
    assert org_id in {o["organization_id"] for o in proxy.ok("GET", "/organization/list")}
    status, deleted, _ = proxy.request("DELETE", "/organization/delete", {"organization_ids": [org_id]})
    assert status == 200 and deleted[0]["organization_id"] == org_id
    assert proxy.request("GET", f"/organization/info?organization_id={org_id}")[0] == 404


def test_team_members_list_block_and_models(proxy: Proxy) -> None:
    team_id = proxy.new_team(members_with_roles=[{"user_id": "tm-admin", "role": "admin"}], models=["priced"])
    team = proxy.ok(
        "POST",
        "/team/member_add",
        {"team_id": team_id, "member": [{"user_id": "tm-1"}, {"user_id": "tm-2", "role": "admin"}]},
    )
    assert [m["user_id"] for m in team["members_with_roles"]] == ["tm-admin", "tm-1", "tm-2"]
    assert (
        proxy.request("POST", "/team/member_add", {"team_id": team_id, "member": {"user_id": "tm-1"}})[0]
        == 400
    )
    changed = proxy.ok(
        "POST", "/team/member_update", {"team_id": team_id, "user_id": "tm-1", "role": "admin"}
    )
    assert changed == {
        "team_id": team_id,
        "user_id": "tm-1",
        "user_email": None,
        "role": "admin",
        "max_budget_in_team": None,
    }
    assert team_id in proxy.ok("GET", "/user/info?user_id=tm-1")["user_info"]["teams"]
    after = proxy.ok("POST", "/team/member_delete", {"team_id": team_id, "user_id": "tm-2"})
    assert "tm-2" not in {m["user_id"] for m in after["members_with_roles"]}
    listed = proxy.ok("GET", "/team/list?user_id=tm-1")
    assert isinstance(listed, list) and [t["team_id"] for t in listed] == [team_id]
    models = proxy.ok("POST", "/team/model/add", {"team_id": team_id, "models": ["embed"]})["models"]
    assert models == ["priced", "embed"]
    assert proxy.ok("POST", "/team/model/delete", {"team_id": team_id, "models": ["embed"]})["models"] == [
        "priced"
    ]
    key = proxy.new_key(team_id=team_id)
    with openai_client(proxy.url, key) as client:
        assert client.chat.completions.create(model="priced", messages=MESSAGES).choices
        assert proxy.ok("POST", "/team/block", {"team_id": team_id})["blocked"] is True
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="priced", messages=MESSAGES)
        assert proxy.ok("POST", "/team/unblock", {"team_id": team_id})["blocked"] is False
        assert client.chat.completions.create(model="priced", messages=MESSAGES).choices


def test_max_budget_in_team_caps_one_member(proxy: Proxy) -> None:
    """LiteLLM's member budget: ``/team/member_add`` with ``max_budget_in_team`` caps what that member
    spends with the team's keys (422 ``budget_exceeded`` naming the team member); another member of the
    same team, and the team, go on."""
    capped, free = _uid("mb"), _uid("mb")
    team_id = proxy.new_team(models=["priced"])
    added = proxy.ok(
        "POST",
        "/team/member_add",
        {"team_id": team_id, "member": [{"user_id": capped}], "max_budget_in_team": 0.0003},
    )
    entry = next(m for m in added["members_with_roles"] if m["user_id"] == capped)
    assert entry["max_budget_in_team"] == 0.0003 and isinstance(entry["max_budget_in_team"], float)
    proxy.ok("POST", "/team/member_add", {"team_id": team_id, "member": {"user_id": free}})
    updated = proxy.ok(
        "POST", "/team/member_update", {"team_id": team_id, "user_id": capped, "max_budget_in_team": 0.0002}
    )
    assert updated["max_budget_in_team"] == 0.0002 and updated["role"] == "user"
    body = {"model": "priced", "messages": MESSAGES, "max_tokens": 5}
    key = proxy.new_key(team_id=team_id, user_id=capped)
    statuses = []
    for _ in range(20):
        status, data, _ = proxy.request("POST", "/v1/chat/completions", body, key=key)
        statuses.append(status)
        if status != 200:
            break
        proxy.wait_written()
    assert statuses[0] == 200 and statuses[-1] == 422, statuses
    assert data["error"]["type"] == "budget_exceeded" and "team member" in data["error"]["message"]
    other = proxy.new_key(team_id=team_id, user_id=free)
    assert proxy.request("POST", "/v1/chat/completions", body, key=other)[0] == 200
    team = proxy.ok("GET", f"/team/info?team_id={team_id}")
    info = team.get("team_info", team)
    assert [m.get("max_budget_in_team") for m in info["members_with_roles"]] == [0.0002, None]


def test_users_update_list_delete(proxy: Proxy) -> None:
    user_id = _uid("user")
    proxy.ok(
        "POST", "/user/new", {"user_id": user_id, "user_email": f"{user_id}@x.io", "auto_create_key": False}
    )
    row = proxy.ok(
        "POST", "/user/update", {"user_id": user_id, "max_budget": 7.25, "user_role": "internal_user_viewer"}
    )
    assert row["max_budget"] == 7.25 and row["user_role"] == "internal_user_viewer"
    page = proxy.ok("GET", f"/user/list?user_ids={user_id}")
    assert page["total"] == 1 and page["users"][0]["user_id"] == user_id and page["page"] == 1
    assert set(page) >= {"users", "total", "page", "page_size", "total_pages"}
    assert proxy.ok("GET", "/user/list?role=internal_user_viewer")["total"] >= 1
    assert proxy.ok("POST", "/user/delete", {"user_ids": [user_id]}) == {"deleted_users": [user_id]}
    assert proxy.request("GET", f"/user/info?user_id={user_id}")[0] == 404
    assert proxy.request("POST", "/user/update", {"user_id": user_id, "max_budget": 1})[0] == 404


@pytest.mark.parametrize("prefix", ["/customer", "/end_user"])
def test_end_users_under_both_prefixes(proxy: Proxy, prefix: str) -> None:
    user_id = _uid("eu")
    made = proxy.ok("POST", f"{prefix}/new", {"user_id": user_id, "max_budget": 3, "alias": "E"})
    assert made["user_id"] == user_id and made["litellm_budget_table"]["max_budget"] == 3
    updated = proxy.ok("POST", f"{prefix}/update", {"user_id": user_id, "alias": "E2", "rpm_limit": 100})
    assert updated["alias"] == "E2" and updated["litellm_budget_table"]["rpm_limit"] == 100
    assert proxy.ok("GET", f"{prefix}/info?end_user_id={user_id}")["alias"] == "E2"
    assert user_id in {r["user_id"] for r in proxy.ok("GET", f"{prefix}/list?size=1000")}
    assert proxy.ok("POST", f"{prefix}/block", {"user_ids": [user_id]}) == {"blocked_users": [user_id]}
    status, _, _ = proxy.request(
        "POST", "/v1/chat/completions", {"model": "priced", "messages": MESSAGES, "user": user_id}
    )
    assert status == 403
    proxy.ok("POST", f"{prefix}/unblock", {"user_ids": [user_id]})
    status, _, _ = proxy.request(
        "POST", "/v1/chat/completions", {"model": "priced", "messages": MESSAGES, "user": user_id}
    )
    assert status == 200
    proxy.wait_written()  # the spend writer creates an end user's row on its calls: let it finish first
    assert proxy.ok("POST", f"{prefix}/delete", {"user_ids": [user_id]}) == {"deleted_customers": [user_id]}
    assert proxy.request("GET", f"{prefix}/info?end_user_id={user_id}")[0] == 404


def test_budget_tiers_apply_to_keys_users_and_end_users(proxy: Proxy) -> None:
    tier = _uid("tier")
    made = proxy.ok(
        "POST", "/budget/new", {"budget_id": tier, "max_budget": 0.5, "rpm_limit": 1, "budget_duration": "1d"}
    )
    assert made["budget_id"] == tier and made["max_budget"] == 0.5 and made["rpm_limit"] == 1
    assert proxy.ok("POST", "/budget/info", {"budgets": [tier]})[0]["budget_id"] == tier
    assert tier in {b["budget_id"] for b in proxy.ok("GET", "/budget/list")}
    end_user = _uid("eu")
    row = proxy.ok("POST", "/customer/new", {"user_id": end_user, "budget_id": tier})
    assert row["budget_id"] == tier and row["rpm_limit"] == 1 and row["max_budget"] == 0.5
    key = proxy.new_key(budget_id=tier)
    assert proxy.ok("GET", f"/key/info?key={key}")["info"]["rpm_limit"] == 1
    body = {"model": "priced", "messages": MESSAGES, "user": end_user}
    assert proxy.request("POST", "/v1/chat/completions", body)[0] == 200
    status, answer, _ = proxy.request("POST", "/v1/chat/completions", body)
    assert status == 429, answer  # the end user's rpm_limit (1 per minute), whichever key sent it
    proxy.ok("POST", "/budget/update", {"budget_id": tier, "rpm_limit": 50})
    assert proxy.ok("GET", f"/customer/info?end_user_id={end_user}")["rpm_limit"] == 50
    assert proxy.ok("POST", "/budget/delete", {"id": tier})["budget_id"] == tier
    assert proxy.request("POST", "/customer/new", {"user_id": _uid("eu"), "budget_id": tier})[0] == 400


def test_key_regenerate_block_unblock_health(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias=_uid("regen"), max_budget=2)
    fresh = proxy.ok("POST", "/key/regenerate", {"key": key})
    new_key = fresh["key"]
    assert new_key != key and fresh["token"] == hashlib.sha256(new_key.encode()).hexdigest()
    assert fresh["max_budget"] == 2 and fresh["key_alias"].startswith("regen")
    body = {"model": "priced", "messages": MESSAGES}
    assert proxy.request("POST", "/v1/chat/completions", body, key=key)[0] == 401
    assert proxy.request("POST", "/v1/chat/completions", body, key=new_key)[0] == 200
    again = proxy.ok("POST", f"/key/{new_key}/regenerate")["key"]
    assert proxy.ok("POST", "/key/block", {"key": again})["blocked"] is True
    assert proxy.request("POST", "/v1/chat/completions", body, key=again)[0] == 401
    assert proxy.ok("POST", "/key/unblock", {"key": again})["blocked"] is False
    assert proxy.ok("POST", "/key/health", {}, key=again) == {"key": "healthy", "logging_callbacks": None}


def test_key_list_filters_and_pages(proxy: Proxy) -> None:
    team_id = proxy.new_team()
    keys = [proxy.new_key(team_id=team_id, key_alias=f"page-{i}") for i in range(3)]
    first = proxy.ok("GET", f"/key/list?team_id={team_id}&size=2&page=1")
    assert first["total_count"] == 3 and first["total_pages"] == 2 and first["current_page"] == 1
    second = proxy.ok("GET", f"/key/list?team_id={team_id}&size=2&page=2")
    hashes = {hashlib.sha256(k.encode()).hexdigest() for k in keys}
    assert set(first["keys"]) | set(second["keys"]) == hashes
    full = proxy.ok("GET", f"/key/list?key_alias=page-1&team_id={team_id}&return_full_object=true")["keys"]
    assert [k["key_alias"] for k in full] == ["page-1"]
    assert proxy.ok("GET", f"/key/list?key_hash={keys[0]}")["keys"] == [
        hashlib.sha256(keys[0].encode()).hexdigest()
    ]


def test_routes_and_active_callbacks(proxy: Proxy) -> None:
    paths = {r["path"] for r in proxy.ok("GET", "/routes")["routes"]}
    assert {"/key/generate", "/organization/new", "/customer/update", "/end_user/info"} <= paths
    callbacks = proxy.ok("GET", "/active/callbacks")
    assert isinstance(callbacks["litellm.success_callback"], list) and isinstance(
        callbacks["num_callbacks"], int
    )
