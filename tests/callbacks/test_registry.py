"""Registration: the global lists (appended to or assigned), the package acting as ``callbacks``."""

from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest

import ledgerlm
import ledgerlm.callbacks
from ledgerlm.callbacks import CallStart, CustomLogger, flush, registry, start_call


class Counter(CustomLogger):
    def __init__(self) -> None:
        self.successes = 0

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.successes += 1


def test_the_callbacks_package_acts_as_the_callbacks_list() -> None:
    logger, other = Counter(), Counter()
    ledgerlm.callbacks.append(logger)
    as_list: Any = ledgerlm.callbacks  # len / iteration / += are typed on list, not on a module
    as_list += [other]
    assert registry.callbacks == [logger, other]
    assert len(as_list) == 2 and list(as_list) == [logger, other]
    assert logger in as_list and as_list[1] is other
    ledgerlm.callbacks.remove(logger)
    assert registry.callbacks == [other]
    ledgerlm.callbacks.clear()
    assert registry.callbacks == [] and bool(ledgerlm.callbacks)
    # still the package: its functions and submodules are reachable
    module = importlib.import_module("ledgerlm.callbacks")
    assert module is ledgerlm.callbacks and callable(module.start_call)


def test_lists_assigned_on_the_package_are_honoured(make_record: Any) -> None:
    by_assignment, appended = Counter(), Counter()
    setattr(ledgerlm, "success_callback", [by_assignment])  # noqa: B010 - the user's spelling, untyped
    setattr(ledgerlm, "callbacks", [appended])  # noqa: B010
    start_call(CallStart(model="m", messages=[])).success(make_record(), {})
    assert flush(5)
    assert (by_assignment.successes, appended.successes) == (1, 1)


def test_an_unknown_callback_name_is_ignored_with_one_warning(
    make_record: Any, caplog: pytest.LogCaptureFixture
) -> None:
    logger = Counter()
    registry.success_callback.extend(["no-such-exporter", logger])
    with caplog.at_level(logging.WARNING, logger="ledgerlm.callbacks"):
        for _ in range(3):
            start_call(CallStart(model="m", messages=[])).success(make_record(), {})
    assert flush(5)
    assert logger.successes == 3
    assert caplog.text.count("'no-such-exporter' ignored") == 1


def test_a_named_exporter_is_built_once_and_receives_events(
    make_record: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGERLM_FILE_SINK_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGERLM_EXPORT_SPOOL_DIR", str(tmp_path / "spool"))
    setattr(ledgerlm, "success_callback", ["file"])  # noqa: B010 - LiteLLM's spelling
    setattr(ledgerlm, "failure_callback", ["file"])  # noqa: B010
    try:
        ok, bad = make_record(), make_record("failure")
        start_call(CallStart(model="m", messages=[])).success(ok, {})
        start_call(CallStart(model="m", messages=[])).failure(bad, RuntimeError("x"))
        assert ledgerlm.flush(10)
        assert len(registry.named_loggers()) == 1
        lines = [
            json.loads(line)
            for f in sorted(tmp_path.rglob("calls-*.jsonl"))
            for line in f.read_text().splitlines()
        ]
        assert sorted(line["id"] for line in lines) == sorted([ok.id, bad.id])
    finally:
        for exporter in registry.forget_named():
            exporter.close(5)


def test_a_callback_registered_during_a_call_sees_the_next_call(make_record: Any) -> None:
    late = Counter()
    running = start_call(CallStart(model="m", messages=[]))
    registry.callbacks.append(late)
    running.success(make_record(), {})
    start_call(CallStart(model="m", messages=[])).success(make_record(), {})
    assert flush(5)
    assert late.successes == 1


def test_the_package_exposes_the_same_list_objects(make_record: Any) -> None:
    assert ledgerlm.success_callback is registry.success_callback
    assert ledgerlm.failure_callback is registry.failure_callback
    assert ledgerlm.input_callback is registry.input_callback
    assert ledgerlm.CustomLogger is CustomLogger and ledgerlm.flush is flush
    logger = Counter()
    ledgerlm.success_callback.append(logger)
    start_call(CallStart(model="m", messages=[])).success(make_record(), {})
    assert ledgerlm.flush(5)
    assert logger.successes == 1


class Buffering(CustomLogger):
    """Stands in for an exporter with its own queue: events are 'sent' only by its flush."""

    def __init__(self) -> None:
        self.buffered: list[str] = []
        self.sent: list[str] = []

    def log_success_event(self, kwargs: Any, response_obj: Any, start_time: Any, end_time: Any) -> None:
        self.buffered.append(kwargs["litellm_call_id"])

    def flush(self, timeout: float) -> bool:
        self.sent.extend(self.buffered)
        self.buffered.clear()
        return True


def test_flush_also_drains_registered_loggers_with_their_own_queue(make_record: Any) -> None:
    exporter = Buffering()
    ledgerlm.callbacks.append(exporter)
    record = make_record()
    start_call(CallStart(model="m", messages=[])).success(record, {})
    assert ledgerlm.flush(5)
    assert exporter.sent == [record.id] and exporter.buffered == []
