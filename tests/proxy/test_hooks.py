"""Config callbacks: ``success_callback`` / ``failure_callback`` entries receive only their event
(through the real callback dispatcher), ``module.attribute`` classes are instantiated, bad names fail."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import ledgerlm.callbacks
from ledgerlm.callbacks import CallStart, CustomLogger, start_call
from ledgerlm.errors import ConfigError, InternalServerError
from ledgerlm.proxy.hooks import ProxyHooks, close_callbacks, load_callbacks
from ledgerlm.record import CallRecord

MODULE = "ledgerlm_test_cb_module"
SOURCE = """
from ledgerlm.callbacks import CustomLogger

CALLS = []


def on_success(kwargs, response, start_time, end_time):
    CALLS.append(("success-fn", kwargs["standard_logging_object"]["status"]))


def on_failure(kwargs, response, start_time, end_time):
    CALLS.append(("failure-fn", kwargs["standard_logging_object"]["status"]))


import threading

RELEASE = threading.Event()


class BlockingSyncLogger(CustomLogger):
    def log_success_event(self, kwargs, response_obj, start_time, end_time):
        RELEASE.wait(30)
        CALLS.append(("blocking-sync-success", None))


class Closable(CustomLogger):
    closed = False

    async def aclose(self):
        type(self).closed = True


class Logger(CustomLogger):
    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        CALLS.append(("logger-success", None))

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        CALLS.append(("logger-failure", None))
"""


def _record(status: str) -> CallRecord:
    return CallRecord(
        id=f"r-{status}",
        call_type="acompletion",
        status=status,
        requested_model="m",
        model="m",
        provider="openai",
        start_time=1.0,
        end_time=2.0,
        latency_s=1.0,
    )


@pytest.fixture
def module(tmp_path: Path) -> Any:
    (tmp_path / f"{MODULE}.py").write_text(SOURCE, encoding="utf-8")
    yield tmp_path
    sys.modules.pop(MODULE, None)


def test_success_and_failure_lists_get_only_their_event(module: Path) -> None:
    loaded = load_callbacks(
        [f"{MODULE}.Logger"],
        [f"{MODULE}.on_success"],
        [f"{MODULE}.on_failure", f"{MODULE}.Logger"],
        settings={},
        base_dir=module,
    )
    calls = sys.modules[MODULE].CALLS
    for status in ("success", "failure"):
        log = start_call(
            CallStart(call_type="acompletion", model="m", is_async=True, per_call_callbacks=loaded.per_call)
        )
        if status == "success":
            log.success(_record(status), {"choices": []})
        else:
            log.failure(_record(status), InternalServerError("boom"))
    assert ledgerlm.callbacks.flush(timeout=10)
    assert sorted(calls) == sorted(
        [
            ("logger-success", None),  # callbacks: both events
            ("logger-failure", None),
            ("success-fn", "success"),  # success_callback: success only
            ("failure-fn", "failure"),  # failure_callback: failure only
            ("logger-failure", None),  # a CustomLogger in failure_callback: failure only
        ]
    )
    assert isinstance(loaded.loggers[0], CustomLogger)


def test_proxy_hooks_only_for_overriding_loggers(module: Path) -> None:
    loaded = load_callbacks([f"{MODULE}.Logger"], [], [], settings={}, base_dir=module)
    hooks = ProxyHooks(loaded.loggers)
    assert hooks.pre == hooks.success == hooks.failure == hooks.streaming == []


def test_bad_callback_entries_fail_with_their_path(module: Path) -> None:
    with pytest.raises(ConfigError, match=r"^litellm_settings\.success_callback\[0\]: .*no attribute 'nope'"):
        load_callbacks([], [f"{MODULE}.nope"], [], settings={}, base_dir=module)


def test_sync_only_logger_in_success_callback_runs_off_the_dispatcher_loop(module: Path) -> None:
    """A ``CustomLogger`` with only the sync hook, listed in ``success_callback``, runs in the thread
    pool: while it blocks, an async callback still receives its event."""
    loaded = load_callbacks(
        [], [f"{MODULE}.BlockingSyncLogger", f"{MODULE}.Logger"], [], settings={}, base_dir=module
    )
    mod = sys.modules[MODULE]
    log = start_call(
        CallStart(call_type="acompletion", model="m", is_async=True, per_call_callbacks=loaded.per_call)
    )
    log.success(_record("success"), {"choices": []})
    deadline = 200
    while ("logger-success", None) not in mod.CALLS and deadline:
        mod.RELEASE.wait(0.05)
        deadline -= 1
    try:
        assert ("logger-success", None) in mod.CALLS, "the async callback was stalled by a sync one"
        assert ("blocking-sync-success", None) not in mod.CALLS
    finally:
        mod.RELEASE.set()
    assert ledgerlm.callbacks.flush(timeout=10)
    assert ("blocking-sync-success", None) in mod.CALLS


async def test_close_callbacks_closes_loaded_exporters(module: Path) -> None:
    loaded = load_callbacks([f"{MODULE}.Closable"], [], [f"{MODULE}.Closable"], settings={}, base_dir=module)
    await close_callbacks(loaded)
    assert sys.modules[MODULE].Closable.closed is True
