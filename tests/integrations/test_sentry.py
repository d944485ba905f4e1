"""Sentry exporter against a real local HTTP receiver posing as the DSN's ingest endpoint.

The receiver (a real aiohttp server) takes the envelopes the exporter POSTs; the test decodes them
with sentry-sdk's own ``Envelope.deserialize`` (what Sentry's relay parses).
"""

from __future__ import annotations

from typing import Any

import pytest
from exporter_support import Receiver, make_record
from sentry_sdk.envelope import Envelope

from ledgerlm.integrations import get_exporter
from ledgerlm.integrations.sentry import SentryExporter

FAST = {"flush_interval_s": 0.02, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_retries": 2}


def _events(receiver: Receiver) -> list[dict[str, Any]]:
    out = []
    for req in receiver.requests:
        envelope = Envelope.deserialize(req.body)
        event = envelope.get_event()
        assert event is not None
        out.append(event)
    return out


async def test_failures_become_sentry_events_with_tags(receiver: Receiver) -> None:
    dsn = f"http://publickey123@127.0.0.1:{receiver.port}/42"
    exporter = SentryExporter.from_settings(
        {**FAST, "environment": "prod"}, {"SENTRY_DSN": dsn, "SENTRY_RELEASE": "1.2.3"}
    )
    failure = make_record(
        id="req-sentry-1",
        status="failure",
        error={
            "type": "RateLimitError",
            "message": "429 from upstream sk-abcdefghijklmnopqrstuvwx",
            "status": 429,
        },
    )
    try:
        assert exporter.enqueue(make_record(id="req-ok")) is False  # successes are not sent
        assert exporter.enqueue(failure)
        assert exporter.enqueue(failure) is False  # the same call once
        assert await exporter.aflush()
    finally:
        await exporter.aclose()

    [req] = receiver.requests
    assert req.path == "/api/42/envelope/"
    assert "sentry_key=publickey123" in req.headers["X-Sentry-Auth"]
    assert "sentry_version=7" in req.headers["X-Sentry-Auth"]
    [event] = _events(receiver)
    assert event["level"] == "error"
    assert event["tags"]["model"] == "gpt-4o-mini"
    assert event["tags"]["key_alias"] == "svc-chat"
    assert event["tags"]["team"] == "team-a"
    assert event["tags"]["request_id"] == "req-sentry-1"
    assert event["tags"]["status_code"] == "429"
    [exc] = event["exception"]["values"]
    assert exc["type"] == "RateLimitError"
    assert "sk-abcdefghijklmnopqrstuvwx" not in exc["value"]  # secrets scrubbed
    assert event["environment"] == "prod" and event["release"] == "1.2.3"
    assert event["extra"]["response_cost"] == "0.000375"
    assert "secret prompt" not in req.body.decode()


async def test_retried_then_delivered_once_and_alert(receiver: Receiver) -> None:
    calls = {"n": 0}

    def status(_req: Any) -> int:
        calls["n"] += 1
        return 503 if calls["n"] == 1 else 200

    receiver.status = status
    exporter = get_exporter(
        "sentry",
        {
            "callback_settings": {"sentry": FAST},
            "environment_variables": {"SENTRY_DSN": f"http://k@127.0.0.1:{receiver.port}/7"},
        },
    )
    assert isinstance(exporter, SentryExporter)
    try:
        exporter.enqueue(make_record(status="failure", error={"type": "Timeout", "message": "deadline"}))
        assert exporter.alert("team Search's budget runs out on 2026-12-19", key="forecast|team|search")
        assert await exporter.aflush()
    finally:
        await exporter.aclose()
    events = _events(receiver)
    ids = [e["event_id"] for e in events]
    assert len(ids) == 3 and len(set(ids)) == 2  # the 503'd envelope was resent with the same id
    alert = next(e for e in events if e["level"] == "warning")
    assert alert["message"]["formatted"] == "team Search's budget runs out on 2026-12-19"
    assert exporter.stats()["retried"] == 1


def test_sample_rate_and_missing_dsn() -> None:
    with pytest.raises(ValueError, match="SENTRY_DSN"):
        SentryExporter.from_settings({}, {})
    exporter = SentryExporter.from_settings(
        {}, {"SENTRY_DSN": "http://k@127.0.0.1:9/1", "SENTRY_API_SAMPLE_RATE": "0"}
    )
    assert exporter.accepts({"id": "x", "status": "failure"}) is False
    exporter.sample_rate = 1.0
    assert exporter.accepts({"id": "x", "status": "failure"}) is True
