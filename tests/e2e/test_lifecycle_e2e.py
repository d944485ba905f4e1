"""The one call lifecycle (``ledgerlm.proxy.lifecycle``), proved the same way on every inference endpoint
with its official client: ``/v1/chat/completions`` (``openai``) and ``/v1/messages`` (``anthropic``).

Scenarios: a client that disconnects mid-stream and a plain call whose task is cancelled (the budget
reservation is released: the next call fits); a failure before the first byte (the API's error format,
one failure row) and after it (an error in the stream, one failure row); a budget refusal (429 in the
API's format, one $0 failure row); stored prompts (the request and the reply in the row, plain and
streamed); ``x-ratelimit-*`` headers on plain and streamed answers. Upstream: the project's simulator
(OpenAI format; ``/v1/messages`` translates). SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import anthropic
import openai
import orjson
import pytest
import sqlalchemy as sa
from tests.e2e.conftest import MASTER_KEY, SIM_KEY, Proxy, write_config

from ledgerlm.proxy.app import create_app
from ledgerlm.simulator import Simulator
from ledgerlm.store import tables

OUTPUT_PRICE = Decimal("0.00001")
MAX_TOKENS = 40
WORST = OUTPUT_PRICE * MAX_TOKENS  # what admission reserves for one call (input is free)
REPLY = "Lifecycle reply."
KNOBS: dict[str, dict[str, Any]] = {
    "sim-lc-ok": {"completion_tokens": 10, "content": REPLY},
    "sim-lc-slow": {"completion_tokens": MAX_TOKENS, "chunk_interval_ms": 50},
    "sim-lc-wait": {"completion_tokens": 10, "latency_ms": 3000},
    "sim-lc-broken": {"error_status": 500},
    "sim-lc-breaking": {"break_after_chunks": 2},
}
ENDPOINTS = ["chat", "messages", "responses", "completions"]
OPENAI_APIS = ("chat", "responses", "completions")
MESSAGES: list[Any] = [{"role": "user", "content": "hello lifecycle"}]


def _models(sim_url: str) -> list[dict[str, Any]]:
    priced = {"input_cost_per_token": "0", "output_cost_per_token": str(OUTPUT_PRICE)}
    return [
        {
            "model_name": name.removeprefix("sim-"),
            "litellm_params": {
                "model": f"openai/{name}",
                "api_base": f"{sim_url}/v1",
                "api_key": SIM_KEY,
                **priced,
            },
        }
        for name in KNOBS
    ]


@pytest.fixture(scope="module")
def sim(simulator: Simulator) -> Simulator:
    for name, knobs in KNOBS.items():
        simulator.models[name] = dict(knobs)
    return simulator


@pytest.fixture(scope="module")
def lproxy(proxy_factory: Any, database_url: str, sim: Simulator) -> Proxy:
    proxy: Proxy = proxy_factory(database_url, model_list=_models(sim.url))
    return proxy


@pytest.fixture(scope="module")
def stored(proxy_factory: Any, database_url: str, sim: Simulator) -> Proxy:
    """A proxy with ``store_prompts_in_spend_logs: true``."""
    proxy: Proxy = proxy_factory(
        database_url, model_list=_models(sim.url), general_settings={"store_prompts_in_spend_logs": True}
    )
    return proxy


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass
class Answer:
    """What the client saw: HTTP status, headers, the reply text, the error (None on success)."""

    status: int
    headers: dict[str, str]
    text: str = ""
    error: Exception | None = None
    body: Any = None


class Api:
    """One endpoint driven by its official client (``openai`` or ``anthropic``), no client retries."""

    def __init__(self, name: str, proxy: Proxy) -> None:
        self.name = name
        self.proxy = proxy
        self._opened: list[Any] = []

    def _client(self, key: str) -> Any:
        if self.name in OPENAI_APIS:
            client: Any = openai.OpenAI(
                base_url=f"{self.proxy.url}/v1", api_key=key, max_retries=0, timeout=30
            )
        else:
            client = anthropic.Anthropic(base_url=self.proxy.url, api_key=key, max_retries=0, timeout=30)
        self._opened.append(client)
        return client

    def close(self) -> None:
        for client in self._opened:
            client.close()

    def plain(self, model: str, key: str = MASTER_KEY, request_id: str | None = None) -> Answer:
        client = self._client(key)
        headers = {"x-request-id": request_id} if request_id else {}
        api = _resource(self.name, client)
        try:
            raw = api.with_raw_response.create(**_params(self.name, model), extra_headers=headers)
        except (openai.APIStatusError, anthropic.APIStatusError) as err:
            return Answer(err.status_code, dict(err.response.headers), error=err, body=err.response.json())
        return Answer(raw.status_code, dict(raw.headers), text=_text(self.name, raw.parse()) or "")

    def stream(self, model: str, key: str = MASTER_KEY, request_id: str | None = None) -> Answer:
        client = self._client(key)
        headers = {"x-request-id": request_id} if request_id else {}
        api = _resource(self.name, client)
        try:
            raw = api.with_raw_response.create(
                **_params(self.name, model), stream=True, extra_headers=headers
            )
        except (openai.APIStatusError, anthropic.APIStatusError) as err:
            return Answer(err.status_code, dict(err.response.headers), error=err, body=err.response.json())
        answer = Answer(raw.status_code, dict(raw.headers))
        try:
            answer.text = "".join(_deltas(self.name, raw.parse()))
        except (openai.APIError, anthropic.APIError, _StreamErrorEvent) as err:
            answer.error = err
        return answer


class _StreamErrorEvent(Exception):
    """A Responses ``error`` event (the SDK yields it as an event rather than raising)."""


def _resource(name: str, client: Any) -> Any:
    return {
        "chat": lambda: client.chat.completions,
        "responses": lambda: client.responses,
        "completions": lambda: client.completions,
        "messages": lambda: client.messages,
    }[name]()


def _text(name: str, parsed: Any) -> str:
    if name == "chat":
        return str(parsed.choices[0].message.content or "")
    if name == "responses":
        return str(parsed.output_text)
    if name == "completions":
        return str(parsed.choices[0].text)
    return str(parsed.content[0].text)


def _params(name: str, model: str) -> dict[str, Any]:
    """The same request in each format (``max_tokens`` is required by Anthropic's)."""
    if name == "responses":
        return {"model": model, "input": MESSAGES, "max_output_tokens": MAX_TOKENS}
    if name == "completions":
        return {"model": model, "prompt": MESSAGES[0]["content"], "max_tokens": MAX_TOKENS}
    return {"model": model, "messages": MESSAGES, "max_tokens": MAX_TOKENS}


def _deltas(name: str, stream: Any) -> Iterator[str]:
    for item in stream:
        if name == "chat":
            if item.choices and item.choices[0].delta.content:
                yield item.choices[0].delta.content
        elif name == "completions":
            if item.choices and item.choices[0].text:
                yield item.choices[0].text
        elif name == "responses":
            if item.type == "error":
                raise _StreamErrorEvent(item.message)
            if item.type == "response.output_text.delta":
                yield item.delta
        elif item.type == "content_block_delta" and item.delta.type == "text_delta":
            yield item.delta.text


@pytest.fixture(params=ENDPOINTS)
def api(request: pytest.FixtureRequest, lproxy: Proxy) -> Iterator[Api]:
    client = Api(request.param, lproxy)
    yield client
    client.close()


def _path(name: str) -> str:
    return {
        "chat": "/v1/chat/completions",
        "responses": "/v1/responses",
        "completions": "/v1/completions",
    }.get(name, "/v1/messages")


def _wait_row(proxy: Proxy, request_id: str, timeout_s: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while not proxy.rows(request_id=request_id):
        assert time.monotonic() < deadline, f"no spend row for {request_id}"
        time.sleep(0.05)
    return proxy.row(request_id)


def _next_call_fits(api: Api, key: str) -> None:
    """The key's budget holds one call's worst case and a half: a reservation still held refuses it."""
    deadline = time.monotonic() + 5
    while (answer := api.plain("lc-ok", key)).status != 200:
        assert answer.status == 429, answer
        assert time.monotonic() < deadline, "the reservation was not released"
        time.sleep(0.1)


def test_disconnect_mid_stream_releases_the_reservation(api: Api) -> None:
    proxy = api.proxy
    key = proxy.new_key(max_budget=str(WORST * Decimal("1.5")))
    request_id = f"lc-gone-{api.name}-{uuid.uuid4().hex[:8]}"
    host, port = proxy.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    body = {**_params(api.name, "lc-slow"), "stream": True}
    headers = {
        "authorization": f"Bearer {key}",
        "content-type": "application/json",
        "x-request-id": request_id,
    }
    conn.request("POST", _path(api.name), body=orjson.dumps(body), headers=headers)
    response = conn.getresponse()
    assert response.status == 200
    assert response.read(6) in (b"data: ", b"event:")  # the first frame arrives, then the client goes
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    row = _wait_row(proxy, request_id)
    assert row["status"] == "failure" and row["api_key"] == _sha(key)
    _next_call_fits(api, key)


def test_cancelled_plain_call_releases_the_reservation(
    api: Api, sim: Simulator, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A server that cancels the handler when its client goes away (uvicorn does not for plain
    answers; the test cancels the task itself, in-process over ASGI with the real app and store)."""
    folder = tmp_path_factory.mktemp("cancel")
    path = write_config(
        folder / "config.yaml",
        sim.url,
        f"sqlite:///{folder}/db.sqlite",
        folder / "spool",
        model_list=_models(sim.url),
    )
    app = create_app(path)
    outcome = asyncio.run(_cancel_then_call(app, api.name))
    assert outcome["cancelled_row"]["status"] == "failure"
    assert outcome["next_status"] == 200, outcome


async def _asgi_post(app: Any, path: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, Any]:
    """One POST straight to the ASGI app (no server): (status, parsed JSON body)."""
    raw = orjson.dumps(body)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "server": ("proxy", 80),
        "client": ("127.0.0.1", 5000),
        "headers": [(b"content-type", b"application/json")]
        + [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    sent: list[dict[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if not received:
            received = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.Event().wait()  # the client never goes away by itself
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    data = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, orjson.loads(data)


async def _cancel_then_call(app: Any, name: str) -> dict[str, Any]:
    async with app.router.lifespan_context(app):  # the store flushes its rows when it stops
        master = {"authorization": f"Bearer {MASTER_KEY}"}
        _, created = await _asgi_post(
            app, "/key/generate", {"max_budget": str(WORST * Decimal("1.5"))}, master
        )
        auth = {"authorization": f"Bearer {created['key']}"}
        task = asyncio.ensure_future(
            _asgi_post(
                app, _path(name), _params(name, "lc-wait"), auth | {"x-request-id": f"lc-cancel-{name}"}
            )
        )
        await asyncio.sleep(0.5)  # the call is waiting on the upstream (latency 3 s)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        status, _ = await _asgi_post(
            app, _path(name), _params(name, "lc-ok"), auth | {"x-request-id": f"lc-after-{name}"}
        )
    return {"next_status": status, "cancelled_row": _read_row(app, f"lc-cancel-{name}")}


def _read_row(app: Any, request_id: str) -> dict[str, Any]:
    url = app.state.proxy.config.general_settings.database_url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tables.spend_logs).where(tables.spend_logs.c.request_id == request_id))
        found = [dict(r) for r in rows.mappings()]
    engine.dispose()
    assert len(found) == 1, found
    return found[0]


def test_failure_before_the_first_byte(api: Api) -> None:
    for mode in ("plain", "stream"):
        request_id = f"lc-broken-{api.name}-{mode}-{uuid.uuid4().hex[:8]}"
        answer = getattr(api, mode)("lc-broken", request_id=request_id)
        assert answer.status == 500 and answer.error is not None
        if api.name in OPENAI_APIS:
            assert answer.body["error"]["message"]
        else:
            assert answer.body["type"] == "error" and answer.body["error"]["type"] == "api_error"
        assert answer.headers["x-request-id"] == request_id
        row = _wait_row(api.proxy, request_id)
        assert row["status"] == "failure" and row["model_group"] == "lc-broken"


def test_failure_after_the_first_byte(api: Api) -> None:
    key = api.proxy.new_key(max_budget=str(WORST * Decimal("1.5")))
    request_id = f"lc-breaking-{api.name}-{uuid.uuid4().hex[:8]}"
    answer = api.stream("lc-breaking", key, request_id=request_id)
    assert answer.status == 200 and answer.error is not None
    row = _wait_row(api.proxy, request_id)
    assert row["status"] == "failure" and row["model_group"] == "lc-breaking"
    _next_call_fits(api, key)  # the reservation was settled with what was seen, not held


def test_budget_refusal(api: Api) -> None:
    key = api.proxy.new_key(max_budget=str(WORST / 2))
    request_id = f"lc-refused-{api.name}-{uuid.uuid4().hex[:8]}"
    answer = api.plain("lc-ok", key, request_id=request_id)
    assert answer.status == 422  # LiteLLM's budget refusal (litellm_settings.budget_exceeded_status_code)
    if api.name in OPENAI_APIS:
        assert isinstance(answer.error, openai.UnprocessableEntityError)
        assert answer.body["error"]["type"] == "budget_exceeded"
    else:
        assert isinstance(answer.error, anthropic.UnprocessableEntityError)
        assert answer.body["type"] == "error" and answer.body["error"]["type"] == "budget_exceeded"
    row = _wait_row(api.proxy, request_id)
    assert row["status"] == "failure" and row["spend"] == 0


@pytest.mark.parametrize("name", ENDPOINTS)
def test_stored_prompts_keep_request_and_reply(stored: Proxy, name: str) -> None:
    api = Api(name, stored)
    try:
        for mode in ("plain", "stream"):
            request_id = f"lc-stored-{name}-{mode}-{uuid.uuid4().hex[:8]}"
            answer = getattr(api, mode)("lc-ok", request_id=request_id)
            assert answer.status == 200 and answer.text == REPLY
            stored.wait_written()
            row = _wait_row(stored, request_id)
            sent = MESSAGES[0]["content"] if name == "completions" else MESSAGES
            assert row["messages"] == sent
            assert REPLY in orjson.dumps(row["response"]).decode(), (mode, row["response"])
    finally:
        api.close()


def test_rate_limit_headers_on_plain_and_streamed_answers(api: Api) -> None:
    key = api.proxy.new_key(rpm_limit=100)
    for mode in ("plain", "stream"):
        answer = getattr(api, mode)("lc-ok", key)
        assert answer.status == 200 and answer.text == REPLY
        assert answer.headers["x-ratelimit-limit-requests"] == "100", (mode, answer.headers)
        assert int(answer.headers["x-ratelimit-remaining-requests"]) < 100
    assert float(api.plain("lc-ok", key).headers["x-ledgerlm-overhead-ms"]) >= 0
