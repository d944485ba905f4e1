"""The typed record pipeline (issue 13 item 3, issue 22): metrics and exporters take the ``CallRecord``
itself, in batches, on one pipeline thread; user callbacks keep LiteLLM's ``kwargs`` hooks.

Real parts: the real ``CallLog`` / dispatcher / pipeline, the real ``PrometheusExporter`` on its own
registry and ``BatchingExporter`` subclasses whose backend is an in-memory list (no network is the point
of these tests: what reaches the exporter, in which order, with which content).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from ledgerlm.callbacks import CallStart, CustomLogger, flush, start_call, stats
from ledgerlm.callbacks.pipeline import is_record_consumer
from ledgerlm.integrations.base import BatchingExporter
from ledgerlm.integrations.prometheus import PrometheusExporter, PrometheusMetrics
from ledgerlm.integrations.settings import BatchSettings
from ledgerlm.record import CallRecord, RecordEvent
from ledgerlm.types import CallContext


class ListExporter(BatchingExporter):
    """A batching exporter whose backend is a list; notes which thread enqueued and the kwargs hook use."""

    name = "list"

    def __init__(self, settings: BatchSettings | None = None) -> None:
        super().__init__(settings)
        self.sent: list[dict[str, Any]] = []
        self.kwargs_calls = 0
        self.batches: list[int] = []
        self.threads: set[str] = set()

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        self.sent.extend(events)

    def consume_records(self, events: Sequence[RecordEvent]) -> None:
        self.batches.append(len(events))
        self.threads.add(threading.current_thread().name)
        super().consume_records(events)

    def _enqueue_kwargs(self, kwargs: Any) -> None:
        self.kwargs_calls += 1
        super()._enqueue_kwargs(kwargs)


def _requests_counted(metrics: PrometheusMetrics) -> float:
    return sum(
        sample.value
        for family in metrics.registry.collect()
        for sample in family.samples
        if sample.name == "ledgerlm_requests_total"
    )


class HookOverridingExporter(ListExporter):
    """A subclass that overrides a LiteLLM hook: it keeps receiving ``kwargs`` (no record stage)."""

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end: Any
    ) -> None:
        self.kwargs_calls += 1
        self.enqueue(kwargs["standard_logging_object"])


class Seen(CustomLogger):
    def __init__(self) -> None:
        self.kwargs: list[dict[str, Any]] = []

    async def async_log_success_event(
        self, kwargs: Any, response_obj: Any, start_time: Any, end: Any
    ) -> None:
        self.kwargs.append(kwargs)


def _success(record: CallRecord, callbacks: list[Any], **call: Any) -> None:
    log = start_call(
        CallStart(
            call_type="acompletion",
            model="gpt-4o-mini",
            context=CallContext(request_id=record.id),
            is_async=True,
            per_call_callbacks=callbacks,
            **call,
        )
    )
    log.success(
        record, {"id": "chatcmpl-1", "choices": [{"message": {"role": "assistant", "content": "hi"}}]}
    )


def test_exporters_and_metrics_take_the_record_not_kwargs(make_record: Any) -> None:
    exporter, metrics, user = ListExporter(), PrometheusMetrics(), Seen()
    try:
        records = [make_record() for _ in range(50)]
        for record in records:
            _success(record, [exporter, PrometheusExporter(metrics), user])
        assert flush(10.0) and exporter.flush(10.0)  # per-call exporters are flushed by their owner
        assert exporter.kwargs_calls == 0  # no record -> kwargs -> record round trip
        assert [e["id"] for e in exporter.sent] == [r.id for r in records]  # call order kept
        assert exporter.threads == {"ledgerlm-record-pipeline"}
        assert sum(exporter.batches) == 50 and len(exporter.batches) < 50  # batched hand-offs
        assert _requests_counted(metrics) == 50
        assert len(user.kwargs) == 50  # the user CustomLogger keeps LiteLLM's kwargs
        assert user.kwargs[0]["standard_logging_object"]["id"] == records[0].id
        assert stats()["pending"] == 0
    finally:
        exporter.close(5)


def test_a_subclass_overriding_a_hook_keeps_kwargs(make_record: Any) -> None:
    exporter = HookOverridingExporter()
    try:
        assert not is_record_consumer(exporter) and is_record_consumer(ListExporter())
        record = make_record()
        _success(record, [exporter])
        assert flush(10.0) and exporter.flush(10.0)
        assert exporter.kwargs_calls == 1 and exporter.batches == []
        assert [e["id"] for e in exporter.sent] == [record.id]
    finally:
        exporter.close(5)


def test_content_reaches_an_exporter_only_when_it_logs_content(make_record: Any) -> None:
    on, off = ListExporter(BatchSettings(content_logging=True)), ListExporter()
    try:
        record = make_record()
        _success(record, [on, off], messages=[{"role": "user", "content": "hello"}])
        assert flush(10.0) and on.flush(10.0) and off.flush(10.0)
        assert on.sent[0]["messages"] == [{"role": "user", "content": "hello"}]
        assert on.sent[0]["response"]["choices"][0]["message"]["content"] == "hi"
        assert off.sent[0]["messages"] is None and off.sent[0]["response"] is None
    finally:
        on.close(5)
        off.close(5)


def test_no_log_calls_export_no_content(make_record: Any) -> None:
    on = ListExporter(BatchSettings(content_logging=True))
    try:
        _success(make_record(), [on], messages=[{"role": "user", "content": "secret plan"}], no_log=True)
        assert flush(10.0) and on.flush(10.0)
        assert on.sent[0]["messages"] is None and on.sent[0]["response"] is None
    finally:
        on.close(5)


class Order:
    def __init__(self, name: str, into: list[str], stage: int | None = None, fail: bool = False) -> None:
        self.name, self.into, self.fail = name, into, fail
        if stage is not None:
            self.record_stage = stage

    def consume_records(self, events: Sequence[RecordEvent]) -> None:
        self.into.append(self.name)
        if self.fail:
            raise RuntimeError("stage broke")


@pytest.mark.callback_errors_expected
def test_stages_run_in_order_and_a_failing_stage_is_isolated(make_record: Any) -> None:
    into: list[str] = []
    before = stats()["errors"]
    stages = [Order("exporter", into), Order("broken", into, fail=True), Order("metrics", into, stage=30)]
    _success(make_record(), stages)
    assert flush(10.0)
    assert into == ["metrics", "exporter", "broken"]
    assert stats()["errors"] == before + 1
    assert "Order.consume_records" in stats()["errors_by_callback"]


def test_a_full_pipeline_drops_and_counts(make_record: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from ledgerlm.callbacks import pipeline

    gate = threading.Event()
    into: list[str] = []

    class Slow(Order):
        def consume_records(self, events: Sequence[RecordEvent]) -> None:
            gate.wait(10)
            super().consume_records(events)

    monkeypatch.setattr(pipeline, "MAX_PENDING", 3)
    before = stats()["dropped"]
    try:
        stage = Slow("slow", into)
        for _ in range(10):
            _success(make_record(), [stage])
        assert stats()["dropped"] > before
        assert any(label.endswith("Slow.consume_records") for label in stats()["dropped_by_callback"])
    finally:
        gate.set()
    assert flush(10.0)
