"""``CallbackWorkers``: a runtime's own dispatcher and record pipeline take its calls' events (sync and
async hooks, record stages), a duplicate terminal event is counted there, ``close`` drains and stops the
threads and a later event starts them again; ``start_call`` without workers uses the process-wide ones."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ledgerlm.callbacks import CallStart, CustomLogger, flush, start_call
from ledgerlm.callbacks.dispatcher import all_dispatchers, get_dispatcher
from ledgerlm.callbacks.workers import CallbackWorkers
from ledgerlm.record import RecordEvent


class Hooks(CustomLogger):
    """A sync and an async success hook, each recording the thread it ran on; a record stage too."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[tuple[str, threading.Thread]] = []

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.threads.append(("sync", threading.current_thread()))

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.threads.append(("async", threading.current_thread()))


class Stage(CustomLogger):
    """A record stage: ``consume_records`` instead of the LiteLLM hooks."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[threading.Thread] = []

    def consume_records(self, events: Sequence[RecordEvent]) -> None:
        self.threads += [threading.current_thread() for _ in events]


def _call(make_record: Any, workers: CallbackWorkers | None, targets: list[Any], is_async: bool) -> None:
    log = start_call(CallStart(is_async=is_async, per_call_callbacks=targets), None, workers)
    record = make_record()
    log.success(record, None)
    log.success(record, None)  # ignored, counted as duplicate_terminal on the call's dispatcher


def test_own_workers_take_the_events_and_restart_after_close(make_record: Any) -> None:
    workers = CallbackWorkers.own()
    assert workers.dispatcher in all_dispatchers() and workers.dispatcher is not get_dispatcher()
    hooks, stage = Hooks(), Stage()
    before = get_dispatcher().stats()
    _call(make_record, workers, [hooks, stage], is_async=False)
    _call(make_record, workers, [hooks, stage], is_async=True)
    assert workers.close(timeout=5.0)
    counts = workers.dispatcher.stats()
    assert (counts["delivered"], counts["pending"], counts["duplicate_terminal"]) == (4, 0, 2)
    assert get_dispatcher().stats()["delivered"] == before["delivered"], "nothing on the process-wide one"
    assert sorted(kind for kind, _ in hooks.threads) == ["async", "sync"] and len(stage.threads) == 2
    stopped = {thread for _, thread in hooks.threads} | set(stage.threads)
    assert not any(thread.is_alive() for thread in stopped), "close stopped the workers' threads"
    _call(make_record, workers, [hooks, stage], is_async=False)  # reusable: threads start again
    assert workers.flush(timeout=5.0)
    assert len(hooks.threads) == 3 and len(stage.threads) == 3
    assert hooks.threads[-1][1].is_alive() and hooks.threads[-1][1] not in stopped
    assert workers.close(timeout=5.0)


def test_without_workers_the_process_wide_ones_take_the_events(make_record: Any) -> None:
    hooks = Hooks()
    before = get_dispatcher().stats()["delivered"]
    _call(make_record, None, [hooks], is_async=False)
    assert flush(timeout=5.0)
    assert get_dispatcher().stats()["delivered"] == before + 1
    assert get_dispatcher().on_own_thread() is False and len(hooks.threads) == 1
