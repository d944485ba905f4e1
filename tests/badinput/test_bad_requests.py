"""Bad input: every malformed request gets a 4xx OpenAI-format error naming the problem, never a 5xx,
and leaves the proxy serving. Real proxy (uvicorn), real HTTP (raw ``http.client`` so the bytes on the
wire are exactly the bad ones), the machine's PostgreSQL."""

from __future__ import annotations

import http.client
import json
import uuid
from typing import Any
from urllib.parse import urlparse

import pytest
from tests.e2e.conftest import MASTER_KEY, Proxy

CHAT = "/v1/chat/completions"
GOOD = {"model": "priced", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture(scope="module")
def proxy(pg_database: str, proxy_factory: Any) -> Proxy:
    proxy: Proxy = proxy_factory(pg_database, general_settings={"max_request_size_mb": 10})
    return proxy


def send(
    proxy: Proxy, body: bytes, *, path: str = CHAT, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    """POST raw ``body``; (status, parsed JSON body). A non-JSON answer fails the test."""
    url = urlparse(proxy.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        sent = {
            "authorization": f"Bearer {MASTER_KEY}",
            "content-type": "application/json",
            **(headers or {}),
        }
        conn.request("POST", path, body=body, headers=sent)
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw)
    except ValueError:
        pytest.fail(f"non-JSON answer {resp.status}: {raw[:200]!r}")


def assert_openai_error(status: int, body: dict[str, Any], expected: int, *words: str) -> None:
    """``status`` is ``expected`` and the body is ``{"error": {message, type, param, code}}`` naming
    each of ``words`` (case-insensitive) in its message, param or code."""
    assert status == expected, (status, body)
    error = body.get("error")
    assert isinstance(error, dict), body
    assert isinstance(error.get("message"), str) and error["message"], body
    assert isinstance(error.get("type"), str), body
    assert {"param", "code"} <= set(error), body
    text = " ".join(str(error.get(k) or "") for k in ("message", "param", "code")).lower()
    for word in words:
        assert word.lower() in text, (word, error)


def as_json(value: Any) -> bytes:
    return json.dumps(value).encode()


CASES: list[tuple[str, bytes, int, tuple[str, ...]]] = [
    ("malformed JSON", b'{"model": "priced", "messages": [', 400, ("json",)),
    ("empty body", b"", 400, ("empty",)),
    ("JSON array, not an object", b"[1, 2]", 400, ("object",)),
    (
        "invalid UTF-8",
        b'{"model": "priced", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        400,
        ("json",),
    ),
    ("model is a number", as_json({**GOOD, "model": 42}), 400, ("model",)),
    ("model missing", as_json({"messages": GOOD["messages"]}), 400, ("model",)),
    ("messages missing", as_json({"model": "priced"}), 400, ("messages",)),
    ("messages is a string", as_json({**GOOD, "messages": "hi"}), 400, ("messages",)),
    ("messages empty", as_json({**GOOD, "messages": []}), 400, ("messages",)),
    ("stream is a string", as_json({**GOOD, "stream": "yes"}), 400, ("stream",)),
    ("stream is a number", as_json({**GOOD, "stream": 1}), 400, ("stream",)),
    ("user is a number", as_json({**GOOD, "user": 7}), 400, ("user",)),
    ("unknown model", as_json({**GOOD, "model": "no-such-model"}), 404, ("model_not_found",)),
    ("tags not a list", as_json({**GOOD, "tags": "a,b"}), 400, ("tag",)),
    ("tag not a string", as_json({**GOOD, "tags": [1]}), 400, ("tag",)),
    ("tag over 128 chars", as_json({**GOOD, "tags": ["x" * 129]}), 400, ("tag",)),
    ("over 64 tags", as_json({**GOOD, "tags": [f"t{i}" for i in range(65)]}), 400, ("tag",)),
    ("metadata.tags not strings", as_json({**GOOD, "metadata": {"tags": [{"a": 1}]}}), 400, ("tag",)),
    ("embeddings without input", as_json({"model": "embed"}), 400, ("input",)),
]


@pytest.mark.parametrize(("name", "body", "status", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_body_is_a_named_4xx(
    proxy: Proxy, name: str, body: bytes, status: int, words: tuple[str, ...]
) -> None:
    path = "/v1/embeddings" if name.startswith("embeddings") else CHAT
    code, answer = send(proxy, body, path=path)
    assert_openai_error(code, answer, status, *words)


def test_20_mb_body_is_413(proxy: Proxy) -> None:
    content = "x" * (20 * 1024 * 1024)
    body = as_json({**GOOD, "messages": [{"role": "user", "content": content}]})
    assert_openai_error(*send(proxy, body), 413, "request_too_large")


def test_20_mb_body_without_content_length_is_413(proxy: Proxy) -> None:
    """Chunked upload (no Content-Length to check up front): the proxy stops reading at the limit."""
    url = urlparse(proxy.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    chunk = b"x" * (1024 * 1024)
    try:
        conn.putrequest("POST", CHAT)
        conn.putheader("authorization", f"Bearer {MASTER_KEY}")
        conn.putheader("transfer-encoding", "chunked")
        conn.endheaders()
        for _ in range(20):
            try:
                conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                break  # the proxy answered and closed: fine
        else:
            conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        status, body = resp.status, json.loads(resp.read())
    finally:
        conn.close()
    assert_openai_error(status, body, 413, "request_too_large")


@pytest.mark.parametrize(
    ("header", "value", "status", "word"),
    [
        ("x-litellm-tags", "t" * 200, 400, "tag"),
        ("x-litellm-tags", ",".join(f"t{i}" for i in range(100)), 400, "tag"),
        ("authorization", "Bearer sk-" + "a" * 8000, 401, "key"),
        ("x-request-id", "r" * 8000, 400, "x-request-id"),  # capped: 200 characters
        ("x-litellm-end-user-id", "u" * 8000, 400, "x-litellm-end-user-id"),  # capped: 255 characters
    ],
    ids=[
        "tag-header-long-tag",
        "tag-header-100-tags",
        "huge-authorization",
        "huge-request-id",
        "huge-end-user",
    ],
)
def test_absurd_headers(proxy: Proxy, header: str, value: str, status: int, word: str) -> None:
    code, body = send(proxy, as_json(GOOD), headers={header: value})
    if status == 200:
        assert code == 200, body
        return
    assert_openai_error(code, body, status, word)


def test_headers_beyond_the_server_limit_are_refused_not_crashing(proxy: Proxy) -> None:
    """A 1 MB header: refused (4xx) or the connection dropped by the HTTP server; the proxy still serves."""
    url = urlparse(proxy.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=30)
    try:
        conn.request("POST", CHAT, body=as_json(GOOD), headers={"x-huge": "h" * (1024 * 1024)})
        status = conn.getresponse().status
        assert 400 <= status < 500, status
    except (ConnectionError, http.client.RemoteDisconnected):
        pass  # uvicorn dropped the connection: also a refusal
    finally:
        conn.close()
    code, body = send(proxy, as_json(GOOD))
    assert code == 200, body


def test_bad_management_bodies_are_named_4xx(proxy: Proxy) -> None:
    assert_openai_error(*send(proxy, b"{nope", path="/key/generate"), 400, "json")
    assert_openai_error(*send(proxy, as_json({"models": "gpt"}), path="/key/generate"), 400, "models")
    assert_openai_error(
        *send(proxy, as_json({"max_budget": "lots"}), path="/key/generate"), 400, "max_budget"
    )
    assert_openai_error(*send(proxy, as_json({"keys": 5}), path="/key/delete"), 400, "keys")
    # values PostgreSQL cannot store are refused up front, naming the field (not a 500 from the database)
    for body, field in [
        ({"max_budget": 1e300}, "max_budget"),
        ({"max_budget": "Infinity"}, "max_budget"),
        ({"rpm_limit": 2**70}, "rpm_limit"),
        ({"duration": "99999999999d"}, "duration"),
        ({"key_alias": "a\u0000b"}, "key_alias"),
        ({"metadata": {"note\u0000": 1}}, "metadata"),
    ]:
        assert_openai_error(*send(proxy, as_json(body), path="/key/generate"), 400, field)
    assert_openai_error(*send(proxy, as_json({"names": True}), path="/tag/delete"), 400, "names")
    status, body, _ = proxy.request("GET", "/key/list?key_alias=a%00b")
    assert_openai_error(status, body, 400, "key_alias")


def test_bad_query_parameters_are_named_4xx(proxy: Proxy) -> None:
    for path, word in [
        ("/spend/logs/v2?page=abc", "page"),
        ("/spend/logs/v2?start_date=yesterday", "start_date"),
        ("/global/spend/report/v2?group_by=planet", "group_by"),
    ]:
        status, body, _ = proxy.request("GET", path)
        assert_openai_error(status, body, 400, word)


@pytest.mark.parametrize(
    "extra",
    [{"user": "end\u0000user"}, {"tags": ["t\u0000ag"]}, {"metadata": {"note": "a\u0000b"}}],
    ids=["user", "tags", "metadata"],
)
def test_nul_characters_never_lose_a_row(proxy: Proxy, extra: dict[str, Any]) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb: such a request is refused up front (400), or it is
    answered AND its spend row is stored. Never a 200 whose row the database then refuses."""
    rid = f"nul-{uuid.uuid4().hex}"
    code, body = send(proxy, as_json({**GOOD, **extra}), headers={"x-request-id": rid})
    if code == 200:
        proxy.wait_written(timeout_s=10)
        assert len(proxy.rows(request_id=rid)) == 1, "answered 200 but no spend row"
    else:
        assert_openai_error(code, body, 400, "nul")
