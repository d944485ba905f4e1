"""The real proxy with the official openai client, on SQLite and PostgreSQL, upstream = the simulator.

Proves: response headers and the spend row of plain, streamed and embedding calls; tag union and
precedence for every source; failures logged; 401/403 paths; key cache invalidation; model filtering.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import time
from decimal import Decimal
from typing import Any

import openai
import orjson
import pytest
from tests.e2e.conftest import INPUT_PRICE, MASTER_KEY, OUTPUT_PRICE, Proxy

MESSAGES = [{"role": "user", "content": "hello there"}]


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def test_plain_call_headers_and_row(proxy: Proxy) -> None:
    team = proxy.new_team(team_alias="plain")
    key = proxy.new_key(team_id=team, user_id="u-plain", key_alias="plain-key")
    raw = proxy.client(key).chat.completions.with_raw_response.create(
        model="priced", messages=MESSAGES, user="end-user-1", extra_headers={"x-request-id": "req-plain-1"}
    )
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert raw.headers["x-request-id"] == "req-plain-1" == raw.headers["x-litellm-call-id"]
    usage = completion.usage
    assert usage is not None
    expected = usage.prompt_tokens * INPUT_PRICE + usage.completion_tokens * OUTPUT_PRICE
    assert Decimal(raw.headers["x-ledgerlm-response-cost"]) == expected
    assert Decimal(raw.headers["x-litellm-response-cost"]) == expected
    assert float(raw.headers["x-ledgerlm-overhead-ms"]) >= 0
    proxy.wait_written()
    row = proxy.row("req-plain-1")
    assert row["status"] == "success" and row["call_type"] == "acompletion"
    assert row["spend"] == expected
    assert row["api_key"] == _sha(key) and key not in str(row)
    assert (row["team_id"], row["user"], row["end_user"]) == (team, "u-plain", "end-user-1")
    assert row["model_group"] == "priced" and row["custom_llm_provider"] == "openai"
    assert (row["prompt_tokens"], row["completion_tokens"]) == (usage.prompt_tokens, usage.completion_tokens)
    assert row["messages"] is None and row["response"] is None


def test_end_user_from_header(proxy: Proxy) -> None:
    raw = proxy.client().chat.completions.with_raw_response.create(
        model="priced", messages=MESSAGES, extra_headers={"x-litellm-end-user-id": "eu-header"}
    )
    proxy.wait_written()
    assert proxy.row(raw.headers["x-request-id"])["end_user"] == "eu-header"


def test_tag_union_and_precedence_of_every_source(proxy: Proxy) -> None:
    team = proxy.new_team(tags=["team:t1", "shared"])
    key = proxy.new_key(team_id=team, metadata={"tags": ["key:k1", "shared"]})
    client = proxy.client(key)
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        extra_body={"metadata": {"tags": ["body-meta", "shared"]}, "tags": ["body-root"]},
        extra_headers={"x-litellm-tags": "header-ignored", "X-Service": "billing"},
    )
    header_only = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-litellm-tags": "h1, h2"}
    )
    proxy.wait_written()
    assert proxy.row(raw.headers["x-request-id"])["request_tags"] == [
        "body-meta",
        "shared",
        "body-root",
        "key:k1",
        "team:t1",
        "deploy:main",
        "X-Service: billing",
    ]
    assert proxy.row(header_only.headers["x-request-id"])["request_tags"] == [
        "h1",
        "h2",
        "key:k1",
        "shared",
        "team:t1",
        "deploy:main",
    ]


def test_bad_tags_are_400_and_logged(proxy: Proxy) -> None:
    status, body, headers = proxy.request(
        "POST", "/v1/chat/completions", {"model": "priced", "messages": MESSAGES, "tags": ["x" * 129]}
    )
    assert status == 400 and body["error"]["type"] == "invalid_request_error"
    assert "128" in body["error"]["message"]
    proxy.wait_written()
    assert proxy.row(headers["x-request-id"])["status"] == "failure"


def test_streamed_call_row(proxy: Proxy) -> None:
    key = proxy.new_key(metadata={"tags": ["stream-key"]})
    stream = proxy.client(key).chat.completions.create(
        model="priced", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    usage = chunks[-1].usage
    assert text and usage is not None
    proxy.wait_written()
    rows = proxy.rows(api_key=_sha(key))
    assert len(rows) == 1
    row = rows[0]
    assert row["status"] == "success" and row["request_tags"] == ["stream-key"]
    assert row["completion_tokens"] == usage.completion_tokens == 7
    assert row["spend"] == usage.prompt_tokens * INPUT_PRICE + usage.completion_tokens * OUTPUT_PRICE


def test_stream_without_usage_still_logs_usage(proxy: Proxy) -> None:
    key = proxy.new_key()
    chunks = list(proxy.client(key).chat.completions.create(model="priced", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks)
    proxy.wait_written()
    (row,) = proxy.rows(api_key=_sha(key))
    assert row["completion_tokens"] == 7 and row["spend"] is not None


def test_embeddings_row(proxy: Proxy) -> None:
    key = proxy.new_key()
    result = proxy.client(key).embeddings.create(model="embed", input=["a b c", "d e"])
    assert len(result.data) == 2
    proxy.wait_written()
    (row,) = proxy.rows(api_key=_sha(key))
    assert row["call_type"] == "aembedding" and row["status"] == "success"
    assert row["prompt_tokens"] == result.usage.prompt_tokens


def test_unpriced_call_has_no_cost_header_and_null_spend(proxy: Proxy) -> None:
    raw = proxy.client().chat.completions.with_raw_response.create(model="unpriced", messages=MESSAGES)
    assert "x-ledgerlm-response-cost" not in raw.headers
    assert "x-litellm-response-cost" not in raw.headers
    proxy.wait_written()
    row = proxy.row(raw.headers["x-request-id"])
    assert row["status"] == "success" and row["spend"] is None and row["prompt_tokens"] > 0


def test_failures_are_logged(proxy: Proxy) -> None:
    key = proxy.new_key(metadata={"tags": ["fail-key"]})
    client = proxy.client(key)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="broken", messages=MESSAGES)
    with pytest.raises(openai.NotFoundError) as not_found:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert not_found.value.body["code"] == "model_not_found"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="priced", messages=[])
    with pytest.raises(openai.InternalServerError):
        list(client.chat.completions.create(model="broken", messages=MESSAGES, stream=True))
    proxy.wait_written()
    rows = proxy.rows(api_key=_sha(key))
    assert len(rows) == 4
    assert {r["status"] for r in rows} == {"failure"}
    assert sorted(r["model_group"] for r in rows) == ["broken", "broken", "no-such-model", "priced"]
    assert all(r["request_tags"] == ["fail-key"] or r["model_group"] == "no-such-model" for r in rows)
    assert all(r["metadata"]["error"]["message"] for r in rows)


def test_auth_paths(proxy: Proxy) -> None:
    body = {"model": "priced", "messages": MESSAGES}
    assert proxy.request("POST", "/v1/chat/completions", body, key=None)[0] == 401
    status, error, _ = proxy.request("POST", "/v1/chat/completions", body, key="sk-not-a-key")
    assert status == 401 and error["error"]["type"] == "authentication_error"
    limited = proxy.new_key(models=["priced"])
    status, error, _ = proxy.request(
        "POST", "/v1/chat/completions", {**body, "model": "gpt-4o-mini"}, key=limited
    )
    assert status == 403 and error["error"]["type"] == "permission_denied"
    assert proxy.request("POST", "/v1/chat/completions", body, key=limited)[0] == 200
    via_x_api_key = proxy.request(
        "POST", "/v1/chat/completions", body, key=None, headers={"x-api-key": limited}
    )
    assert via_x_api_key[0] == 200


def test_expired_deleted_and_blocked_keys_are_refused_at_once(proxy: Proxy) -> None:
    body = {"model": "priced", "messages": MESSAGES}
    expired = proxy.new_key(duration="1s")
    import time

    time.sleep(1.1)
    assert proxy.request("POST", "/v1/chat/completions", body, key=expired)[0] == 401
    doomed = proxy.new_key()
    assert proxy.request("POST", "/v1/chat/completions", body, key=doomed)[0] == 200
    assert proxy.ok("POST", "/key/delete", {"keys": [doomed]})["deleted_keys"] == [_sha(doomed)]
    assert proxy.request("POST", "/v1/chat/completions", body, key=doomed)[0] == 401
    blocked = proxy.new_key()
    assert proxy.request("POST", "/v1/chat/completions", body, key=blocked)[0] == 200
    proxy.ok("POST", "/key/update", {"key": blocked, "blocked": True})
    assert proxy.request("POST", "/v1/chat/completions", body, key=blocked)[0] == 401


def test_models_route_is_filtered_by_key(proxy: Proxy) -> None:
    limited = proxy.new_key(models=["priced", "embed"])
    assert sorted(m.id for m in proxy.client(limited).models.list()) == ["embed", "priced"]
    everything = {m.id for m in proxy.client(MASTER_KEY).models.list()}
    assert {"priced", "gpt-4o-mini", "broken", "embed", "unpriced"} <= everything


def test_non_admin_key_cannot_manage(proxy: Proxy) -> None:
    key = proxy.new_key()
    listed = proxy.ok("GET", "/key/list", key=key)  # a key without a user lists only itself
    assert listed["keys"] == [hashlib.sha256(key.encode()).hexdigest()]
    for method, path, body in [
        ("POST", "/key/generate", {}),
        ("POST", "/team/new", {}),
        ("POST", "/user/new", {}),
        ("POST", "/customer/new", {"user_id": "x"}),
        ("GET", "/team/info?team_id=x", None),
        ("GET", "/user/info?user_id=x", None),
        ("GET", "/customer/info?end_user_id=x", None),
        ("POST", "/key/update", {"key": key, "models": []}),
        ("POST", "/key/delete", {"keys": [key]}),
        ("POST", "/team/update", {"team_id": "x"}),
        ("POST", "/team/delete", {"team_ids": ["x"]}),
    ]:
        status, error, _ = proxy.request(method, path, body, key=key)
        assert status == 403, (path, status, error)
        assert proxy.request(method, path, body, key=None)[0] == 401, path


def test_management_fields_round_trip(proxy: Proxy) -> None:
    team = proxy.ok(
        "POST", "/team/new", {"team_alias": "rt", "tags": ["a"], "max_budget": 12.5, "models": ["priced"]}
    )
    assert team["max_budget"] == 12.5 and team["tags"] == ["a"]  # money: an exact JSON number
    made = proxy.ok(
        "POST",
        "/key/generate",
        {
            "team_id": team["team_id"],
            "key_alias": "rt-key",
            "max_budget": "3",
            "budget_duration": "30d",
            "tpm_limit": 1000,
            "rpm_limit": 10,
            "tags": ["t1"],
            "metadata": {"owner": "me"},
        },
    )
    assert made["key"].startswith("sk-") and made["token"] == _sha(made["key"])
    info = proxy.ok("GET", f"/key/info?key={made['key']}")["info"]
    assert info["metadata"] == {"owner": "me", "tags": ["t1"]} and info["rpm_limit"] == 10
    assert info["key_name"] == "sk-..." + made["key"][-4:]
    own = proxy.ok("GET", "/key/info", key=made["key"])
    assert own["key"] == _sha(made["key"])
    assert proxy.request("GET", "/team/info?team_id=nope")[0] == 404
    assert proxy.request("POST", "/key/generate", {"max_budget": -1})[0] == 400
    assert proxy.request("POST", "/key/generate", {"team_id": "missing-team"})[0] == 400
    user = proxy.ok("POST", "/user/new", {"user_id": "rt-user", "user_email": "a@b.c"})
    assert user["key"].startswith("sk-")
    assert proxy.ok("GET", "/user/info?user_id=rt-user")["keys"][0]["token"] == _sha(user["key"])
    proxy.ok("POST", "/customer/new", {"user_id": "rt-customer", "max_budget": 1})
    assert proxy.ok("GET", "/customer/info?end_user_id=rt-customer")["user_id"] == "rt-customer"
    listed = proxy.ok("GET", f"/key/list?team_id={team['team_id']}")
    assert listed["keys"] == [_sha(made["key"])]
    assert (listed["total_count"], listed["total_pages"], listed["current_page"]) == (1, 1, 1)


def test_health_and_openapi(proxy: Proxy) -> None:
    assert proxy.ok("GET", "/health/liveliness", key=None)["status"] == "healthy"
    ready = proxy.ok("GET", "/health/readiness", key=None)
    assert ready["db"] == "connected" and ready["spool"] == "healthy"
    doc = proxy.ok("GET", "/openapi.json", key=None)
    for path in (
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/models",
        "/key/generate",
        "/spend/logs",
        "/global/spend/report",
        "/health/readiness",
    ):
        assert path in doc["paths"], path
    assert doc["paths"]["/key/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_malformed_requests_get_openai_errors(proxy: Proxy) -> None:
    for body, fragment in [
        ({"messages": MESSAGES}, "model"),
        ({"model": "priced"}, "messages"),
        ({"model": "priced", "messages": MESSAGES, "stream": "yes"}, "stream"),
    ]:
        status, error, _ = proxy.request("POST", "/v1/chat/completions", body)
        assert status == 400 and fragment in error["error"]["message"], (body, error)


def test_client_disconnect_mid_stream_leaves_one_failure_row(proxy: Proxy) -> None:
    host, port = proxy.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    body = orjson.dumps({"model": "slow-stream", "messages": MESSAGES, "stream": True})
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=body,
        headers={
            "authorization": f"Bearer {MASTER_KEY}",
            "content-type": "application/json",
            "x-request-id": "req-disconnect-1",
        },
    )
    response = conn.getresponse()
    assert response.status == 200
    assert response.read(6) == b"data: "  # the first chunk arrives, then the client goes away
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    deadline = time.monotonic() + 15
    while not proxy.rows(request_id="req-disconnect-1"):
        assert time.monotonic() < deadline, "no row for the abandoned stream"
        time.sleep(0.05)
    row = proxy.row("req-disconnect-1")
    assert row["status"] == "failure" and row["metadata"]["error"]["type"]


def test_upstream_stream_breaking_mid_way(proxy: Proxy) -> None:
    key = proxy.new_key()
    with pytest.raises(openai.APIError):
        list(proxy.client(key).chat.completions.create(model="breaking", messages=MESSAGES, stream=True))
    proxy.wait_written()
    (row,) = proxy.rows(api_key=_sha(key))
    assert row["status"] == "failure" and row["model_group"] == "breaking"


def _eventually_status(proxy: Proxy, key: str, expected: int, model: str = "priced") -> None:
    body = {"model": model, "messages": MESSAGES}
    deadline = time.monotonic() + 3
    while (status := proxy.request("POST", "/v1/chat/completions", body, key=key)[0]) != expected:
        assert time.monotonic() < deadline, f"status {status}, expected {expected}"
        time.sleep(0.02)


def test_key_changes_reach_another_instance_at_once(
    proxy_factory: Any, database_url: str, redis_url: str
) -> None:
    settings = {"redis_url": redis_url, "key_cache_ttl_s": 600}  # a long TTL: only the events can explain it
    first = proxy_factory(database_url, general_settings=settings)
    second = proxy_factory(database_url, general_settings=settings)
    for instance in (first, second):
        deadline = time.monotonic() + 10
        while not instance.app.state.proxy.key_events._subscribed.is_set():
            assert time.monotonic() < deadline, "no subscription to the key channel"
            time.sleep(0.02)
    team = first.new_team(models=["priced", "gpt-4o-mini"])
    key = first.new_key(team_id=team)
    _eventually_status(second, key, 200)  # now cached by the second instance
    first.ok("POST", "/team/update", {"team_id": team, "models": ["gpt-4o-mini"]})
    _eventually_status(second, key, 403)
    first.ok("POST", "/key/update", {"key": key, "blocked": True})
    _eventually_status(second, key, 401, model="gpt-4o-mini")
    other = first.new_key()
    _eventually_status(second, other, 200)
    first.ok("POST", "/key/delete", {"keys": [other]})
    _eventually_status(second, other, 401)


def test_required_tags_on_every_database(proxy_factory: Any, database_url: str) -> None:
    strict = proxy_factory(database_url, general_settings={"required_tags": ["team:", "env:"]})
    team = strict.new_team(tags=["team:billing"])
    key = strict.new_key(team_id=team)
    body = {"model": "priced", "messages": MESSAGES}
    status, error, headers = strict.request("POST", "/v1/chat/completions", body, key=key)
    assert (
        status == 400 and "'env:'" in error["error"]["message"] and "'team:'" not in error["error"]["message"]
    )
    ok = strict.request("POST", "/v1/chat/completions", body, key=key, headers={"x-litellm-tags": "env:prod"})
    assert ok[0] == 200
    strict.wait_written()
    assert strict.row(headers["x-request-id"])["status"] == "failure"
    assert strict.row(ok[2]["x-request-id"])["request_tags"] == ["env:prod", "team:billing"]
