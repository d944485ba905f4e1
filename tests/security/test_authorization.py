"""Authorization on the real proxy (machine's PostgreSQL, simulator upstream, official openai client):

* a virtual key gets 401/403 on EVERY management route, enumerated from the app's own route table, so a
  route added later is covered without editing this test (only public, LLM and self-service routes are
  listed as exceptions), and nothing it asked for happened;
* on every spend route a virtual key sees only its own rows (the spend routes are enumerated too);
* a key cannot use a model outside its ``models`` on any LLM route;
* expired, deleted and blocked keys are refused at once on the instance that changed them; on a second
  instance sharing the database at once when they share Redis (invalidation over pub/sub), and without
  Redis within its key-cache TTL (``key_cache_ttl_s``; a cache entry is never trusted longer). Expiry is
  re-checked on every request, cached or not.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from decimal import Decimal
from typing import Any

import openai
import pytest
from starlette.routing import Route
from tests.e2e.conftest import MASTER_KEY, Proxy
from tests.helpers.net import openai_client
from tests.helpers.pg import dump_tables

from ledgerlm.proxy.app import routes as app_routes
from ledgerlm.proxy.roles import ROUTE_ACCESS, Access

MESSAGES: Any = [{"role": "user", "content": "who may see this"}]
CACHE_TTL_S = 1.0

# Routes open to any caller, to any valid key, or to any key on its own data (``proxy.roles``); every
# other route needs a role a team's service key (no user) does not have.
PUBLIC = {p for p, a in ROUTE_ACCESS.items() if a == Access.PUBLIC}
LLM = {p for p, a in ROUTE_ACCESS.items() if a == Access.LLM}
SELF_SERVICE = {p for p, a in ROUTE_ACCESS.items() if a == Access.SELF_READ}
SPEND_ROUTES = {"/spend/logs", "/spend/tags", "/global/spend/report"}
# The dashboard (issue 21) authenticates with its session cookie, never a bearer key: walked apart below.
DASHBOARD_PAGES = {"/ui", "/ui/", "/login", "/logout", "/ui/static/{name}", "/ui/static/vendor/{name}"}


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _route_table() -> list[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD excluded)."""
    out: list[tuple[str, str]] = []
    for route in app_routes():
        assert isinstance(route, Route)
        out.extend((m, route.path) for m in sorted(route.methods or ()) if m != "HEAD")
    return out


def _dashboard_api() -> list[tuple[str, str]]:
    return [(m, p) for m, p in _route_table() if p.startswith("/ui/api/")]


def _management() -> list[tuple[str, str]]:
    skip = PUBLIC | LLM | SELF_SERVICE | DASHBOARD_PAGES
    return [(m, p) for m, p in _route_table() if p not in skip and not p.startswith("/ui/api/")]


@pytest.fixture(scope="module")
def proxies(pg_database: str, proxy_factory: Any) -> tuple[Proxy, Proxy]:
    """Two proxy instances sharing one database (separate spools, separate key caches)."""
    settings = {"general_settings": {"key_cache_ttl_s": CACHE_TTL_S}}
    return proxy_factory(pg_database, **settings), proxy_factory(pg_database, **settings)


@pytest.fixture(scope="module")
def proxy(proxies: tuple[Proxy, Proxy]) -> Proxy:
    return proxies[0]


@pytest.fixture(scope="module")
def two_keys(proxy: Proxy) -> dict[str, Any]:
    """Keys A and B on different teams, each with traffic carrying its own tags; their request ids."""
    team_a, team_b = proxy.new_team(team_alias="authz-a"), proxy.new_team(team_alias="authz-b")
    keys = {"a": proxy.new_key(team_id=team_a, key_alias="authz-a"), "b": proxy.new_key(team_id=team_b)}
    ids: dict[str, list[str]] = {"a": [], "b": []}
    for name, key in keys.items():
        with openai_client(proxy.url, key) as client:
            _traffic(client, name, ids[name])
    proxy.wait_written()
    return {"keys": keys, "ids": ids, "teams": {"a": team_a, "b": team_b}}


def _traffic(client: openai.OpenAI, name: str, ids: list[str]) -> None:
    for index in range(3):
        raw = client.chat.completions.with_raw_response.create(
            model="priced",
            messages=MESSAGES,
            user=f"authz-eu-{name}",
            extra_headers={"x-litellm-tags": f"owner:{name},n:{index}"},
        )
        raw.parse()
        ids.append(raw.headers["x-request-id"])


def test_route_lists_are_consistent() -> None:
    """The exception lists name real routes, and the management set is not empty."""
    paths = {p for _, p in _route_table()}
    assert paths >= SPEND_ROUTES
    assert {p for p in paths if "spend" in p and p in SELF_SERVICE} >= SPEND_ROUTES
    assert len(_management()) >= 15


@pytest.mark.parametrize(("method", "path"), _management(), ids=lambda v: v)
def test_virtual_key_is_refused_on_every_management_route(
    proxy: Proxy, two_keys: dict[str, Any], method: str, path: str
) -> None:
    proxy.wait_written()
    before = _management_tables(proxy)
    body = {"key_alias": "stolen", "team_id": two_keys["teams"]["b"], "keys": [two_keys["keys"]["b"]]}
    body |= {"team_ids": [two_keys["teams"]["b"]], "user_id": "x", "name": "stolen-tag", "blocked": True}
    body |= {"key": two_keys["keys"]["b"], "max_budget": 0}
    send_body = body if method == "POST" else None
    status, answer, _ = proxy.request(method, path, send_body, key=two_keys["keys"]["a"])
    assert status == 403 and answer["error"]["type"], (status, answer)
    for key in (None, "sk-not-a-real-key"):
        status, answer, _ = proxy.request(method, path, send_body, key=key)
        assert status == 401 and answer["error"]["message"], (key, status, answer)
    assert _management_tables(proxy) == before, "a refused call changed the database"


@pytest.mark.parametrize(("method", "path"), _dashboard_api(), ids=lambda v: v)
def test_dashboard_api_needs_a_session_whatever_key_is_sent(
    proxy: Proxy, two_keys: dict[str, Any], method: str, path: str
) -> None:
    """Every ``/ui/api/*`` route answers 401 without a session cookie, even to the master key, and a
    refused call changes nothing (a bearer key never opens the dashboard API)."""
    proxy.wait_written()
    before = _management_tables(proxy)
    body = {"key_alias": "stolen", "team_alias": "stolen", "user_id": "x", "key": two_keys["keys"]["b"]}
    send_body = body if method == "POST" else None
    for key in (two_keys["keys"]["a"], MASTER_KEY, None):
        status, answer, _ = proxy.request(method, path, send_body, key=key)
        assert status == 401 and answer["error"]["message"], (key, status, answer)
    assert _management_tables(proxy) == before, "a refused call changed the database"


MANAGEMENT_TABLES = ("verification_tokens", "teams", "users", "end_users", "tags", "organizations")


def _management_tables(proxy: Proxy) -> dict[str, str]:
    """Every row of the tables management routes write (keys, teams, users, end users, tags, orgs)."""
    dump = dump_tables(proxy.database_url)
    assert set(MANAGEMENT_TABLES) <= set(dump), sorted(dump)
    return {name: dump[name] for name in MANAGEMENT_TABLES}


def test_spend_logs_show_only_own_rows(proxy: Proxy, two_keys: dict[str, Any]) -> None:
    key_a, key_b = two_keys["keys"]["a"], two_keys["keys"]["b"]
    data = proxy.ok("GET", "/spend/logs/v2?page_size=1000", key=key_a)["data"]
    assert {r["request_id"] for r in data} == set(two_keys["ids"]["a"])
    assert {r["api_key"] for r in data} == {_sha(key_a)}
    for query in (
        f"request_id={two_keys['ids']['b'][0]}",
        f"team_id={two_keys['teams']['b']}",
        "end_user=authz-eu-b",
        "tags=owner:b",
    ):
        assert proxy.ok("GET", f"/spend/logs/v2?{query}", key=key_a)["data"] == [], query
    for other in (key_b, _sha(key_b)):
        status, answer, _ = proxy.request("GET", f"/spend/logs/v2?api_key={other}", key=key_a)
        assert status == 403, answer
    admin = proxy.ok("GET", "/spend/logs/v2?page_size=1000")["data"]
    assert set(two_keys["ids"]["b"]) <= {r["request_id"] for r in admin}  # the rows exist


def test_spend_tags_and_reports_count_only_own_calls(proxy: Proxy, two_keys: dict[str, Any]) -> None:
    key_a = two_keys["keys"]["a"]
    tags = {r["individual_request_tag"] for r in proxy.ok("GET", "/spend/tags", key=key_a)}
    assert "owner:a" in tags and "owner:b" not in tags
    own = proxy.ok("GET", "/spend/logs/v2?page_size=1000", key=key_a)["data"]
    own_spend = sum((Decimal(str(r["spend"])) for r in own if r["spend"] is not None), Decimal(0))
    assert own_spend > 0
    for group_by in ("team", "customer", "api_key", "tag", "model", "day"):
        report = proxy.ok("GET", f"/global/spend/report/v2?group_by={group_by}", key=key_a)["data"]
        text = repr(report)
        assert two_keys["teams"]["b"] not in text and "authz-eu-b" not in text and "owner:b" not in text
        if group_by != "tag":  # a call with several tags counts under each tag
            total = sum((Decimal(str(r["spend"])) for r in report if r.get("spend") is not None), Decimal(0))
            assert total == own_spend, (group_by, report)


def test_key_info_of_another_key_is_refused(proxy: Proxy, two_keys: dict[str, Any]) -> None:
    key_a, key_b = two_keys["keys"]["a"], two_keys["keys"]["b"]
    assert proxy.ok("GET", "/key/info", key=key_a)["info"]["token"] == _sha(key_a)
    for other in (key_b, _sha(key_b)):
        status, answer, _ = proxy.request("GET", f"/key/info?key={other}", key=key_a)
        assert status == 403, answer


def test_model_outside_the_key_list_is_refused_on_every_llm_route(proxy: Proxy) -> None:
    key = proxy.new_key(models=["priced"])
    status, answer, _ = proxy.request(
        "POST", "/v1/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES}, key=key
    )
    assert status == 403 and answer["error"]["code"] == "model_not_allowed", answer
    status, answer, _ = proxy.request(
        "POST", "/chat/completions", {"model": "gpt-4o-mini", "messages": MESSAGES}, key=key
    )
    assert status == 403, answer
    status, answer, _ = proxy.request("POST", "/v1/embeddings", {"model": "embed", "input": "x"}, key=key)
    assert status == 403, answer
    status, _, _ = proxy.request(
        "POST", "/v1/messages", {"model": "gpt-4o-mini", "max_tokens": 5, "messages": MESSAGES}, key=key
    )
    assert status == 403
    status, _, _ = proxy.request("POST", "/v1/responses", {"model": "gpt-4o-mini", "input": "x"}, key=key)
    assert status == 403
    with openai_client(proxy.url, key) as client:
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True)
        assert client.chat.completions.create(model="priced", messages=MESSAGES).choices
    assert [m["id"] for m in proxy.ok("GET", "/v1/models", key=key)["data"]] == ["priced"]


def _call(proxy: Proxy, key: str) -> int:
    status, _, _ = proxy.request(
        "POST", "/v1/chat/completions", {"model": "priced", "messages": MESSAGES}, key=key
    )
    return status


def _refused_within(proxy: Proxy, key: str, bound_s: float) -> None:
    deadline = time.monotonic() + bound_s
    while _call(proxy, key) != 401:
        assert time.monotonic() < deadline, f"still served {bound_s}s after the change on another instance"
        time.sleep(0.1)


def test_deleted_key_is_refused_at_once_and_on_the_second_instance(proxies: tuple[Proxy, Proxy]) -> None:
    first, second = proxies
    key = first.new_key(key_alias=f"del-{uuid.uuid4().hex[:6]}")
    assert _call(first, key) == 200 and _call(second, key) == 200  # cached on both
    first.ok("POST", "/key/delete", {"keys": [key]})
    assert _call(first, key) == 401
    _refused_within(second, key, CACHE_TTL_S + 3)
    assert _call(first, key) == 401 and _call(second, key) == 401


def test_blocked_key_is_refused_at_once_and_on_the_second_instance(proxies: tuple[Proxy, Proxy]) -> None:
    first, second = proxies
    key = first.new_key()
    assert _call(first, key) == 200 and _call(second, key) == 200
    first.ok("POST", "/key/update", {"key": key, "blocked": True})
    assert _call(first, key) == 401
    _refused_within(second, key, CACHE_TTL_S + 3)


def test_expired_key_is_refused_on_both_instances_even_when_cached(proxies: tuple[Proxy, Proxy]) -> None:
    first, second = proxies
    key = first.new_key(duration="2s")
    assert _call(first, key) == 200 and _call(second, key) == 200
    time.sleep(2.1)
    for proxy in (first, second):
        status, answer, _ = proxy.request(
            "POST", "/v1/chat/completions", {"model": "priced", "messages": MESSAGES}, key=key
        )
        assert status == 401 and answer["error"]["code"] == "key_expired", answer


def test_master_key_never_needed_for_a_virtual_key_call(proxy: Proxy) -> None:
    """Sanity for the refusals above: the same requests with the master key are served."""
    assert _call(proxy, MASTER_KEY) == 200


@pytest.fixture(scope="module")
def redis_proxies(pg_database: str, proxy_factory: Any, redis_url: str) -> tuple[Proxy, Proxy]:
    """Two instances sharing the database AND Redis (key invalidations over pub/sub), with a key cache
    TTL so long that only the invalidation message can explain a refusal on the second one."""
    settings = {"general_settings": {"key_cache_ttl_s": 600, "redis_url": redis_url}}
    return proxy_factory(pg_database, **settings), proxy_factory(pg_database, **settings)


@pytest.mark.parametrize("change", ["delete", "block"])
def test_with_redis_the_second_instance_refuses_at_once(
    redis_proxies: tuple[Proxy, Proxy], change: str
) -> None:
    first, second = redis_proxies
    key = first.new_key()
    assert _call(first, key) == 200 and _call(second, key) == 200  # cached on both for 600 s
    if change == "delete":
        first.ok("POST", "/key/delete", {"keys": [key]})
    else:
        first.ok("POST", "/key/update", {"key": key, "blocked": True})
    assert _call(first, key) == 401
    _refused_within(second, key, 3.0)  # a pub/sub message, not the 600 s TTL
