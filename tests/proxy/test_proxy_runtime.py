"""Each proxy app owns its runtime: its provider calls go through ``state.runtime.transport``, its
callback events through its own dispatcher and record pipeline (``state.runtime.workers``), and the
app's shutdown closes them. The upstream is an ``InMemoryTransport``; the proxy, its store (a fresh
PostgreSQL database) and the spend rows are real."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from tests.helpers.pg import temp_database

from ledgerlm.callbacks import CustomLogger
from ledgerlm.callbacks.dispatcher import get_dispatcher
from ledgerlm.callbacks.pipeline import get_pipeline
from ledgerlm.callbacks.workers import CallbackWorkers
from ledgerlm.providers.base import HTTPRequest
from ledgerlm.proxy.app import build_app
from ledgerlm.proxy.config import parse_config
from ledgerlm.proxy.state import ProxyState, build_state
from ledgerlm.record import RecordEvent
from ledgerlm.runtime import Runtime
from ledgerlm.transport import AiohttpTransport, InMemoryTransport, MemoryResponse

MASTER = "sk-master-runtime"
COMPLETION = {
    "id": "chatcmpl-runtime",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
}


@pytest.fixture(scope="module")
def database(postgres_url: str) -> Iterator[str]:
    with temp_database(postgres_url) as url:
        yield url


class _Closing(InMemoryTransport):
    def __init__(self, handler: Any) -> None:
        super().__init__(handler)
        self.closed = 0

    async def aclose(self) -> None:
        self.closed += 1


def _config(database: str, spool: Path) -> Any:
    return parse_config(
        {
            "model_list": [
                {
                    "model_name": "runtime-model",
                    "litellm_params": {
                        "model": "openai/gpt-4o-mini",
                        "api_base": "http://upstream.test/v1",
                        "api_key": "sk-upstream",
                    },
                }
            ],
            "general_settings": {"master_key": MASTER, "database_url": database, "spool_dir": str(spool)},
        }
    )


async def _chat(app: Any) -> None:
    """One chat completion through ``app`` (in memory); asserts a 200."""
    client = InMemoryTransport(app=app)  # the client side, in memory too
    body = {"model": "runtime-model", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {MASTER}", "content-type": "application/json"}
    request = HTTPRequest("POST", "http://proxy/v1/chat/completions", headers, orjson.dumps(body))
    response = await client.request(request, timeout=30.0, stream=False)
    answer = await response.read()
    assert response.status == 200, answer


async def test_the_app_calls_through_its_runtime_and_closes_it(database: str, tmp_path: Path) -> None:
    state = build_state(_config(database, tmp_path), base_dir=tmp_path)
    assert isinstance(state.runtime.transport, AiohttpTransport)
    seen: list[HTTPRequest] = []

    def upstream(request: HTTPRequest) -> MemoryResponse:
        seen.append(request)
        return MemoryResponse(200, json=COMPLETION)

    memory = _Closing(upstream)
    state.runtime = Runtime(transport=memory)
    app = build_app(state)
    async with app.router.lifespan_context(app):
        client = InMemoryTransport(app=app)  # the client side, in memory too
        body = {"model": "runtime-model", "messages": [{"role": "user", "content": "hello"}]}
        headers = {"authorization": f"Bearer {MASTER}", "content-type": "application/json"}
        request = HTTPRequest("POST", "http://proxy/v1/chat/completions", headers, orjson.dumps(body))
        response = await client.request(request, timeout=30.0, stream=False)
        answer = await response.read()
        assert response.status == 200, answer
        assert orjson.loads(answer)["choices"][0]["message"]["content"] == "hi"
        assert float(response.headers["x-litellm-response-cost"]) > 0
        assert len(seen) == 1 and seen[0].url == "http://upstream.test/v1/chat/completions"
        assert orjson.loads(seen[0].body)["model"] == "gpt-4o-mini"
        assert memory.closed == 0
    assert memory.closed == 1, "the app's shutdown closes its runtime"


async def test_two_runtimes_have_their_own_sessions() -> None:
    first, second = Runtime(), Runtime()
    one = await first.transport.session()  # type: ignore[attr-defined]
    other = await second.transport.session()  # type: ignore[attr-defined]
    assert one is not other
    await first.aclose()
    assert one.closed and not other.closed
    await second.aclose()
    assert other.closed


class _Hooks(CustomLogger):
    """Records each success event with the thread that ran it; ``delay`` seconds per event."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__()
        self.delay = delay
        self.events: list[tuple[str, threading.Thread]] = []

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        time.sleep(self.delay)
        self.events.append((kwargs["model"], threading.current_thread()))


class _Stage(CustomLogger):
    """A record stage (``consume_records``, as exporters): records each batch with the thread that ran it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, threading.Thread]] = []

    def consume_records(self, events: Sequence[RecordEvent]) -> None:
        self.records += [(event.record.requested_model, threading.current_thread()) for event in events]


def _app_with_hooks(database: str, spool: Path, delay: float) -> tuple[ProxyState, _Hooks, _Stage, Any]:
    state = build_state(_config(database, spool), base_dir=spool)
    assert state.runtime.workers is not None, "a proxy app owns its callback workers"
    state.runtime = Runtime(
        transport=InMemoryTransport(lambda _: MemoryResponse(200, json=COMPLETION)),
        workers=state.runtime.workers,
    )
    hooks, stage = _Hooks(delay), _Stage()
    state.callbacks.per_call += [hooks, stage]
    return state, hooks, stage, build_app(state)


async def test_two_apps_deliver_events_on_their_own_workers(database: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    state_a, hooks_a, stage_a, app_a = _app_with_hooks(database, tmp_path / "a", delay=0.5)
    state_b, hooks_b, stage_b, app_b = _app_with_hooks(database, tmp_path / "b", delay=0.0)
    workers_a, workers_b = state_a.runtime.workers, state_b.runtime.workers
    assert isinstance(workers_a, CallbackWorkers) and isinstance(workers_b, CallbackWorkers)
    assert workers_a.dispatcher is not workers_b.dispatcher
    assert workers_a.pipeline is not workers_b.pipeline
    assert get_dispatcher() not in (workers_a.dispatcher, workers_b.dispatcher)
    assert get_pipeline() not in (workers_a.pipeline, workers_b.pipeline)
    async with contextlib.AsyncExitStack() as stack_b:
        await stack_b.enter_async_context(app_b.router.lifespan_context(app_b))
        async with app_a.router.lifespan_context(app_a):
            for _ in range(3):
                await _chat(app_a)
            await _chat(app_b)
            assert await workers_b.aflush(timeout=10)
            assert len(hooks_b.events) == 1 and len(stage_b.records) == 1
            assert workers_a.dispatcher.stats()["pending"] > 0, "app a's slow hook still has events queued"
        # app a's shutdown returned: its pending events were delivered before it did
        assert len(hooks_a.events) == 3 and len(stage_a.records) == 3
        assert workers_a.dispatcher.stats()["pending"] == 0
        threads_a = {thread for _, thread in hooks_a.events + stage_a.records}
        threads_b = {thread for _, thread in hooks_b.events + stage_b.records}
        assert not threads_a & threads_b, "the apps share no worker thread"
        assert not any(thread.is_alive() for thread in threads_a), "app a's shutdown stopped its threads"
        # app b keeps working after app a's shutdown
        await _chat(app_b)
        assert await workers_b.aflush(timeout=10)
        assert len(hooks_b.events) == 2 and len(stage_b.records) == 2
        assert all(thread.is_alive() for _, thread in hooks_b.events[-1:] + stage_b.records[-1:])
    assert workers_b.dispatcher.stats()["pending"] == 0
    assert len(hooks_a.events) == 3, "app a's events never went through app b's workers"
