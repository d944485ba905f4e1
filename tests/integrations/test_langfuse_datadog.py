"""Langfuse and Datadog exporters against a real local receiver capturing their payloads."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest
from exporter_support import Captured, Receiver, make_record

from ledgerlm.integrations.datadog import DatadogExporter
from ledgerlm.integrations.events import event_uuid
from ledgerlm.integrations.langfuse import LangfuseExporter

FAST = {"flush_interval_s": 0.02, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_retries": 2}


def _langfuse(receiver: Receiver, **settings: Any) -> LangfuseExporter:
    env = {
        "LANGFUSE_PUBLIC_KEY": "pk-lf-test",
        "LANGFUSE_SECRET_KEY": "sk-lf-test",
        "LANGFUSE_HOST": receiver.url,
    }
    return LangfuseExporter.from_settings({**FAST, **settings}, env)


async def test_langfuse_trace_and_generation(receiver: Receiver) -> None:
    exporter = _langfuse(receiver)
    record = make_record(id="req-lf-1", metadata={"session_id": "sess-1", "trace_name": "support-bot"})
    try:
        exporter.enqueue(record)
        assert await exporter.aflush()
    finally:
        await exporter.aclose()

    [req] = receiver.requests
    assert req.path == "/api/public/ingestion"
    assert req.headers["Authorization"] == "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    batch = orjson.loads(req.body)["batch"]
    trace, generation = batch
    assert trace["type"] == "trace-create" and trace["id"] == event_uuid("req-lf-1", "trace-create")
    assert trace["body"]["id"] == "req-lf-1"
    assert trace["body"]["name"] == "support-bot"
    assert trace["body"]["sessionId"] == "sess-1"
    assert trace["body"]["userId"] == "customer-9"
    assert trace["body"]["tags"] == ["prod", "chatbot"]
    assert "input" not in trace["body"]  # content logging off

    body = generation["body"]
    assert generation["type"] == "generation-create"
    assert body["id"] == "req-lf-1" and body["traceId"] == "req-lf-1"
    assert body["startTime"] == "2025-11-29T07:06:40.250000Z"
    assert body["endTime"] == "2025-11-29T07:06:41.750000Z"
    assert body["completionStartTime"] == "2025-11-29T07:06:40.500000Z"
    assert body["model"] == "gpt-4o-mini-2024-07-18"
    assert body["modelParameters"] == {"temperature": 0.2, "max_tokens": 512, "top_p": 0.9}
    usage = body["usageDetails"]
    assert usage == {
        "input": 200,
        "cache_read_input_tokens": 1000,
        "output": 180,
        "output_reasoning_tokens": 120,
        "total": 1500,
    }
    assert sum(v for k, v in usage.items() if k != "total") == usage["total"]
    assert body["costDetails"] == {
        "input": pytest.approx(0.00003),
        "cache_read_input_tokens": pytest.approx(0.000075),
        "output": pytest.approx(0.00027),
        "total": pytest.approx(0.000375),
    }
    assert body["level"] == "DEFAULT"
    assert body["metadata"]["team_id"] == "team-a" and body["metadata"]["cost_total_usd"] == "0.000375"


async def test_langfuse_failure_unpriced_and_content(receiver: Receiver) -> None:
    exporter = _langfuse(receiver, content_logging=True)
    record = make_record(
        status="failure",
        error={"type": "APIConnectionError", "message": "upstream reset"},
        cost={"total": None, "unpriced_reason": "no price for model"},
    )
    try:
        exporter.enqueue(record)
        assert await exporter.aflush()
    finally:
        await exporter.aclose()
    trace, generation = orjson.loads(receiver.requests[0].body)["batch"]
    body = generation["body"]
    assert body["level"] == "ERROR"
    assert body["statusMessage"] == "APIConnectionError: upstream reset"
    assert "costDetails" not in body  # unpriced: no fake $0
    assert body["metadata"]["unpriced_reason"] == "no price for model"
    assert body["input"] == [{"role": "user", "content": "secret prompt"}]
    assert trace["body"]["output"]["choices"][0]["message"]["content"] == "secret answer"


async def test_langfuse_207_partial_errors(receiver: Receiver) -> None:
    answers = iter(
        [
            b'{"successes": [], "errors": [{"id": "x", "status": 500, "message": "db busy"}]}',
            b'{"successes": [], "errors": [{"id": "y", "status": 400, "message": "bad field"}]}',
        ]
    )
    receiver.status = lambda _req: 207
    receiver.response_body = lambda _req: next(answers, b'{"successes": [], "errors": []}')
    exporter = _langfuse(receiver)
    try:
        exporter.enqueue(make_record(id="req-207"))
        assert await exporter.aflush()
    finally:
        await exporter.aclose()
    assert len(receiver.requests) == 2  # the 500 item made the batch retry; the 400 item did not
    assert receiver.requests[0].body == receiver.requests[1].body  # same event ids: Langfuse dedupes
    stats = exporter.stats()
    assert stats["retried"] == 1 and stats["rejected"] == 1 and stats["sent"] == 1


def _dd_logs(req: Captured) -> list[dict[str, Any]]:
    logs = orjson.loads(req.body)
    assert isinstance(logs, list)
    return logs


async def test_datadog_logs_intake(receiver: Receiver) -> None:
    receiver.status = lambda _req: 202
    env = {
        "DD_API_KEY": "dd-key-123",
        "DD_LOGS_URL": f"{receiver.url}/api/v2/logs",
        "DD_ENV": "prod",
        "DD_SERVICE": "gateway",
        "DD_HOSTNAME": "gw-1",
        "DD_TAGS": "region:eu",
    }
    exporter = DatadogExporter.from_settings(FAST, env)
    failed = make_record(
        status="failure", error={"type": "Timeout", "message": "took too long"}, id="req-dd-2"
    )
    try:
        exporter.enqueue(make_record(id="req-dd-1"))
        exporter.enqueue(failed)
        assert await exporter.aflush()
    finally:
        await exporter.aclose()

    [req] = receiver.requests
    assert req.path == "/api/v2/logs"
    assert req.headers["DD-API-KEY"] == "dd-key-123"
    assert req.headers["Content-Encoding"] == "gzip"
    ok, bad = _dd_logs(req)  # the receiver (aiohttp) decompressed the gzip body
    assert ok["ddsource"] == "ledgerlm" and ok["service"] == "gateway" and ok["hostname"] == "gw-1"
    assert ok["ddtags"].split(",") == [
        "env:prod",
        "region:eu",
        "model_group:gpt-4o-mini",
        "provider:openai",
        "status:success",
        "team:team-a",
    ]
    assert ok["status"] == "info" and bad["status"] == "error"
    assert ok["timestamp"] == 1_764_400_001_750
    assert ok["duration"] == 1_500_000_000
    assert ok["ledgerlm"]["id"] == "req-dd-1" and ok["ledgerlm"]["cost"]["total"] == "0.000375"
    assert ok["ledgerlm"]["messages"] is None
    assert "$0.000375" in ok["message"]
    assert "Timeout: took too long" in bad["message"]


def test_datadog_site_and_batch_cap() -> None:
    exporter = DatadogExporter.from_settings(
        {"batch_size": 5000}, {"DD_API_KEY": "k", "DD_SITE": "datadoghq.eu"}
    )
    assert exporter.url == "https://http-intake.logs.datadoghq.eu/api/v2/logs"
    assert exporter.settings.batch_size == 1000
    with pytest.raises(ValueError, match="DD_API_KEY"):
        DatadogExporter.from_settings({}, {})
    with pytest.raises(ValueError, match="LANGFUSE"):
        LangfuseExporter.from_settings({}, {"LANGFUSE_PUBLIC_KEY": "pk"})


async def test_large_batches_are_split_under_the_size_limits(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledgerlm.integrations import datadog, langfuse

    monkeypatch.setattr(langfuse, "MAX_REQUEST_BYTES", 6_000)
    monkeypatch.setattr(datadog, "MAX_REQUEST_BYTES", 6_000)
    receiver.status = lambda req: 202 if req.path == "/api/v2/logs" else 200
    lf = _langfuse(receiver, batch_size=10)
    dd = DatadogExporter.from_settings(
        {**FAST, "batch_size": 10}, {"DD_API_KEY": "k", "DD_LOGS_URL": f"{receiver.url}/api/v2/logs"}
    )
    ids = [f"big-{i}" for i in range(10)]
    try:
        for record_id in ids:
            lf.enqueue(make_record(id=record_id))
            dd.enqueue(make_record(id=record_id))
        assert await lf.aflush() and await dd.aflush()
    finally:
        await lf.aclose()
        await dd.aclose()
    lf_requests = [r for r in receiver.requests if r.path == "/api/public/ingestion"]
    dd_requests = [r for r in receiver.requests if r.path == "/api/v2/logs"]
    assert len(lf_requests) > 1 and len(dd_requests) > 1
    assert all(len(r.body) <= 6_000 + 100 for r in lf_requests)
    generations = [
        e["body"]["id"]
        for r in lf_requests
        for e in orjson.loads(r.body)["batch"]
        if e["type"] == "generation-create"
    ]
    assert generations == ids
    assert [log["ledgerlm"]["id"] for r in dd_requests for log in orjson.loads(r.body)] == ids
