"""Dispatch guarantees: hooks run off the caller's path, isolated from each other, bounded, drainable."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import weakref
from typing import Any

import pytest

from ledgerlm.callbacks import CallStart, CustomLogger, flush, start_call, stats
from ledgerlm.callbacks import registry as reg
from ledgerlm.callbacks.dispatcher import Dispatcher, DispatcherConfig


class Recorder(CustomLogger):
    """Records every success event's request id, and where the hook ran."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.threads: list[str] = []
        self.loops: list[Any] = []

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.ids.append(kwargs["litellm_call_id"])
        self.threads.append(threading.current_thread().name)


class AsyncRecorder(Recorder):
    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.ids.append(kwargs["litellm_call_id"])
        self.threads.append(threading.current_thread().name)
        self.loops.append(asyncio.get_running_loop())


class Sleeper(CustomLogger):
    """A sync hook that blocks until released (stands in for a callback sleeping 60 s)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.finished = 0

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.entered.set()
        self.release.wait(60)
        self.finished += 1


class AsyncSleeper(Sleeper):
    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.entered.set()
        while not self.release.is_set():
            await asyncio.sleep(0.01)
        self.finished += 1


def _succeed(make_record: Any, *, is_async: bool = False, per_call: list[Any] | None = None) -> str:
    record = make_record()
    log = start_call(
        CallStart(model="gpt-4o-mini", messages=[], is_async=is_async, per_call_callbacks=per_call)
    )
    log.success(record, {"id": "resp"})
    return str(record.id)


@pytest.mark.callback_errors_expected
def test_a_raising_callback_is_counted_and_the_next_one_still_runs(make_record: Any) -> None:
    seen: list[str] = []

    def broken(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        raise RuntimeError("callback bug")

    def healthy(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        seen.append(kwargs["litellm_call_id"])

    reg.success_callback.extend([broken, healthy])
    before = stats()
    request_id = _succeed(make_record)
    assert flush(5)
    after = stats()
    assert seen == [request_id]
    assert after["errors"] == before["errors"] + 1
    label = next(k for k in after["errors_by_callback"] if k.endswith("broken"))
    assert after["errors_by_callback"][label] == before["errors_by_callback"].get(label, 0) + 1


@pytest.mark.parametrize("sleeper_cls", [Sleeper, AsyncSleeper])
def test_a_hanging_callback_delays_neither_callers_nor_other_callbacks(
    make_record: Any, sleeper_cls: type[Sleeper]
) -> None:
    sleeper, recorder = sleeper_cls(), Recorder()
    reg.callbacks.extend([sleeper, recorder])
    ids = [_succeed(make_record, is_async=sleeper_cls is AsyncSleeper) for _ in range(50)]
    assert sleeper.entered.wait(10)
    # the other callback drains all 50 events while the sleeper is still inside its first hook
    assert flush(0.5) is False  # the sleeper keeps the dispatcher busy ...
    deadline_ok = _wait_until(lambda: len(recorder.ids) == 50)
    assert deadline_ok and sorted(recorder.ids) == sorted(ids)
    assert sleeper.finished == 0 and not sleeper.release.is_set()
    sleeper.release.set()
    assert flush(10)
    assert sleeper.finished == 50


def _wait_until(predicate: Any, attempts: int = 1000) -> bool:
    event = threading.Event()
    for _ in range(attempts):
        if predicate():
            return True
        event.wait(0.01)
    return bool(predicate())


async def test_async_hooks_run_on_the_dispatcher_loop_never_the_callers(make_record: Any) -> None:
    recorder = AsyncRecorder()
    reg.callbacks.append(recorder)
    request_id = _succeed(make_record, is_async=True)
    assert await asyncio.to_thread(flush, 5)
    assert recorder.ids == [request_id]
    assert recorder.loops[0] is not asyncio.get_running_loop()
    assert recorder.threads == ["ledgerlm-callbacks-loop"]


def test_sync_hooks_run_in_the_pool_not_on_the_caller_thread(make_record: Any) -> None:
    recorder = Recorder()
    reg.callbacks.append(recorder)
    _succeed(make_record)
    assert flush(5)
    assert recorder.threads[0].startswith("ledgerlm-callbacks-")
    assert recorder.threads[0] != threading.current_thread().name


def test_a_full_queue_drops_for_that_callback_only(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = Dispatcher(DispatcherConfig(queue_size=3, sync_workers=2))
    entered, release = threading.Event(), threading.Event()
    done = {"slow": 0, "fast": 0}
    slow_target, fast_target = object(), object()

    def slow() -> None:
        entered.set()
        release.wait(30)
        done["slow"] += 1

    def fast() -> None:
        done["fast"] += 1

    assert dispatcher.submit(slow_target, "slow", slow, is_async=False)
    assert entered.wait(10)  # the first job left the queue: 3 more fit, then 2 are dropped
    with caplog.at_level(logging.WARNING, logger="ledgerlm.callbacks"):
        accepted = [dispatcher.submit(slow_target, "slow", slow, is_async=False) for _ in range(5)]
    assert accepted == [True, True, True, False, False]
    assert all(dispatcher.submit(fast_target, "fast", fast, is_async=False) for _ in range(3))
    assert "queue full" in caplog.text
    counters = dispatcher.stats()
    assert counters["dropped"] == 2
    assert list(counters["dropped_by_callback"].values()) == [2]
    release.set()
    assert dispatcher.flush(10)
    assert done == {"slow": 4, "fast": 3}


def test_flush_times_out_on_a_hanging_hook_and_drains_after(make_record: Any) -> None:
    sleeper = Sleeper()
    reg.success_callback.append(sleeper)
    _succeed(make_record)
    assert sleeper.entered.wait(10)
    assert flush(0.2) is False
    assert stats()["pending"] >= 1
    sleeper.release.set()
    assert flush(10) is True
    assert stats()["pending"] == 0


def test_flush_called_from_a_callback_returns_at_once(make_record: Any) -> None:
    results: list[bool] = []

    def flusher(kwargs: Any, response: Any, start: Any, end: Any) -> None:
        results.append(flush(30))

    reg.success_callback.append(flusher)
    _succeed(make_record)
    assert flush(10)
    assert results == [False]


def test_per_call_loggers_are_released_after_their_events(make_record: Any) -> None:
    logger = Recorder()
    ref = weakref.ref(logger)
    _succeed(make_record, per_call=[logger])
    assert flush(5)
    assert len(logger.ids) == 1
    del logger
    gc.collect()
    assert ref() is None


def test_a_flood_of_chunk_events_never_crowds_out_the_terminal_event() -> None:
    dispatcher = Dispatcher(DispatcherConfig(queue_size=4, sync_workers=1))
    entered, release = threading.Event(), threading.Event()
    ran: list[str] = []
    target = object()

    def blocker() -> None:
        entered.set()
        release.wait(30)

    assert dispatcher.submit(target, "first", blocker, is_async=False)
    assert entered.wait(10)
    chunks = [
        dispatcher.submit(target, "chunk", lambda: ran.append("chunk"), is_async=False, bulk=True)
        for _ in range(5)
    ]
    assert chunks == [True, True, False, False, False]  # bulk events fill half the lane at most
    assert dispatcher.submit(target, "terminal", lambda: ran.append("terminal"), is_async=False)
    release.set()
    assert dispatcher.flush(10)
    assert ran == ["chunk", "chunk", "terminal"]


def test_when_no_worker_can_start_the_event_is_dropped_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = Dispatcher()

    def refuse() -> Any:
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(dispatcher, "_ensure_pool", refuse)
    assert dispatcher.submit(object(), "late", lambda: None, is_async=False) is False
    counters = dispatcher.stats()
    assert counters["dropped"] == 1 and counters["pending"] == 0
    assert dispatcher.flush(0.1) is True
