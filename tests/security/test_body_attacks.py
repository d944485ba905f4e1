"""A caller attacking the ledger through the request body: redirecting the call to another upstream or
credential (LiteLLM's client-side credentials, refused: this proxy has no opt-in), and end-user ids
PostgreSQL cannot store. Each is a 400 in the route's error format, and the proxy keeps serving. Real
proxy (uvicorn) on the machine's PostgreSQL, real simulator upstream."""

from __future__ import annotations

import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlparse

import pytest
from tests.e2e.conftest import MASTER_KEY, Proxy

CHAT = "/v1/chat/completions"
HI = [{"role": "user", "content": "hi"}]
ROUTES: list[tuple[str, dict[str, Any]]] = [
    (CHAT, {"model": "priced", "messages": HI}),
    ("/v1/messages", {"model": "priced", "max_tokens": 10, "messages": HI}),
    ("/v1/responses", {"model": "priced", "input": "hi"}),
    ("/v1/embeddings", {"model": "embed", "input": "hi"}),
]


@pytest.fixture(scope="module")
def proxy(pg_database: str, proxy_factory: Any) -> Proxy:
    proxy: Proxy = proxy_factory(pg_database)
    return proxy


def error_of(path: str, body: Any) -> tuple[str, str]:
    """(error type, message) of an OpenAI-format error, or of an Anthropic one on ``/v1/messages``."""
    if path == "/v1/messages":
        assert body["type"] == "error", body
    error = body["error"]
    return str(error["type"]), str(error["message"])


@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key", "aws_secret_access_key"])
@pytest.mark.parametrize(("path", "good"), ROUTES, ids=[r[0] for r in ROUTES])
def test_client_side_credentials_are_refused(
    proxy: Proxy, path: str, good: dict[str, Any], field: str
) -> None:
    """LiteLLM refuses ``api_base`` / ``base_url`` in the body unless allowed by the operator; this proxy
    has no such opt-in, so any endpoint or credential field is a 400 naming it, before any upstream call,
    and never forwarded to the provider. The same body without it is served."""
    rid = f"cred-{uuid.uuid4().hex}"
    status, body, _ = proxy.request(
        "POST", path, {**good, field: "http://127.0.0.1:9/v1"}, headers={"x-request-id": rid}
    )
    assert status == 400, (status, body)
    kind, message = error_of(path, body)
    assert kind == "invalid_request_error" and field in message, body
    status, body, _ = proxy.request("POST", path, good)
    assert status == 200, (status, body)


@pytest.mark.parametrize(
    ("user_id", "word"),
    [("end\u0000user", "nul"), ("u" * 300, "too long"), (["list"], "string")],
    ids=["nul", "too-long", "not-a-string"],
)
def test_messages_metadata_user_id_is_validated(proxy: Proxy, user_id: Any, word: str) -> None:
    """Anthropic's ``metadata.user_id`` names the end user like ``user`` does on chat: a NUL (PostgreSQL
    cannot store it: the budget lookup failed and the caller got 529 "database unreachable"), over 255
    characters or not a string is a 400 in Anthropic's format naming the field."""
    good = {"model": "priced", "max_tokens": 10, "messages": HI}
    status, body, _ = proxy.request("POST", "/v1/messages", {**good, "metadata": {"user_id": user_id}})
    assert status == 400, (status, body)
    kind, message = error_of("/v1/messages", body)
    assert kind == "invalid_request_error" and "user_id" in message and word in message.lower(), body
    rid = f"uid-{uuid.uuid4().hex}"
    status, body, _ = proxy.request(
        "POST", "/v1/messages", {**good, "metadata": {"user_id": "customer-7"}}, headers={"x-request-id": rid}
    )
    assert status == 200, (status, body)
    proxy.wait_written()
    assert proxy.row(rid)["end_user"] == "customer-7"


def test_nul_in_metadata_cannot_break_the_spend_log_lookup(proxy: Proxy) -> None:
    """A NUL in ``metadata`` (a value or a key) is served and logged, but PostgreSQL's ``json`` column kept
    it as ``\\u0000``, and every later ``/spend/logs?request_id=<provider id>`` (which reads
    ``metadata->>'response_id'`` of every row) failed with 500 for everyone. The row is stored with U+FFFD
    instead, flagged as an anomaly, and the lookup works."""
    rid = f"nulmeta-{uuid.uuid4().hex}"
    unique = [{"role": "user", "content": rid}]  # the simulator's response id depends on the content
    body = {"model": "priced", "messages": unique, "metadata": {"note": "a\u0000b", "k\u0000": 1}}
    status, answer, _ = proxy.request("POST", CHAT, body, headers={"x-request-id": rid})
    assert status == 200, (status, answer)
    proxy.wait_written()
    row = proxy.row(rid)
    assert "\x00" not in json.dumps(row["metadata"], ensure_ascii=False)
    assert any(a["field"] == "metadata" for a in row["metadata"]["anomalies"])
    status, found, _ = proxy.request("GET", f"/spend/logs?request_id={answer['id']}")
    assert status == 200 and [r["request_id"] for r in found] == [rid], (status, found)
    status, found, _ = proxy.request("GET", "/spend/logs?request_id=%27%20OR%201%3D1%20--")
    assert (status, found) == (200, []), (status, found)


def test_abandoned_responses_stream_is_charged_its_input(proxy: Proxy) -> None:
    """A client that starts a streamed ``/v1/responses`` call on an OpenAI deployment (passed through:
    the body has ``input``, not ``messages``) and hangs up before the usage event got a failure row with 0
    tokens and $0, while the provider was already billing the prompt: its input is now estimated
    (marked ``ledgerlm_estimated``) and priced like an abandoned chat stream's (here unpriced)."""
    rid = f"gone-{uuid.uuid4().hex}"
    body = json.dumps({"model": "slow-stream", "stream": True, "input": "x" * 400}).encode()
    url = urlparse(proxy.url)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=30) as sock:
        head = (
            f"POST /v1/responses HTTP/1.1\r\nHost: proxy\r\nAuthorization: Bearer {MASTER_KEY}\r\n"
            f"x-request-id: {rid}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body)
        assert sock.recv(64).startswith(b"HTTP/1.1 200")
    deadline = time.monotonic() + 20
    while not proxy.rows(request_id=rid) and time.monotonic() < deadline:
        time.sleep(0.05)
    row = proxy.row(rid)
    assert row["status"] == "failure", row
    # sim-slow-stream has no price: unpriced (NULL), never $0 for a call that consumed its prompt
    assert row["prompt_tokens"] >= 100 and row["spend"] != 0, row
