"""Callbacks on real SDK calls over real HTTP to the project's provider simulator.

Every row of the hook table in docs/callbacks.md is a case of ``test_hook_table``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import ledgerlm
from ledgerlm import errors
from ledgerlm.callbacks import CustomLogger, aflush, flush, registry
from ledgerlm.redaction import record_for_export
from ledgerlm.simulator import Simulator

MESSAGES = [{"role": "user", "content": "Say hello to the callbacks."}]
MODEL = "openai/gpt-4o-mini"


def knobs(**values: Any) -> dict[str, Any]:
    """``extra_headers`` carrying simulator knobs (``x-sim``), as SDK keyword arguments."""
    return {"extra_headers": {"x-sim": orjson.dumps(values).decode()}}


@pytest.fixture(scope="module")
def base() -> Iterator[str]:
    """OpenAI-style base URL of a simulator on a free port (one per module)."""
    with Simulator() as sim:
        yield f"{sim.url}/v1"


class Events(CustomLogger):
    """Records (hook, kwargs, response_obj) for every hook, including per-chunk ones."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any]] = []
        self._lock = threading.Lock()

    def _add(self, name: str, kwargs: Any, response: Any) -> None:
        with self._lock:
            self.calls.append((name, kwargs, response))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def only(self, name: str) -> tuple[Any, Any]:
        found = [(k, r) for n, k, r in self.calls if n == name]
        assert len(found) == 1, (name, self.names())
        return found[0]

    def log_pre_api_call(self, model: str, messages: Any, kwargs: Any) -> None:
        self._add("log_pre_api_call", kwargs, None)

    def log_post_api_call(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_post_api_call", kwargs, response_obj)

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_success_event", kwargs, response_obj)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_failure_event", kwargs, response_obj)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._add("async_log_success_event", kwargs, response_obj)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._add("async_log_failure_event", kwargs, response_obj)


class ChunkEvents(Events):
    def log_stream_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_stream_event", kwargs, response_obj)

    async def async_log_stream_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._add("async_log_stream_event", kwargs, response_obj)


async def _call(base: str, mode: str, outcome: str, **extra: Any) -> Any:
    """One SDK call in ``mode`` (sync, async, sync-stream, async-stream); streams are read to the end."""
    settings = knobs(error_status=429) if outcome == "failure" else {}
    kwargs: dict[str, Any] = {"api_base": base, "api_key": "sk-test", "num_retries": 0, **settings, **extra}
    stream = mode.endswith("stream")
    try:
        if mode.startswith("sync"):
            return await asyncio.to_thread(_sync_call, stream, kwargs)
        response = await ledgerlm.acompletion(MODEL, MESSAGES, stream=stream, **kwargs)
        if stream:
            return [chunk async for chunk in response]
        return response
    except errors.RateLimitError as exc:
        return exc


def _sync_call(stream: bool, kwargs: dict[str, Any]) -> Any:
    response = ledgerlm.completion(MODEL, MESSAGES, stream=stream, **kwargs)
    return list(response) if stream else response


# mode, outcome -> the hooks an Events/ChunkEvents logger sees (docs/callbacks.md, "Which hooks fire")
HOOK_TABLE = [
    ("sync", "success", ["log_pre_api_call", "log_post_api_call", "log_success_event"]),
    ("sync", "failure", ["log_pre_api_call", "log_post_api_call", "log_failure_event"]),
    ("async", "success", ["log_pre_api_call", "log_post_api_call", "async_log_success_event"]),
    ("async", "failure", ["log_pre_api_call", "log_post_api_call", "async_log_failure_event"]),
    (
        "sync-stream",
        "success",
        ["log_pre_api_call", "log_stream_event", "log_post_api_call", "log_success_event"],
    ),
    ("sync-stream", "failure", ["log_pre_api_call", "log_post_api_call", "log_failure_event"]),
    (
        "async-stream",
        "success",
        ["log_pre_api_call", "async_log_stream_event", "log_post_api_call", "async_log_success_event"],
    ),
    ("async-stream", "failure", ["log_pre_api_call", "log_post_api_call", "async_log_failure_event"]),
]


@pytest.mark.parametrize(("mode", "outcome", "expected"), HOOK_TABLE)
async def test_hook_table(base: str, mode: str, outcome: str, expected: list[str]) -> None:
    plain, chunky = Events(), ChunkEvents()
    registry.callbacks.extend([plain, chunky])
    result = await _call(base, mode, outcome)
    assert await aflush()
    assert set(chunky.names()) == set(expected)
    assert set(plain.names()) == {n for n in expected if "stream" not in n}  # per-chunk hooks are opt-in
    terminal = [n for n in chunky.names() if n.endswith(("success_event", "failure_event"))]
    assert len(terminal) == 1  # exactly one terminal event
    if mode.endswith("stream") and outcome == "success":
        chunk_hook = "async_log_stream_event" if mode.startswith("async") else "log_stream_event"
        assert chunky.names().count(chunk_hook) == len(result)
    if outcome == "failure":
        kwargs, _ = chunky.only(terminal[0])
        assert isinstance(result, errors.RateLimitError) and kwargs["exception"] is result


@pytest.mark.parametrize("mode", ["sync-stream", "async-stream"])
async def test_a_stream_with_include_usage_fires_success_exactly_once(base: str, mode: str) -> None:
    events = Events()
    registry.callbacks.append(events)
    chunks = await _call(
        base,
        mode,
        "success",
        stream_options={"include_usage": True},
        **knobs(prompt_tokens=40, completion_tokens=9),
    )
    assert await aflush()
    hook = "async_log_success_event" if mode.startswith("async") else "log_success_event"
    successes = [n for n in events.names() if n.endswith("success_event")]
    assert successes == [hook]
    kwargs, response = events.only(hook)
    slo = kwargs["standard_logging_object"]
    assert slo["usage"]["input_tokens"] == 40 and slo["usage"]["output_tokens"] == 9
    assert slo["stream"] is True and slo["status"] == "success"
    text = "".join(c.choices[0].delta.get("content") or "" for c in chunks if c.choices)
    assert response.choices[0].message.content == text
    assert response.usage.completion_tokens == 9
    assert kwargs["complete_streaming_response"] == response


@pytest.mark.callback_errors_expected
def test_a_raising_callback_changes_neither_the_response_nor_the_next_callback(base: str) -> None:
    seen: list[str] = []

    def broken(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        raise ValueError("bug in a callback")

    def healthy(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        seen.append(kwargs["litellm_call_id"])

    reference = ledgerlm.completion(MODEL, MESSAGES, api_base=base, api_key="sk-test")
    registry.success_callback.extend([broken, healthy])
    response = ledgerlm.completion(MODEL, MESSAGES, api_base=base, api_key="sk-test")
    assert flush(5)
    assert response.choices[0].message == reference.choices[0].message
    assert response.usage == reference.usage
    assert seen == [response.ledger.request_id]
    assert ledgerlm.callbacks.stats()["errors_by_callback"]


class Sleeper(CustomLogger):
    """A callback that 'sleeps 60 s': it blocks in its hook until the test releases it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.entered.set()
        self.release.wait(60)


class AsyncSleeper(Sleeper):
    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("sleeper_cls", [Sleeper, AsyncSleeper])
async def test_a_sleeping_callback_does_not_delay_50_concurrent_calls(
    base: str, sleeper_cls: type[Sleeper]
) -> None:
    sleeper, counter = sleeper_cls(), Events()
    registry.callbacks.extend([sleeper, counter])
    try:
        responses = await asyncio.gather(
            *(ledgerlm.acompletion(MODEL, MESSAGES, api_base=base, api_key="sk-test") for _ in range(50))
        )
        # every call has completed, and the sleeper is still inside its first hook
        assert len(responses) == 50 and all(r.choices[0].message.content for r in responses)
        assert await asyncio.to_thread(sleeper.entered.wait, 10)
        assert not sleeper.release.is_set()
    finally:
        sleeper.release.set()
    assert await aflush(30)
    assert len([n for n in counter.names() if n == "async_log_success_event"]) == 50


FRESH_PROCESS_SCRIPT = """
import asyncio, json, sys, time
import ledgerlm
from ledgerlm import errors
from ledgerlm.callbacks import CustomLogger

out = open(sys.argv[2], "a")

def on_failure(kwargs, response, start, end):
    time.sleep(0.3)  # still running when the script ends: only the exit flush can deliver it
    out.write(json.dumps({"fn": type(kwargs["exception"]).__name__}) + "\\n"); out.flush()

class Logger(CustomLogger):
    async def async_log_failure_event(self, kwargs, response, start, end):
        await asyncio.sleep(0.3)
        slo = kwargs["standard_logging_object"]
        event = {"logger": slo["error"]["status"], "status": slo["status"]}
        out.write(json.dumps(event) + "\\n"); out.flush()

ledgerlm.failure_callback.append(on_failure)
ledgerlm.callbacks.append(Logger())
try:
    ledgerlm.completion("openai/gpt-4o-mini", [{"role": "user", "content": "hi"}], api_base=sys.argv[1],
                        api_key="sk-test", num_retries=0, extra_headers={"x-sim": '{"error_status": 429}'})
except errors.RateLimitError:
    print("raised RateLimitError")
# no explicit flush: the interpreter-exit flush must deliver the events
"""


async def test_a_429_on_the_first_call_of_a_fresh_process_fires_the_failure_callbacks(
    base: str, tmp_path: Any
) -> None:
    import sys

    script, out = tmp_path / "first_call.py", tmp_path / "events.jsonl"
    script.write_text(FRESH_PROCESS_SCRIPT, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        base,
        str(out),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == "raised RateLimitError"
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(events, key=repr) == sorted(
        [{"fn": "RateLimitError"}, {"logger": 429, "status": "failure"}], key=repr
    )


def test_a_stalled_stream_ends_with_one_failure_event_with_partial_usage(base: str) -> None:
    events = Events()
    registry.callbacks.append(events)
    stream = ledgerlm.completion(
        MODEL,
        MESSAGES,
        stream=True,
        api_base=base,
        api_key="sk-test",
        timeout=0.3,
        **knobs(stall_after_chunks=3),
    )
    with pytest.raises(errors.APITimeoutError):
        for _ in stream:
            pass
    assert flush(5)
    assert [n for n in events.names() if n.endswith(("success_event", "failure_event"))] == [
        "log_failure_event"
    ]
    kwargs, response = events.only("log_failure_event")
    slo = kwargs["standard_logging_object"]
    assert slo["status"] == "failure" and slo["error"]["type"] == "APITimeoutError"
    # estimated from the two content deltas seen before the stall, "Hello " + "from ": ceil(11 chars / 4)
    assert slo["usage"]["output_tokens"] == 3
    assert slo["usage"]["input_tokens"] > 0
    assert isinstance(kwargs["exception"], errors.APITimeoutError) and response is None


async def test_a_consumer_stopping_early_logs_one_failure(base: str) -> None:
    events = Events()
    registry.callbacks.append(events)
    stream = await ledgerlm.acompletion(MODEL, MESSAGES, stream=True, api_base=base, api_key="sk-test")
    async for _ in stream:
        break
    await stream.aclose()
    assert await aflush()
    terminal = [n for n in events.names() if n.endswith(("success_event", "failure_event"))]
    assert terminal == ["async_log_failure_event"]


def test_per_call_callbacks_do_not_leak(base: str) -> None:
    mine = Events()
    ledgerlm.completion(MODEL, MESSAGES, api_base=base, api_key="sk-test", callbacks=[mine])
    ledgerlm.completion(MODEL, MESSAGES, api_base=base, api_key="sk-test")
    assert flush(5)
    assert mine.names().count("log_success_event") == 1
    for name in ("callbacks", "success_callback", "failure_callback", "input_callback"):
        assert mine not in registry.current_lists()[name]


def test_no_log_drops_content_but_keeps_usage_and_cost(base: str) -> None:
    events = Events()
    registry.callbacks.append(events)
    secret = f"confidential-{uuid.uuid4().hex}"
    response = ledgerlm.completion(
        MODEL,
        [{"role": "user", "content": secret}],
        api_base=base,
        api_key="sk-test",
        no_log=True,
        **knobs(content=f"echo {secret}"),
    )
    assert flush(5)
    assert response.choices[0].message.content == f"echo {secret}"  # the caller still gets it
    assert secret not in repr(events.calls)
    kwargs, _ = events.only("log_success_event")
    slo = kwargs["standard_logging_object"]
    assert slo["no_log"] is True and slo["messages"] is None and slo["response"] is None
    assert slo["usage"]["total_tokens"] == response.usage.total_tokens > 0
    assert kwargs["response_cost"] == response.ledger.response_cost


def test_a_canary_secret_in_key_header_and_message_never_reaches_an_export(base: str) -> None:
    canary = f"sk-canary-{uuid.uuid4().hex}"
    events = Events()
    registry.callbacks.append(events)
    response = ledgerlm.completion(
        MODEL,
        [{"role": "user", "content": f"my key is {canary}"}],
        api_base=base,
        api_key=canary,
        extra_headers={"x-api-key": canary, "X-Trace": f"Bearer {canary}"},
    )
    assert flush(5)
    kwargs, _ = events.only("log_success_event")
    exports = [record_for_export(response.ledger.record, content_logging=flag) for flag in (False, True)]
    exports.append(kwargs["standard_logging_object"])
    for payload in exports:
        assert canary not in json.dumps(payload)
    assert canary not in repr({k: v for k, v in kwargs.items() if k != "exception"})
    assert kwargs["messages"] == [{"role": "user", "content": "my key is [REDACTED]"}]


def _refused_base() -> str:
    """A base URL on a port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@pytest.mark.parametrize(
    ("case", "error_cls"),
    [
        ("rate_limit", errors.RateLimitError),
        ("timeout", errors.APITimeoutError),
        ("connection", errors.APIConnectionError),
    ],
)
async def test_rate_limits_timeouts_and_connection_errors_fire_one_failure(
    base: str, case: str, error_cls: type[errors.APIError]
) -> None:
    events = Events()
    registry.failure_callback.append(events)
    settings: dict[str, Any] = {
        "rate_limit": {"api_base": base, **knobs(error_status=429)},
        "timeout": {"api_base": base, "timeout": 0.2, **knobs(latency_ms=5000)},
        "connection": {"api_base": _refused_base()},
    }[case]
    with pytest.raises(error_cls) as info:
        await ledgerlm.acompletion(MODEL, MESSAGES, api_key="sk-test", num_retries=0, **settings)
    assert await aflush()
    kwargs, _ = events.only("async_log_failure_event")
    assert kwargs["exception"] is info.value
    assert kwargs["standard_logging_object"]["error"]["type"] == type(info.value).__name__
    assert [n for n in events.names() if n.endswith("_event")] == ["async_log_failure_event"]
