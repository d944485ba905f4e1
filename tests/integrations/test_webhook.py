"""Generic webhook exporter against a real local HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from exporter_support import Captured, Receiver, make_record

from ledgerlm.integrations.events import to_export_dict
from ledgerlm.integrations.settings import BatchSettings
from ledgerlm.integrations.webhook import WebhookExporter, parse_header_list

FAST = {"flush_interval_s": 0.05, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_retries": 2}


@pytest.fixture
async def make_webhook(receiver: Receiver) -> AsyncIterator[Callable[..., WebhookExporter]]:
    made: list[WebhookExporter] = []

    def factory(**kwargs: Any) -> WebhookExporter:
        batch = {**FAST, **kwargs.pop("batch", {})}
        exporter = WebhookExporter(f"{receiver.url}/hook", settings=BatchSettings(**batch), **kwargs)
        made.append(exporter)
        return exporter

    yield factory
    for exporter in made:
        await exporter.aclose()


def _events(req: Captured) -> list[dict[str, Any]]:
    body = orjson.loads(req.body)
    assert isinstance(body, list)
    return body


async def test_batch_post_with_signature_and_idempotency_key(
    receiver: Receiver, make_webhook: Callable[..., WebhookExporter]
) -> None:
    exporter = make_webhook(signing_secret="s3cret", headers={"Authorization": "Bearer tok"})
    records = [make_record(id=f"req-{i}") for i in range(5)]
    for record in records:
        assert exporter.enqueue(record)
    assert await exporter.aflush()

    assert len(receiver.requests) == 1
    req = receiver.requests[0]
    assert req.path == "/hook"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Authorization"] == "Bearer tok"
    events = _events(req)
    assert [e["id"] for e in events] == [f"req-{i}" for i in range(5)]
    first = events[0]
    assert first["cost"]["total"] == "0.000375"
    assert first["usage"]["input_tokens"] == 1200
    assert first["team_id"] == "team-a"
    assert first["messages"] is None and first["response"] is None  # content logging is off
    expected_key = hashlib.sha256("".join(f"req-{i}\n" for i in range(5)).encode()).hexdigest()
    assert req.headers["Idempotency-Key"] == expected_key
    ts = req.headers["X-Ledgerlm-Timestamp"]
    mac = hmac.new(b"s3cret", f"{ts}.".encode() + req.body, hashlib.sha256).hexdigest()
    assert req.headers["X-Ledgerlm-Signature"] == f"sha256={mac}"
    assert exporter.stats()["sent"] == 5


async def test_content_only_when_enabled(
    receiver: Receiver, make_webhook: Callable[..., WebhookExporter]
) -> None:
    exporter = make_webhook(batch={"content_logging": True})
    exporter.enqueue(make_record())
    assert await exporter.aflush()
    event = _events(receiver.requests[0])[0]
    assert event["messages"] == [{"role": "user", "content": "secret prompt"}]
    assert event["response"]["choices"][0]["message"]["content"] == "secret answer"


async def test_event_types_and_ndjson(
    receiver: Receiver, make_webhook: Callable[..., WebhookExporter]
) -> None:
    exporter = make_webhook(event_types=["llm_api_failure"], log_format="ndjson")
    assert not exporter.enqueue(make_record(id="ok-1"))
    failed = make_record(id="bad-1", status="failure", error={"type": "RateLimitError", "message": "slow"})
    assert exporter.enqueue(failed)
    assert await exporter.aflush()
    req = receiver.requests[0]
    assert req.headers["Content-Type"] == "application/x-ndjson"
    lines = [orjson.loads(line) for line in req.body.splitlines()]
    assert [e["id"] for e in lines] == ["bad-1"]
    assert lines[0]["error"]["type"] == "RateLimitError"


async def test_4xx_is_dropped_without_retry(
    receiver: Receiver, make_webhook: Callable[..., WebhookExporter]
) -> None:
    receiver.status = lambda _req: 400
    exporter = make_webhook()
    for _ in range(3):
        exporter.enqueue(make_record())
    await exporter.aflush()
    assert len(receiver.requests) == 1
    stats = exporter.stats()
    assert stats["dropped"] == 3 and stats["retried"] == 0 and stats["sent"] == 0


async def test_429_then_5xx_are_retried(
    receiver: Receiver, make_webhook: Callable[..., WebhookExporter]
) -> None:
    answers = iter([429, 503])
    receiver.status = lambda _req: next(answers, 200)
    exporter = make_webhook()
    exporter.enqueue(make_record(id="r-1"))
    assert await exporter.aflush()
    assert len(receiver.requests) == 3
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {
        hashlib.sha256(b"r-1\n").hexdigest()
    }  # the same key on every resend
    stats = exporter.stats()
    assert stats["retried"] == 2 and stats["sent"] == 1 and stats["dropped"] == 0


def test_from_settings_reads_litellm_env(tmp_path: Path) -> None:
    env = {
        "GENERIC_LOGGER_ENDPOINT": "http://127.0.0.1:9/x",
        "GENERIC_LOGGER_HEADERS": "Authorization=Bearer abc, X-Team=ml",
        "LEDGERLM_EXPORT_SPOOL_DIR": str(tmp_path),
    }
    exporter = WebhookExporter.from_settings({"batch_size": 7}, env)
    assert exporter.endpoint == "http://127.0.0.1:9/x"
    assert exporter.headers == {"Authorization": "Bearer abc", "X-Team": "ml"}
    assert exporter.settings.batch_size == 7
    assert exporter.settings.spool_dir == tmp_path
    with pytest.raises(ValueError, match="GENERIC_LOGGER_ENDPOINT"):
        WebhookExporter.from_settings({}, {})
    assert parse_header_list({"A": 1}) == {"A": "1"}


async def test_secrets_are_scrubbed_and_the_export_form_is_shared(
    receiver: Receiver, make_webhook: Callable[..., WebhookExporter]
) -> None:
    leaked = "sk-proj-abcdefghijklmnop1234567890"
    record = make_record(
        status="failure", error={"type": "AuthenticationError", "message": f"bad key {leaked}"}
    )
    assert to_export_dict(record, content_logging=False) is to_export_dict(record, content_logging=False)
    exporter = make_webhook()
    exporter.enqueue(record)
    assert await exporter.aflush()
    body = receiver.requests[0].body.decode()
    assert leaked not in body
    assert _events(receiver.requests[0])[0]["error"]["message"].startswith("bad key [REDACTED]")
