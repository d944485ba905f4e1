"""Lunary and Helicone exporters against a real local receiver that checks their documented fields."""

from __future__ import annotations

from typing import Any

import orjson
from exporter_support import Receiver, make_record

from ledgerlm.integrations import get_exporter
from ledgerlm.integrations.events import event_uuid
from ledgerlm.integrations.helicone import HeliconeExporter
from ledgerlm.integrations.lunary import LunaryExporter

FAST = {"flush_interval_s": 0.02, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_retries": 2}


def _config(name: str, env: dict[str, str], **settings: Any) -> dict[str, Any]:
    return {"callback_settings": {name: {**FAST, **settings}}, "environment_variables": env}


async def test_lunary_start_and_end_events(receiver: Receiver) -> None:
    exporter = get_exporter(
        "lunary", _config("lunary", {"LUNARY_PUBLIC_KEY": "pub-1", "LUNARY_API_URL": receiver.url})
    )
    assert isinstance(exporter, LunaryExporter)
    ok = make_record(id="req-lu-1")
    failed = make_record(id="req-lu-2", status="failure", error={"type": "APIError", "message": "boom"})
    try:
        exporter.enqueue(ok)
        exporter.enqueue(failed)
        assert await exporter.aflush()
    finally:
        await exporter.aclose()
    [req] = receiver.requests
    assert req.path == "/v1/runs/ingest"
    assert req.headers["Authorization"] == "Bearer pub-1"
    events = orjson.loads(req.body)["events"]
    assert [(e["type"], e["event"]) for e in events] == [
        ("llm", "start"),
        ("llm", "end"),
        ("llm", "start"),
        ("llm", "error"),
    ]
    start, end = events[0], events[1]
    assert start["runId"] == end["runId"] == event_uuid("req-lu-1", "lunary-run")
    assert start["name"] == "gpt-4o-mini" and start["userId"] == "customer-9"
    assert start["tags"] == ["prod", "chatbot"]
    assert start["params"] == {"temperature": 0.2, "max_tokens": 512, "top_p": 0.9}
    assert start["timestamp"] == "2025-11-29T07:06:40.250Z" and end["timestamp"] == "2025-11-29T07:06:41.750Z"
    assert start["metadata"]["response_cost"] == "0.000375"
    assert "input" not in start and "output" not in end  # content logging off
    assert end["tokensUsage"] == {"prompt": 1200, "completion": 300}
    assert events[3]["error"] == {"message": "boom", "stack": "APIError"}


async def test_helicone_custom_log(receiver: Receiver) -> None:
    env = {"HELICONE_API_KEY": "sk-helicone-1", "HELICONE_API_BASE": receiver.url}
    exporter = get_exporter("helicone", _config("helicone", env, content_logging=True))
    assert isinstance(exporter, HeliconeExporter)
    record = make_record(id="req-he-1", metadata={"Helicone-Property-Hello": "World"})
    try:
        exporter.enqueue(record)
        exporter.enqueue(
            make_record(status="failure", error={"type": "RateLimitError", "message": "slow", "status": 429})
        )
        assert await exporter.aflush()
    finally:
        await exporter.aclose()
    ok, failed = (orjson.loads(r.body) for r in receiver.requests)
    assert {r.path for r in receiver.requests} == {"/custom/v1/log"}
    assert receiver.requests[0].headers["Authorization"] == "Bearer sk-helicone-1"
    request, response = ok["providerRequest"], ok["providerResponse"]
    assert request["url"] == "custom-model-nopath"
    assert request["json"]["model"] == "gpt-4o-mini" and request["json"]["temperature"] == 0.2
    assert request["json"]["messages"] == [{"role": "user", "content": "secret prompt"}]
    assert request["meta"]["Helicone-Property-Hello"] == "World"
    assert request["meta"]["Helicone-Property-Request-Id"] == "req-he-1"
    assert request["meta"]["Helicone-User-Id"] == "customer-9"
    assert response["status"] == 200
    assert response["json"]["usage"] == {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
    }
    assert response["json"]["choices"][0]["message"]["content"] == "secret answer"
    assert ok["timing"] == {
        "startTime": {"seconds": 1764400000, "milliseconds": 250},
        "endTime": {"seconds": 1764400001, "milliseconds": 750},
        "timeToFirstToken": 250,
    }
    assert failed["providerResponse"]["status"] == 429
    assert failed["providerResponse"]["json"]["error"]["type"] == "RateLimitError"
