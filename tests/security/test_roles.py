"""The route x role table (``ledgerlm.proxy.roles``) walked over real HTTP on the real proxy (machine's
PostgreSQL, simulator upstream), with a key of every LiteLLM role:

* every route the app serves is in the table, and docs/management.md shows the same table;
* for every (route, role): a role the gate refuses gets 403 ``insufficient_role`` and nothing in the
  database changes; a role the gate admits is never refused for its role;
* LiteLLM's rules on targets: a user reads its own info and keys and generates keys within its limits;
  a team admin manages its team's keys and members (and no other team's); a team key reads its team's
  info; viewers read but never write; an org admin creates teams in its own organization only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from tests.e2e.conftest import MASTER_KEY, Proxy
from tests.helpers.pg import dump_tables

from ledgerlm.proxy.app import routes as app_routes
from ledgerlm.proxy.roles import ROLES, ROUTE_ACCESS, Access, allowed

DOC = Path(__file__).resolve().parents[2] / "docs" / "management.md"
NOPE = {
    "team_id": "nope-team",
    "user_id": "nope-user",
    "key": "sk-nope",
    "keys": ["sk-nope"],
    "organization_id": "nope-org",
    "organization_ids": ["nope-org"],
    "user_ids": ["nope-user"],
    "team_ids": ["nope-team"],
    "budget_id": "nope-budget",
    "id": "nope-budget",
    "member": {"user_id": "nope-user", "role": "user"},
    "models": ["priced"],
    "name": "nope-tag",
}
WRITE_TABLES = ("verification_tokens", "teams", "users", "end_users", "tags", "organizations", "budgets")


def _route_table() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for route in app_routes():
        assert isinstance(route, Route)
        out.extend((m, route.path) for m in sorted(route.methods or ()) if m != "HEAD")
    return out


def _walked() -> list[tuple[str, str]]:
    return [(m, p) for m, p in _route_table() if ROUTE_ACCESS[p] not in (Access.PUBLIC, Access.LLM)]


@pytest.fixture(scope="module")
def proxy(pg_database: str, proxy_factory: Any) -> Proxy:
    return proxy_factory(pg_database)


@pytest.fixture(scope="module")
def people(proxy: Proxy) -> dict[str, Any]:
    """Organization org-a, teams t-a (org-a) and t-b, a user and a key for every role; ``team_admin`` is
    an internal user who is admin of t-a, ``member`` a plain member of t-a, ``team`` a key of t-a with
    no user."""
    proxy.ok("POST", "/organization/new", {"organization_id": "org-a", "organization_alias": "A"})
    users = {
        "proxy_admin": {"user_role": "proxy_admin"},
        "proxy_admin_viewer": {"user_role": "proxy_admin_viewer"},
        "org_admin": {"user_role": "org_admin", "organization_id": "org-a"},
        "internal_user": {"user_role": "internal_user", "max_budget": 5, "models": ["priced"]},
        "internal_user_viewer": {"user_role": "internal_user_viewer"},
        "team_admin": {"user_role": "internal_user"},
        "member": {"user_role": "internal_user"},
    }
    keys: dict[str, str] = {}
    for name, fields in users.items():
        keys[name] = proxy.ok("POST", "/user/new", {"user_id": f"u-{name}", **fields})["key"]
    members = [{"user_id": "u-team_admin", "role": "admin"}, {"user_id": "u-member", "role": "user"}]
    proxy.ok(
        "POST", "/team/new", {"team_id": "t-a", "organization_id": "org-a", "members_with_roles": members}
    )
    proxy.ok("POST", "/team/new", {"team_id": "t-b"})
    keys["team"] = proxy.new_key(team_id="t-a")
    return {"keys": keys}


def test_every_route_is_in_the_table_and_in_the_docs() -> None:
    paths = {p for _, p in _route_table()}
    assert paths <= set(ROUTE_ACCESS), sorted(paths - set(ROUTE_ACCESS))
    text = DOC.read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `(/[^`]*)` \| (\w+) \|", text, flags=re.M))
    assert rows == {p: a.value for p, a in ROUTE_ACCESS.items()}, "docs/management.md table differs"
    for role in ROLES:
        assert f"`{role}`" in text


def _role_key(people: dict[str, Any], role: str) -> str:
    return str(MASTER_KEY if role == "master" else people["keys"][role])


@pytest.mark.parametrize(("method", "path"), _walked(), ids=lambda v: v)
def test_route_x_role(proxy: Proxy, people: dict[str, Any], method: str, path: str) -> None:
    access = ROUTE_ACCESS[path]
    body = NOPE if method != "GET" else None
    refused = [r for r in ROLES if not allowed(r, access)]
    before = _tables(proxy)
    for role in refused:
        status, answer, _ = proxy.request(method, path, body, key=_role_key(people, role))
        assert status == 403 and answer["error"]["code"] == "insufficient_role", (role, status, answer)
    assert _tables(proxy) == before, "a refused call changed the database"
    for role in [r for r in ROLES if allowed(r, access)]:
        status, answer, _ = proxy.request(method, path, body, key=_role_key(people, role))
        assert status != 401, (role, answer)
        assert not (status == 403 and answer["error"]["code"] == "insufficient_role"), (role, answer)


def _tables(proxy: Proxy) -> dict[str, str]:
    dump = dump_tables(proxy.database_url)
    return {name: dump[name] for name in WRITE_TABLES}


def test_internal_user_reads_itself_and_makes_keys_within_limits(
    proxy: Proxy, people: dict[str, Any]
) -> None:
    key = people["keys"]["internal_user"]
    me = proxy.ok("GET", "/user/info", key=key)
    assert me["user_id"] == "u-internal_user" and me["user_info"]["user_role"] == "internal_user"
    status, answer, _ = proxy.request("GET", "/user/info?user_id=u-member", key=key)
    assert status == 403, answer
    made = proxy.ok("POST", "/key/generate", {"max_budget": 2, "models": ["priced"]}, key=key)
    assert made["user_id"] == "u-internal_user" and made["key"].startswith("sk-")
    for too_much in ({"max_budget": 50, "models": ["priced"]}, {"max_budget": 1, "models": ["gpt-4o"]}):
        status, answer, _ = proxy.request("POST", "/key/generate", too_much, key=key)
        assert status == 403 and answer["error"]["code"] == "not_allowed_for_target", answer
    listed = proxy.ok("GET", "/key/list?return_full_object=true", key=key)["keys"]
    assert listed and {k["user_id"] for k in listed} == {"u-internal_user"}
    other = people["keys"]["member"]
    for path, body in (("/key/update", {"key": other, "max_budget": 0}), ("/key/delete", {"keys": [other]})):
        status, answer, _ = proxy.request("POST", path, body, key=key)
        assert status == 403, (path, answer)
    assert proxy.ok("POST", "/key/delete", {"keys": [made["key"]]}, key=key)["deleted_keys"]


def test_viewers_read_but_never_write(proxy: Proxy, people: dict[str, Any]) -> None:
    viewer = people["keys"]["proxy_admin_viewer"]
    assert proxy.ok("GET", "/key/list", key=viewer)["total_count"] >= len(people["keys"])
    assert proxy.ok("GET", "/team/info?team_id=t-b", key=viewer)["team_id"] == "t-b"
    for path, body in (("/team/new", {"team_alias": "v"}), ("/key/generate", {}), ("/user/new", {})):
        status, answer, _ = proxy.request("POST", path, body, key=viewer)
        assert status == 403, (path, answer)
    internal_viewer = people["keys"]["internal_user_viewer"]
    assert proxy.ok("GET", "/key/info", key=internal_viewer)["info"]["user_id"] == "u-internal_user_viewer"
    status, answer, _ = proxy.request("POST", "/key/generate", {}, key=internal_viewer)
    assert status == 403 and answer["error"]["code"] == "insufficient_role", answer


def test_team_admin_manages_its_team_only(proxy: Proxy, people: dict[str, Any]) -> None:
    admin, member = people["keys"]["team_admin"], people["keys"]["member"]
    added = proxy.ok(
        "POST", "/team/member_add", {"team_id": "t-a", "member": {"user_id": "u-new"}}, key=admin
    )
    assert {"user_id": "u-new", "role": "user"} in added["members_with_roles"]
    status, _, _ = proxy.request(
        "POST", "/team/member_add", {"team_id": "t-b", "member": {"user_id": "x"}}, key=admin
    )
    assert status == 403
    status, _, _ = proxy.request(
        "POST", "/team/member_add", {"team_id": "t-a", "member": {"user_id": "y"}}, key=member
    )
    assert status == 403, "a plain member may not add members"
    made = proxy.ok("POST", "/key/generate", {"team_id": "t-a", "user_id": "u-member"}, key=admin)
    assert made["team_id"] == "t-a"
    assert (
        proxy.ok("POST", "/key/update", {"key": made["key"], "max_budget": 1}, key=admin)["max_budget"] == 1
    )
    status, _, _ = proxy.request("POST", "/key/generate", {"team_id": "t-b"}, key=admin)
    assert status == 403
    own = proxy.ok("POST", "/key/generate", {"team_id": "t-a", "user_id": "u-member"}, key=member)
    assert own["user_id"] == "u-member"
    status, _, _ = proxy.request("POST", "/key/update", {"key": made["key"], "max_budget": 9}, key=member)
    assert status in (200, 403)  # the member's own key (made by the admin for it): allowed
    status, _, _ = proxy.request(
        "POST", "/key/generate", {"team_id": "t-a", "user_id": "u-team_admin"}, key=member
    )
    assert status == 403, "a member may not make keys for another member"
    proxy.ok("POST", "/team/member_delete", {"team_id": "t-a", "user_id": "u-new"}, key=admin)


def test_team_key_reads_its_own_team_only(proxy: Proxy, people: dict[str, Any]) -> None:
    key = people["keys"]["team"]
    info = proxy.ok("GET", "/team/info", key=key)
    assert info["team_id"] == "t-a" and info["team_info"]["members_with_roles"]
    status, answer, _ = proxy.request("GET", "/team/info?team_id=t-b", key=key)
    assert status == 403, answer
    status, answer, _ = proxy.request("POST", "/key/generate", {"team_id": "t-a"}, key=key)
    assert status == 403 and answer["error"]["code"] == "insufficient_role"


def test_org_admin_works_inside_its_organization(proxy: Proxy, people: dict[str, Any]) -> None:
    key = people["keys"]["org_admin"]
    team = proxy.ok("POST", "/team/new", {"organization_id": "org-a", "team_alias": "by-org-admin"}, key=key)
    assert team["organization_id"] == "org-a"
    status, _, _ = proxy.request("POST", "/team/new", {"team_alias": "nowhere"}, key=key)
    assert status == 403
    org = proxy.ok("GET", "/organization/info?organization_id=org-a", key=key)
    assert {t["team_id"] for t in org["teams"]} >= {"t-a", team["team_id"]}
    status, _, _ = proxy.request(
        "POST", "/user/new", {"organization_id": "org-a", "user_role": "proxy_admin"}, key=key
    )
    assert status == 403, "an org admin may not make proxy admins"


def test_proxy_admin_role_key_is_an_admin(proxy: Proxy, people: dict[str, Any]) -> None:
    key = people["keys"]["proxy_admin"]
    assert (
        proxy.ok("POST", "/team/new", {"team_alias": "by-admin-user"}, key=key)["team_alias"]
        == "by-admin-user"
    )
    assert proxy.ok("GET", "/user/list", key=key)["total"] >= len(people["keys"]) - 1
