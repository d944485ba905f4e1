"""CallLog: exactly one terminal event, sinks first, per-call isolation, which hook fires, the payload."""

from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from ledgerlm.callbacks import CallStart, CustomLogger, flush, start_call, stats
from ledgerlm.callbacks import registry as reg
from ledgerlm.errors import RateLimitError
from ledgerlm.types import CallContext

MESSAGES = [{"role": "user", "content": "Say hi"}]


class Events(CustomLogger):
    """Records (hook name, kwargs, response_obj, start_time, end_time) for every hook that fires."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, Any, Any, Any]] = []
        self._lock = threading.Lock()

    def _add(self, name: str, *args: Any) -> None:
        with self._lock:
            self.calls.append((name, *args))

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def log_pre_api_call(self, model: str, messages: Any, kwargs: Any) -> None:
        self._add("log_pre_api_call", kwargs, messages, None, None)

    def log_post_api_call(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_post_api_call", kwargs, response_obj, start_time, end_time)

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_success_event", kwargs, response_obj, start_time, end_time)

    def log_failure_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_failure_event", kwargs, response_obj, start_time, end_time)

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._add("async_log_success_event", kwargs, response_obj, start_time, end_time)

    async def async_log_failure_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._add("async_log_failure_event", kwargs, response_obj, start_time, end_time)


class SyncOnly(Events):
    async_log_success_event = CustomLogger.async_log_success_event
    async_log_failure_event = CustomLogger.async_log_failure_event


class AsyncOnly(Events):
    log_success_event = CustomLogger.log_success_event
    log_failure_event = CustomLogger.log_failure_event


class ChunkEvents(Events):
    def log_stream_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._add("log_stream_event", kwargs, response_obj, start_time, end_time)

    async def async_log_stream_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._add("async_log_stream_event", kwargs, response_obj, start_time, end_time)


def _context(**changes: Any) -> CallContext:
    return CallContext(request_id="ctx-id", metadata={"team": "blue"}, **changes)


def test_only_the_first_terminal_event_counts(make_record: Any) -> None:
    events = Events()
    reg.callbacks.append(events)
    log = start_call(CallStart(model="gpt-4o-mini", messages=MESSAGES, context=_context()))
    before = stats()["duplicate_terminal"]
    log.success(make_record(), {"id": "1"})
    log.failure(make_record("failure"), RateLimitError("late"))
    log.success(make_record(), {"id": "2"})
    assert flush(5)
    assert events.names() == ["log_post_api_call", "log_success_event"]
    assert stats()["duplicate_terminal"] == before + 2


def test_racing_terminal_calls_from_threads_yield_one_event(make_record: Any) -> None:
    events = Events()
    reg.callbacks.append(events)
    log = start_call(CallStart(model="m", messages=MESSAGES))
    barrier = threading.Barrier(8)

    def end(i: int) -> None:
        barrier.wait()
        if i % 2:
            log.success(make_record(), {"i": i})
        else:
            log.failure(make_record("failure"), RuntimeError(str(i)))

    threads = [threading.Thread(target=end, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert flush(5)
    terminal = [n for n in events.names() if n in ("log_success_event", "log_failure_event")]
    assert len(terminal) == 1


def test_sinks_run_synchronously_on_the_caller_thread_before_hooks(make_record: Any) -> None:
    order: list[str] = []

    def hook(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        order.append("hook")

    reg.success_callback.append(hook)
    log = start_call(CallStart(model="m", messages=MESSAGES))
    record = make_record()
    seen: list[Any] = []

    def sink(record: Any) -> None:
        seen.append((record, threading.current_thread()))
        order.append("sink")

    log.add_sink(sink)
    log.success(record, {})
    assert seen == [(record, threading.current_thread())]  # before success() returned
    assert flush(5)
    assert order == ["sink", "hook"]


@pytest.mark.callback_errors_expected
def test_a_raising_sink_is_counted_and_hooks_still_run(make_record: Any) -> None:
    events = Events()
    reg.callbacks.append(events)
    log = start_call(CallStart(model="m", messages=MESSAGES))

    def bad_sink(record: Any) -> None:
        raise OSError("disk full")

    log.add_sink(bad_sink)
    before = stats()["errors"]
    log.success(make_record(), {})
    assert flush(5)
    assert "log_success_event" in events.names()
    assert stats()["errors"] == before + 1


def test_per_call_callbacks_apply_to_that_call_only(make_record: Any) -> None:
    mine, global_one = Events(), Events()
    reg.callbacks.append(global_one)
    first = start_call(CallStart(model="m", messages=MESSAGES, per_call_callbacks=[mine]))
    first.success(make_record(), {})
    second = start_call(CallStart(model="m", messages=MESSAGES))
    second.success(make_record(), {})
    assert flush(5)
    assert reg.callbacks == [global_one] and reg.success_callback == [] and reg.failure_callback == []
    assert mine.names().count("log_success_event") == 1
    assert global_one.names().count("log_success_event") == 2


def test_a_logger_registered_twice_gets_each_event_once(make_record: Any) -> None:
    events = Events()
    reg.callbacks.append(events)
    reg.success_callback.append(events)
    start_call(CallStart(model="m", messages=MESSAGES, per_call_callbacks=[events])).success(
        make_record(), {}
    )
    assert flush(5)
    assert events.names().count("log_success_event") == 1


# -- which hook fires (docs/callbacks.md table; the SDK-level rows are in test_sdk_callbacks.py) ---------


@pytest.mark.parametrize(
    ("cls", "is_async", "outcome", "expected"),
    [
        (Events, False, "success", "log_success_event"),
        (Events, True, "success", "async_log_success_event"),
        (Events, False, "failure", "log_failure_event"),
        (Events, True, "failure", "async_log_failure_event"),
        (AsyncOnly, False, "success", "async_log_success_event"),
        (SyncOnly, True, "success", "log_success_event"),
        (AsyncOnly, False, "failure", "async_log_failure_event"),
        (SyncOnly, True, "failure", "log_failure_event"),
    ],
)
def test_terminal_hook_by_call_mode(
    make_record: Any, cls: type[Events], is_async: bool, outcome: str, expected: str
) -> None:
    events = cls()
    reg.callbacks.append(events)
    log = start_call(CallStart(model="m", messages=MESSAGES, is_async=is_async))
    log.pre_api_call()
    if outcome == "success":
        log.success(make_record(), {"id": "x"})
    else:
        log.failure(make_record("failure"), RateLimitError("429"))
    assert flush(5)
    # sync hooks of one logger run in order; an async hook is not ordered with them
    assert sorted(events.names()) == sorted(["log_pre_api_call", "log_post_api_call", expected])
    sync_names = [n for n in events.names() if not n.startswith("async")]
    assert sync_names[:2] == ["log_pre_api_call", "log_post_api_call"]


def test_plain_functions_sync_and_async_and_input_callback(make_record: Any) -> None:
    got: list[tuple[str, Any]] = []

    def on_input(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        got.append(("input", kwargs["log_event_type"]))

    def on_success(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        got.append(("success", response))

    async def on_failure(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        got.append(("failure", type(kwargs["exception"]).__name__))

    def everything(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        got.append(("callbacks", kwargs["log_event_type"]))

    reg.input_callback.append(on_input)
    reg.success_callback.append(on_success)
    reg.failure_callback.append(on_failure)
    reg.callbacks.append(everything)
    ok = start_call(CallStart(model="m", messages=MESSAGES))
    ok.pre_api_call()
    ok.success(make_record(), {"id": "r"})
    bad = start_call(CallStart(model="m", messages=MESSAGES, is_async=True))
    bad.failure(make_record("failure"), RateLimitError("429"))
    assert flush(5)
    assert sorted(got, key=repr) == sorted(
        [
            ("input", "pre_api_call"),
            ("success", {"id": "r"}),
            ("callbacks", "successful_api_call"),
            ("failure", "RateLimitError"),
            ("callbacks", "failed_api_call"),
        ],
        key=repr,
    )


@pytest.mark.parametrize("is_async", [False, True])
def test_stream_hooks_are_opt_in_and_success_fires_once_with_the_assembled_response(
    make_record: Any, is_async: bool
) -> None:
    plain, chunky = Events(), ChunkEvents()
    reg.callbacks.extend([plain, chunky])
    log = start_call(CallStart(model="m", messages=MESSAGES, stream=True, is_async=is_async))
    chunks = [
        {
            "id": "c1",
            "model": "m",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}],
        },
        {"id": "c1", "choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"id": "c1", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]
    for chunk in chunks:
        log.stream_chunk(chunk)
    log.success(make_record(stream=True), None)
    assert flush(5)
    stream_hook = "async_log_stream_event" if is_async else "log_stream_event"
    success_hook = "async_log_success_event" if is_async else "log_success_event"
    assert [c[2] for c in chunky.calls if c[0] == stream_hook] == chunks
    assert "log_stream_event" not in plain.names() and "async_log_stream_event" not in plain.names()
    for events in (plain, chunky):
        successes = [c for c in events.calls if c[0] == success_hook]
        assert len(successes) == 1
        _, kwargs, response, _, _ = successes[0]
        assert response["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
        assert response["usage"]["total_tokens"] == 5
        assert kwargs["complete_streaming_response"] == response


def test_the_payload_shape(make_record: Any) -> None:
    first, second = Events(), Events()
    reg.callbacks.extend([first, second])
    record = make_record(metadata={"team": "blue"}, request_tags=["prod"])
    log = start_call(
        CallStart(
            call_type="completion",
            model="openai/gpt-4o-mini",
            messages=MESSAGES,
            params={"temperature": 0.2, "messages": MESSAGES},
            context=_context(),
        )
    )
    log.success(record, {"id": "resp-1"})
    assert flush(5)
    (_, kwargs, response, start, end) = next(c for c in first.calls if c[0] == "log_success_event")
    assert kwargs["model"] == "openai/gpt-4o-mini"
    assert kwargs["messages"] == MESSAGES
    assert kwargs["optional_params"] == {"temperature": 0.2}
    assert kwargs["response_cost"] == Decimal("0.000123")
    assert kwargs["cache_hit"] is False
    assert kwargs["litellm_params"]["metadata"] == {"team": "blue", "tags": ["prod"]}
    assert kwargs["litellm_call_id"] == record.id
    assert isinstance(start, datetime) and isinstance(end, datetime) and start.tzinfo is not None
    assert end.timestamp() == pytest.approx(record.end_time)
    assert response == {"id": "resp-1"}
    slo = kwargs["standard_logging_object"]
    expected = record.model_dump(mode="json")
    expected.update(messages=MESSAGES, response={"id": "resp-1"})
    assert slo == expected
    # built once, shared by every callback
    other = next(c for c in second.calls if c[0] == "log_success_event")[1]
    assert other["standard_logging_object"] is slo
    assert "exception" not in kwargs


def test_proxy_identity_reaches_metadata_under_litellm_names(make_record: Any) -> None:
    events = Events()
    reg.success_callback.append(events)
    record = make_record(
        key_hash="ab" * 32, team_id="team-1", user_id="u-1", request_tags=["prod"], metadata={"app": "x"}
    )
    start_call(CallStart(model="m", messages=MESSAGES)).success(record, {})
    assert flush(5)
    (_, kwargs, _, _, _) = next(c for c in events.calls if c[0] == "log_success_event")
    assert kwargs["litellm_params"]["metadata"] == {
        "user_api_key_hash": "ab" * 32,
        "user_api_key_team_id": "team-1",
        "user_api_key_user_id": "u-1",
        "tags": ["prod"],
        "app": "x",
    }


def test_the_failure_payload_carries_the_exception(make_record: Any) -> None:
    events = Events()
    reg.failure_callback.append(events)
    exc = RateLimitError("rate limited, key sk-abcdefghijklmnopqrstu")
    start_call(CallStart(model="m", messages=MESSAGES)).failure(make_record("failure"), exc)
    assert flush(5)
    (_, kwargs, response, _, _) = next(c for c in events.calls if c[0] == "log_failure_event")
    assert kwargs["exception"] is exc
    assert "sk-abc" not in kwargs["error_str"] and "[REDACTED]" in kwargs["error_str"]
    assert kwargs["standard_logging_object"]["status"] == "failure"
    assert response is None


@pytest.mark.parametrize("how", ["no_log", "context.no_log", "turn_off_message_logging"])
def test_content_is_dropped_everywhere_but_usage_and_cost_stay(make_record: Any, how: str) -> None:
    import ledgerlm

    events = Events()
    reg.callbacks.append(events)
    if how == "turn_off_message_logging":
        setattr(ledgerlm, "turn_off_message_logging", True)  # noqa: B010
    sunk: list[Any] = []
    log = start_call(
        CallStart(
            model="m",
            messages=[{"role": "user", "content": "secret plan"}],
            context=_context(no_log=how == "context.no_log"),
            no_log=how == "no_log",
        )
    )
    log.add_sink(sunk.append)
    log.pre_api_call()
    log.success(
        make_record(messages=[{"role": "user", "content": "secret plan"}]), {"content": "secret plan"}
    )
    assert flush(5)
    for name, kwargs, *rest in events.calls:
        assert "secret plan" not in repr((kwargs, rest)), name
    (_, kwargs, response, _, _) = next(c for c in events.calls if c[0] == "log_success_event")
    assert kwargs["messages"] == [{"role": "user", "content": "[REDACTED]"}]
    assert response == {"content": "[REDACTED]"}
    slo = kwargs["standard_logging_object"]
    assert slo["messages"] is None and slo["response"] is None
    assert slo["usage"]["total_tokens"] == 15 and slo["response_cost"] == "0.000123"
    if how != "turn_off_message_logging":
        assert sunk[0].no_log is True and sunk[0].messages is None


def test_a_call_that_never_ends_is_counted_as_abandoned(make_record: Any) -> None:
    import gc

    reg.callbacks.append(Events())
    before = stats()["abandoned"]
    log = start_call(CallStart(model="m", messages=MESSAGES))
    del log
    gc.collect()
    assert stats()["abandoned"] == before + 1


def test_hooks_written_as_async_def_under_sync_names_are_awaited(make_record: Any) -> None:
    seen: list[str] = []

    class AsyncNamedSync(CustomLogger):
        async def log_pre_api_call(self, model: str, messages: Any, kwargs: Any) -> None:  # type: ignore[override]
            seen.append("pre")

        async def log_success_event(  # type: ignore[override]
            self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
        ) -> None:
            seen.append("success")

    reg.callbacks.append(AsyncNamedSync())
    log = start_call(CallStart(model="m", messages=MESSAGES))
    log.pre_api_call()
    log.success(make_record(), {})
    assert flush(5)
    assert sorted(seen) == ["pre", "success"]
