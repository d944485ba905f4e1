"""Registration: the global lists (appended to or assigned), the package acting as ``callbacks``."""

from __future__ import annotations

import importlib
from typing import Any

import ledgerlm
import ledgerlm.callbacks
from ledgerlm.callbacks import CustomLogger, flush, registry, start_call


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
    start_call(model="m", messages=[]).success(make_record(), {})
    assert flush(5)
    assert (by_assignment.successes, appended.successes) == (1, 1)


def test_named_integrations_given_as_strings_are_ignored_here(make_record: Any) -> None:
    logger = Counter()
    registry.success_callback.extend(["langfuse", logger])
    start_call(model="m", messages=[]).success(make_record(), {})
    assert flush(5)
    assert logger.successes == 1


def test_a_callback_registered_during_a_call_sees_the_next_call(make_record: Any) -> None:
    late = Counter()
    running = start_call(model="m", messages=[])
    registry.callbacks.append(late)
    running.success(make_record(), {})
    start_call(model="m", messages=[]).success(make_record(), {})
    assert flush(5)
    assert late.successes == 1


def test_the_package_exposes_the_same_list_objects(make_record: Any) -> None:
    assert ledgerlm.success_callback is registry.success_callback
    assert ledgerlm.failure_callback is registry.failure_callback
    assert ledgerlm.input_callback is registry.input_callback
    assert ledgerlm.CustomLogger is CustomLogger and ledgerlm.flush is flush
    logger = Counter()
    ledgerlm.success_callback.append(logger)
    start_call(model="m", messages=[]).success(make_record(), {})
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
    start_call(model="m", messages=[]).success(record, {})
    assert ledgerlm.flush(5)
    assert exporter.sent == [record.id] and exporter.buffered == []
