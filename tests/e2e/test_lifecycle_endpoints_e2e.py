"""The one call lifecycle on the endpoints that are not JSON-in/JSON-out: audio transcription (multipart)
and speech (audio bytes) with the ``openai`` client, Anthropic token counting with
``client.messages.count_tokens``, and the ``/anthropic`` pass-through with an ``anthropic`` client whose
``base_url`` is ``{proxy}/anthropic``.

Scenarios as on chat (``test_lifecycle_e2e``): a failure before the first byte (the API's error format,
one failure row), a budget refusal (422, one $0 failure row; a transcription reserves its file's worst
case, not $0), a cancelled or disconnected call (failure row, the reservation released: the next call
fits), one spend row per call, ``x-ratelimit-*`` headers; and the router's retries and fallbacks on a
transcription and a token count with two simulator instances (one failing), with LiteLLM's
``x-litellm-*`` headers. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import struct
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anthropic
import openai
import orjson
import pytest
import sqlalchemy as sa
from tests.e2e.conftest import MASTER_KEY, Proxy, write_config

from ledgerlm.pricing.unit_prices import PER_UNIT_PRICES
from ledgerlm.proxy.app import create_app
from ledgerlm.simulator import Simulator
from ledgerlm.store import tables

CLAUDE = "claude-sonnet-4-20250514"
PER_SECOND = PER_UNIT_PRICES["whisper-1"]["audio_second"]
MESSAGES: Any = [{"role": "user", "content": "hello lifecycle"}]
ANTHROPIC_KEY = "sk-ant-up"


def _wav(seconds: int, rate: int = 8000) -> bytes:
    """A silent 8-bit mono WAV of ``seconds`` (its header gives the duration admission reserves on)."""
    data = b"\x80" * (rate * seconds)
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, rate, rate, 1, 8)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVE"
        + b"fmt "
        + fmt
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )


def _openai(name: str, model: str, sim: Simulator, **knobs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"model": model, "api_base": f"{sim.url}/v1", "api_key": "sk-up"}
    if knobs:
        params["headers"] = {"x-sim": orjson.dumps(knobs).decode()}
    return {"model_name": name, "litellm_params": params, "model_info": {"id": f"{name}-id"}}


def _claude(name: str, sim: Simulator, **knobs: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"model": f"anthropic/{CLAUDE}", "api_base": sim.url, "api_key": ANTHROPIC_KEY}
    if knobs:
        params["extra_headers"] = {"x-sim": orjson.dumps(knobs).decode()}
    return {"model_name": name, "litellm_params": params, "model_info": {"id": f"{name}-id"}}


@pytest.fixture(scope="module")
def sims() -> Iterator[tuple[Simulator, Simulator, Simulator]]:
    slow = {"prompt_tokens": 10, "completion_tokens": 40, "chunk_interval_ms": 50}
    with (
        Simulator(models={CLAUDE: {"prompt_tokens": 10, "completion_tokens": 5}}) as a,
        Simulator(models={CLAUDE: {"prompt_tokens": 10, "completion_tokens": 5}}) as b,
        Simulator(models={CLAUDE: slow, "claude-pt-broken": {"error_status": 500}}) as c,
    ):
        yield a, b, c


def _model_list(a: Simulator, b: Simulator, c: Simulator) -> list[dict[str, Any]]:
    return [
        _claude("pt-claude", c),  # first: the pass-through's credentials and target (sim c)
        _openai("w-ok", "openai/whisper-1", a, audio_seconds=12.5),
        _openai("w-wait", "openai/whisper-1", a, latency_ms=3000, audio_seconds=1),
        _openai("w-broken", "openai/whisper-1", a, error_status=500),
        _openai("w-down", "openai/whisper-1", a, error_status=500),
        _openai("w-good", "openai/whisper-1", b, audio_seconds=2),
        _openai("w-flaky", "openai/whisper-1", a, error_status=503, fail_times=1, fail_key="w-flaky"),
        _openai("tts-ok", "openai/tts-1", a),
        _openai("tts-broken", "openai/tts-1", a, error_status=500),
        _openai("tts-wait", "openai/tts-1", a, latency_ms=3000),
        _claude("ct-ok", a),
        _claude("ct-wait", a, latency_ms=3000),
        _claude("ct-broken", a, error_status=500),
        _claude("ct-down", a, error_status=503),
        _claude("ct-good", b),
    ]


def _sections(a: Simulator, b: Simulator, c: Simulator) -> dict[str, Any]:
    return {
        "model_list": _model_list(a, b, c),
        "router_settings": {
            "num_retries": 1,
            "fallbacks": [{"w-down": ["w-good"]}, {"ct-down": ["ct-good"]}],
        },
    }


@pytest.fixture(scope="module")
def lproxy(proxy_factory: Any, database_url: str, sims: tuple[Simulator, Simulator, Simulator]) -> Proxy:
    proxy: Proxy = proxy_factory(database_url, **_sections(*sims))
    return proxy


@pytest.fixture()
def opened() -> Iterator[list[Any]]:
    clients: list[Any] = []
    yield clients
    for client in clients:
        client.close()


def _oa(proxy: Proxy, opened: list[Any], key: str = MASTER_KEY) -> openai.OpenAI:
    client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=key, max_retries=0, timeout=30)
    opened.append(client)
    return client


def _an(proxy: Proxy, opened: list[Any], key: str = MASTER_KEY, base: str = "") -> anthropic.Anthropic:
    client = anthropic.Anthropic(base_url=f"{proxy.url}{base}", api_key=key, max_retries=0, timeout=30)
    opened.append(client)
    return client


def _one_row(proxy: Proxy, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while not proxy.rows(request_id=request_id):
        assert time.monotonic() < deadline, f"no spend row for {request_id}"
        time.sleep(0.05)
    proxy.wait_written()
    return proxy.row(request_id)  # asserts exactly one


def _rid(name: str) -> dict[str, str]:
    return {"x-request-id": f"lce-{name}-{uuid.uuid4().hex[:8]}"}


def test_one_spend_row_and_rate_limit_headers(lproxy: Proxy, opened: list[Any]) -> None:
    key = lproxy.new_key(rpm_limit=100)
    oa, pt = _oa(lproxy, opened, key), _an(lproxy, opened, key, "/anthropic")
    calls = {
        "atranscription": lambda h: oa.audio.transcriptions.with_raw_response.create(
            model="w-ok", file=("a.wav", _wav(2), "audio/wav"), extra_headers=h
        ),
        "aspeech": lambda h: oa.audio.speech.with_raw_response.create(
            model="tts-ok", voice="alloy", input="Hello", extra_headers=h
        ),
        "pass_through_endpoint": lambda h: pt.messages.with_raw_response.create(
            model=CLAUDE, max_tokens=40, messages=MESSAGES, extra_headers=h
        ),
    }
    for call_type, call in calls.items():
        raw = call(_rid(call_type))
        assert raw.status_code == 200
        assert raw.headers["x-ratelimit-limit-requests"] == "100", (call_type, raw.headers)
        row = _one_row(lproxy, raw.headers["x-request-id"])
        assert row["call_type"] == call_type and row["status"] == "success" and row["spend"] > 0
        assert row["spend"] == Decimal(raw.headers["x-ledgerlm-response-cost"])
    counted = _an(lproxy, opened, key).messages.with_raw_response.count_tokens(
        model="ct-ok", messages=MESSAGES, extra_headers=_rid("count")
    )
    assert counted.parse().input_tokens > 0 and counted.headers["x-litellm-model-id"] == "ct-ok-id"
    row = _one_row(lproxy, counted.headers["x-request-id"])
    assert row["call_type"] == "acount_tokens" and row["spend"] == 0
    with pt.messages.stream(model=CLAUDE, max_tokens=40, messages=MESSAGES, extra_headers=_rid("s")) as s:
        assert s.get_final_message().usage.output_tokens == 40
        assert s.response.headers["x-ratelimit-limit-requests"] == "100"
        request_id = s.response.headers["x-request-id"]
    assert _one_row(lproxy, request_id)["completion_tokens"] == 40


def test_failure_before_the_first_byte(lproxy: Proxy, opened: list[Any]) -> None:
    oa, an, pt = _oa(lproxy, opened), _an(lproxy, opened), _an(lproxy, opened, base="/anthropic")
    with pytest.raises(openai.InternalServerError) as transcription:
        oa.audio.transcriptions.create(model="w-broken", file=("a.wav", _wav(1), "audio/wav"))
    with pytest.raises(openai.InternalServerError) as speech:
        oa.audio.speech.create(model="tts-broken", voice="alloy", input="Hello")
    with pytest.raises(anthropic.InternalServerError) as count:
        an.messages.count_tokens(model="ct-broken", messages=MESSAGES)
    with pytest.raises(anthropic.InternalServerError) as relayed:
        pt.messages.create(model="claude-pt-broken", max_tokens=5, messages=MESSAGES)
    for err, group in (
        (transcription, "w-broken"),
        (speech, "tts-broken"),
        (count, "ct-broken"),
        (relayed, None),
    ):
        response = err.value.response
        body = response.json()
        assert body["error"]["message"] or body["error"]["type"]
        if group == "ct-broken":
            assert body["type"] == "error"  # Anthropic's error shape
        row = _one_row(lproxy, response.headers["x-request-id"])
        assert row["status"] == "failure"
        if group is not None:
            assert row["model_group"] == group


def test_budget_refusal_and_transcription_worst_case(lproxy: Proxy, opened: list[Any]) -> None:
    # 60 s of audio at whisper-1's rate is $0.006: refused on a $0.001 budget (it reserved $0 before)
    key = lproxy.new_key(max_budget="0.001")
    oa, pt = _oa(lproxy, opened, key), _an(lproxy, opened, key, "/anthropic")
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        oa.audio.transcriptions.create(model="w-ok", file=("long.wav", _wav(60), "audio/wav"))
    assert refused.value.response.json()["error"]["type"] == "budget_exceeded"
    row = _one_row(lproxy, refused.value.response.headers["x-request-id"])
    assert row["status"] == "failure" and row["spend"] == 0
    short = oa.audio.transcriptions.with_raw_response.create(
        model="w-ok", file=("short.wav", _wav(2), "audio/wav")
    )  # 2 s reserve $0.0002: admitted; charged what the answer reports (12.5 s)
    assert _one_row(lproxy, short.headers["x-request-id"])["spend"] == Decimal("12.5") * PER_SECOND
    with pytest.raises(openai.UnprocessableEntityError):
        oa.audio.speech.create(model="tts-ok", voice="alloy", input="x" * 4000)  # 4,000 chars: $0.06
    with pytest.raises(anthropic.UnprocessableEntityError) as passed:
        pt.messages.create(model=CLAUDE, max_tokens=4000, messages=MESSAGES)  # worst case $0.06
    assert _one_row(lproxy, passed.value.response.headers["x-request-id"])["spend"] == 0
    counted = _an(lproxy, opened, key).messages.count_tokens(model="ct-ok", messages=MESSAGES)
    assert counted.input_tokens > 0  # a count is never refused: it bills nothing


def test_retries_and_fallbacks_on_transcription_and_count_tokens(
    lproxy: Proxy, opened: list[Any], sims: tuple[Simulator, Simulator, Simulator]
) -> None:
    sims[0].state.fail_counts.pop("w-flaky", None)
    retried = _oa(lproxy, opened).audio.transcriptions.with_raw_response.create(
        model="w-flaky", file=("a.wav", _wav(1), "audio/wav")
    )  # a 503 first, then the retry (router_settings.num_retries: 1) answers
    assert retried.headers["x-litellm-attempted-retries"] == "1"
    assert retried.headers["x-litellm-model-id"] == "w-flaky-id"
    assert _one_row(lproxy, retried.headers["x-request-id"])["status"] == "success"
    raw = _oa(lproxy, opened).audio.transcriptions.with_raw_response.create(
        model="w-down", file=("a.wav", _wav(1), "audio/wav")
    )
    assert raw.parse().text == "Simulated transcript."
    assert raw.headers["x-litellm-model-id"] == "w-good-id"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert raw.headers["x-litellm-model-group"] == "w-good"
    row = _one_row(
        lproxy, raw.headers["x-request-id"]
    )  # one row for the request, the failed attempt unbilled
    assert row["status"] == "success" and row["spend"] == 2 * PER_SECOND and row["model_group"] == "w-good"
    counted = _an(lproxy, opened).messages.with_raw_response.count_tokens(model="ct-down", messages=MESSAGES)
    assert counted.parse().input_tokens > 0
    assert counted.headers["x-litellm-model-id"] == "ct-good-id"
    assert counted.headers["x-litellm-attempted-fallbacks"] == "1"
    row = _one_row(lproxy, counted.headers["x-request-id"])
    assert row["call_type"] == "acount_tokens" and row["model_group"] == "ct-good" and row["spend"] == 0


def test_disconnect_mid_pass_through_stream_releases_the_reservation(
    lproxy: Proxy, opened: list[Any]
) -> None:
    key = lproxy.new_key(max_budget="0.0015")  # one call's worst case (~$0.001) fits, two do not
    request_id = f"lce-gone-{uuid.uuid4().hex[:8]}"
    host, port = lproxy.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    body = {"model": CLAUDE, "max_tokens": 40, "messages": MESSAGES, "stream": True}
    headers = {"x-api-key": key, "content-type": "application/json", "x-request-id": request_id}
    conn.request("POST", "/anthropic/v1/messages", body=orjson.dumps(body), headers=headers)
    response = conn.getresponse()
    assert response.status == 200, response.read()
    assert response.read(6) == b"event:"
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    row = _one_row(lproxy, request_id)
    assert row["status"] == "failure" and row["call_type"] == "pass_through_endpoint"
    pt = _an(lproxy, opened, key, "/anthropic")
    deadline = time.monotonic() + 5
    while True:
        try:
            pt.messages.create(model=CLAUDE, max_tokens=40, messages=MESSAGES)
            break
        except anthropic.UnprocessableEntityError:
            assert time.monotonic() < deadline, "the reservation was not released"
            time.sleep(0.1)


def test_cancelled_calls_release_the_reservation(
    sims: tuple[Simulator, Simulator, Simulator], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The handler's task cancelled while it waits on the upstream (in-process ASGI, real app/store)."""
    folder = tmp_path_factory.mktemp("cancel")
    db = f"sqlite:///{folder}/db.sqlite"
    path = write_config(folder / "config.yaml", sims[0].url, db, folder / "spool", **_sections(*sims))
    outcome = asyncio.run(_cancel_then_call(create_app(path)))
    for name, (row, next_status) in outcome.items():
        assert row["status"] == "failure", (name, row)
        assert next_status == 200, name


def _multipart(model: str, audio: bytes) -> tuple[bytes, str]:
    boundary = "lcboundary"
    parts = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n{model}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    return parts + audio + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


async def _asgi(app: Any, path: str, raw: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One POST straight to the ASGI app (no server): (status, body bytes)."""
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
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"content-length", str(len(raw)).encode())],
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
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def _cancel_then_call(app: Any) -> dict[str, tuple[dict[str, Any], int]]:
    """Per endpoint: (the cancelled call's row, the status of the next call under the same budget)."""
    json_type = {"content-type": "application/json"}
    slow, slow_type = _multipart("w-wait", _wav(10))  # reserves 10 s = $0.001
    ok, ok_type = _multipart("w-wait", _wav(10))
    cases = {
        "transcription": ("/v1/audio/transcriptions", (slow, slow_type), (ok, ok_type), "0.0015"),
        "speech": (  # 100 characters of tts-1 reserve $0.0015
            "/v1/audio/speech",
            (orjson.dumps({"model": "tts-wait", "voice": "alloy", "input": "x" * 100}), "application/json"),
            (orjson.dumps({"model": "tts-ok", "voice": "alloy", "input": "x" * 100}), "application/json"),
            "0.0025",
        ),
        "count_tokens": (
            "/v1/messages/count_tokens",
            (orjson.dumps({"model": "ct-wait", "messages": MESSAGES}), json_type["content-type"]),
            (orjson.dumps({"model": "ct-ok", "messages": MESSAGES}), json_type["content-type"]),
            "0",
        ),
    }
    rids: dict[str, str] = {}
    statuses: dict[str, int] = {}
    async with app.router.lifespan_context(app):
        master = {"authorization": f"Bearer {MASTER_KEY}", **json_type}
        for name, (path, (body, kind), (after, after_kind), budget) in cases.items():
            _, created = await _asgi(app, "/key/generate", orjson.dumps({"max_budget": budget}), master)
            auth = {"authorization": f"Bearer {orjson.loads(created)['key']}"}
            rids[name] = rid = f"lce-cancel-{name}-{uuid.uuid4().hex[:6]}"
            headers = auth | {"content-type": kind, "x-request-id": rid}
            task = asyncio.ensure_future(_asgi(app, path, body, headers))
            await asyncio.sleep(0.5)  # the call waits on the upstream (latency 3 s)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            statuses[name], _ = await _asgi(app, path, after, auth | {"content-type": after_kind})
    return {name: (_read_row(app, rid), statuses[name]) for name, rid in rids.items()}


def _read_row(app: Any, request_id: str) -> dict[str, Any]:
    url = app.state.proxy.config.general_settings.database_url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tables.spend_logs).where(tables.spend_logs.c.request_id == request_id))
        found = [dict(r) for r in rows.mappings()]
    engine.dispose()
    assert len(found) == 1, found
    return found[0]
