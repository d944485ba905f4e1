"""The dashboard API (``/login``, ``/ui/api/*``) on the real proxy, SQLite and PostgreSQL, traffic from the
official ``openai`` client (simulator upstream):

* log-in with the master key, a user's key, a username/password; wrong credentials and a tampered or
  absent cookie are 401; the cookie is ``HttpOnly`` and ``SameSite=Strict``; no password hash is ever
  returned by ``/user/info``;
* the overview (read from rollups) equals ``/global/spend/report`` for every dimension it shares, the
  provider dimension equals the rows, unpriced calls are counted apart (never as $0);
* logs: keyset pages cover every row once, filters narrow, a row's detail has its cost breakdown;
* roles: an internal user sees only its own rows and keys; a key without a user only its key's rows.
"""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

import orjson
import pytest
from tests.e2e.conftest import MASTER_KEY, Proxy

MESSAGES: Any = [{"role": "user", "content": "dashboard api"}]


class Session:
    """A browser-like client: a cookie jar, JSON in and out."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else orjson.dumps(body)
        req = urllib.request.Request(self.proxy.url + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        try:
            with self.opener.open(req, timeout=30) as resp:
                return resp.status, orjson.loads(resp.read() or b"null"), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, orjson.loads(err.read() or b"null"), dict(err.headers)

    def ok(self, path: str, body: Any = None) -> Any:
        status, data, _ = self.call("GET" if body is None else "POST", path, body)
        assert status == 200, (path, status, data)
        return data

    def login(self, password: str, username: str = "") -> Any:
        status, data, headers = self.call("POST", "/login", {"username": username, "password": password})
        assert status == 200, data
        return data, headers


@pytest.fixture(scope="module")
def world(proxy: Proxy) -> dict[str, Any]:
    team = proxy.new_team(team_alias="api-team")
    team_key = proxy.new_key(team_id=team, key_alias="api-team-key")
    carol = proxy.ok(
        "POST", "/user/new", {"user_id": "carol", "password": "carol-pw", "user_email": "c@x.io"}
    )
    lone_key = proxy.new_key(key_alias="lone")
    client = proxy.client(team_key)
    for model in ("priced", "priced", "unpriced", "gpt-4o-mini"):
        client.chat.completions.create(
            model=model, messages=MESSAGES, extra_headers={"x-litellm-tags": "app:x"}
        )
    proxy.client(carol["key"]).chat.completions.create(model="priced", messages=MESSAGES)
    proxy.client(lone_key).chat.completions.create(model="priced", messages=MESSAGES)
    proxy.wait_written()
    return {"team": team, "team_key": team_key, "carol_key": carol["key"], "lone_key": lone_key}


def test_login_ways_cookie_flags_and_refusals(proxy: Proxy, world: dict[str, Any]) -> None:
    admin = Session(proxy)
    data, headers = admin.login(MASTER_KEY, "admin")
    assert data["role"] == "proxy_admin"
    cookie = headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert Session(proxy).login("carol-pw", "carol")[0]["user_id"] == "carol"
    assert Session(proxy).login("carol-pw", "c@x.io")[0]["role"] == "internal_user"
    assert Session(proxy).login(world["carol_key"])[0]["user_id"] == "carol"
    for username, password in (("carol", "nope"), ("", "sk-unknown"), ("nobody", "x")):
        status, answer, _ = Session(proxy).call(
            "POST", "/login", {"username": username, "password": password}
        )
        assert status == 401 and answer["error"]["message"] == "invalid username or password"
    stranger = Session(proxy)
    assert stranger.call("GET", "/ui/api/overview")[0] == 401
    forged = Session(proxy)
    forged.login(world["carol_key"])
    for item in forged.jar:
        item.value = item.value.replace("internal_user", "proxy_admin")
    assert forged.call("GET", "/ui/api/users")[0] in (401, 403)
    info = proxy.ok("GET", "/user/info?user_id=carol")
    assert "password_hash" not in info["user_info"]


def _report(proxy: Proxy, group_by: str) -> dict[Any, dict[str, Any]]:
    """``/global/spend/report/v2`` (totals per group over the range, from the same daily aggregates)."""
    return {
        row["group"]: row for row in proxy.ok("GET", f"/global/spend/report/v2?group_by={group_by}")["data"]
    }


@pytest.mark.parametrize(
    ("dimension", "group_by"),
    [("team", "team"), ("key", "api_key"), ("user", "user"), ("model", "model"), ("tag", "tag")],
)
def test_overview_equals_the_spend_report(
    proxy: Proxy, world: dict[str, Any], dimension: str, group_by: str
) -> None:
    admin = Session(proxy)
    admin.login(MASTER_KEY)
    data = admin.ok(f"/ui/api/overview?dimension={dimension}")
    report = _report(proxy, group_by)
    assert {row["group"]: (row["spend"], row["api_requests"]) for row in data["groups"]} == {
        group: (row["spend"], row["api_requests"]) for group, row in report.items()
    }
    models = _report(proxy, "model").values()
    assert Decimal(str(data["totals"]["spend"])) == sum(
        (Decimal(str(r["spend"])) for r in models), Decimal(0)
    )
    assert data["totals"]["api_requests"] == 6
    assert data["totals"]["unpriced_requests"] == 1
    assert sum(day["api_requests"] for day in data["daily"]) == 6


def test_provider_dimension_equals_the_rows(proxy: Proxy, world: dict[str, Any]) -> None:
    admin = Session(proxy)
    admin.login(MASTER_KEY)
    groups = admin.ok("/ui/api/overview?dimension=provider")["groups"]
    rows = proxy.rows()
    expected: dict[str, Decimal] = {}
    for row in rows:
        expected[row["custom_llm_provider"]] = expected.get(row["custom_llm_provider"], Decimal(0)) + (
            row["spend"] or Decimal(0)
        )
    assert {g["group"]: Decimal(str(g["spend"])) for g in groups} == expected
    assert sum(g["api_requests"] for g in groups) == len(rows)


def test_logs_keyset_pages_filters_and_detail(proxy: Proxy, world: dict[str, Any]) -> None:
    admin = Session(proxy)
    admin.login(MASTER_KEY)
    seen: list[str] = []
    cursor = ""
    while True:
        page = admin.ok(f"/ui/api/logs?limit=2{'&cursor=' + cursor if cursor else ''}")
        seen += [row["request_id"] for row in page["data"]]
        if not page["next_cursor"]:
            break
        cursor = page["next_cursor"]
    assert sorted(seen) == sorted(row["request_id"] for row in proxy.rows())
    assert len(seen) == len(set(seen)) == 6
    tagged = admin.ok("/ui/api/logs?tag=app:x")["data"]
    assert len(tagged) == 4
    assert len(admin.ok(f"/ui/api/logs?team_id={world['team']}&model=priced")["data"]) == 2
    assert admin.call("GET", "/ui/api/logs?cursor=not-a-cursor")[0] == 400
    priced = next(row for row in proxy.rows() if row["model_group"] == "priced")
    detail = admin.ok(f"/ui/api/logs/detail?request_id={priced['request_id']}")
    breakdown = {name: Decimal(str(v)) for name, v in detail["cost"]["breakdown"].items()}
    assert sum(breakdown.values()) == Decimal(str(detail["cost"]["total"])) == priced["spend"]
    unpriced = next(row for row in proxy.rows() if row["model_group"] == "unpriced")
    detail = admin.ok(f"/ui/api/logs/detail?request_id={unpriced['request_id']}")
    assert detail["cost"]["total"] is None


def test_internal_user_and_lone_key_see_only_their_own(proxy: Proxy, world: dict[str, Any]) -> None:
    carol = Session(proxy)
    carol.login("carol-pw", "carol")
    logs = carol.ok("/ui/api/logs")["data"]
    assert [row["user"] for row in logs] == ["carol"]
    assert carol.ok("/ui/api/overview")["totals"]["api_requests"] == 1
    assert [k["user_id"] for k in carol.ok("/ui/api/keys")["data"]] == ["carol"]
    assert carol.call("GET", "/ui/api/users")[0] == 403
    assert carol.ok("/ui/api/overview?dimension=tag")["available"] is False
    other = next(row for row in proxy.rows() if row["user"] != "carol")
    assert carol.call("GET", f"/ui/api/logs/detail?request_id={other['request_id']}")[0] == 404
    lone = Session(proxy)
    lone.login(world["lone_key"])
    assert lone.ok("/ui/api/overview")["totals"]["api_requests"] == 1
    assert len(lone.ok("/ui/api/logs")["data"]) == 1
    assert lone.call("POST", "/ui/api/keys/new", {"key_alias": "x"})[0] == 403


def test_writes_create_block_and_regenerate(proxy: Proxy, world: dict[str, Any]) -> None:
    admin = Session(proxy)
    admin.login(MASTER_KEY)
    made = admin.ok("/ui/api/keys/new", {"key_alias": "made-in-ui", "max_budget": "5"})
    assert proxy.client(made["key"]).chat.completions.create(model="priced", messages=MESSAGES)
    admin.ok("/ui/api/keys/block", {"key": made["token"], "blocked": True})
    status, _, _ = proxy.request(
        "POST", "/v1/chat/completions", {"model": "priced", "messages": MESSAGES}, key=made["key"]
    )
    assert status == 401
    admin.ok("/ui/api/keys/block", {"key": made["token"], "blocked": False})
    fresh = admin.ok("/ui/api/keys/regenerate", {"key": made["token"]})
    assert proxy.request("GET", "/v1/models", key=made["key"])[0] == 401
    assert proxy.request("GET", "/v1/models", key=fresh["key"])[0] == 200
    carol = Session(proxy)
    carol.login("carol-pw", "carol")
    own = carol.ok("/ui/api/keys/new", {"key_alias": "carol-2"})
    assert proxy.ok("GET", f"/key/info?key={own['key']}")["info"]["user_id"] == "carol"
    assert carol.call("POST", "/ui/api/keys/block", {"key": fresh["token"]})[0] == 403
    assert carol.call("POST", "/ui/api/keys/new", {"team_id": world["team"]})[0] == 403
    status, answer, _ = admin.call("POST", "/ui/api/teams/new", {"max_budget": "-1"})
    assert status == 400 and answer["error"]["message"]
