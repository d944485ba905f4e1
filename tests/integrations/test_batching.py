"""The batching base (through the webhook exporter) against a real receiver: outages, overload, dedupe.

Fast retry settings stand in for real ones: the tests prove the mechanism (spill, replay, order, no
loss, no blocking), not the durations.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from exporter_support import Receiver, make_record, wait_until

from ledgerlm.integrations.settings import BatchSettings
from ledgerlm.integrations.webhook import WebhookExporter

FAST: dict[str, Any] = {
    "flush_interval_s": 0.02,
    "backoff_initial_s": 0.01,
    "backoff_max_s": 0.05,
    "max_retries": 2,
    "request_timeout_s": 5.0,
}


def _received_ids(receiver: Receiver) -> list[str]:
    return [e["id"] for r in receiver.requests if r.body for e in orjson.loads(r.body)]


async def test_outage_then_recovery_loses_nothing(receiver: Receiver, tmp_path: Path) -> None:
    settings = BatchSettings(**FAST, batch_size=10, spool_dir=tmp_path)
    exporter = WebhookExporter(f"{receiver.url}/hook", settings=settings)
    try:
        await receiver.stop()  # backend down: connection refused
        ids = [f"req-{i:03d}" for i in range(45)]
        for record_id in ids[:30]:
            assert exporter.enqueue(make_record(id=record_id))
        await wait_until(lambda: exporter.stats()["spilled"] >= 30)
        for record_id in ids[30:]:  # more calls while the backend is still down
            assert exporter.enqueue(make_record(id=record_id))
        await wait_until(lambda: exporter.stats()["spilled"] == 45 and exporter.stats()["queued"] == 0)
        assert exporter.stats()["sent"] == 0

        await receiver.start()  # same port: the backend is back
        await wait_until(lambda: len(_received_ids(receiver)) >= 45)
        assert await exporter.aflush()
    finally:
        await exporter.aclose()

    got = _received_ids(receiver)
    assert got == ids  # everything, once, in order
    stats = exporter.stats()
    assert stats["sent"] == 45 and stats["replayed"] == 45
    assert stats["dropped"] == 0 and stats["spool_bytes"] == 0
    assert not list((tmp_path / "generic_api").glob("*.jsonl"))


async def test_spool_survives_a_restart(receiver: Receiver, tmp_path: Path) -> None:
    settings = BatchSettings(**FAST, batch_size=5, spool_dir=tmp_path)
    await receiver.stop()
    first = WebhookExporter(f"{receiver.url}/hook", settings=settings)
    for i in range(12):
        first.enqueue(make_record(id=f"r-{i:02d}"))
    await first.aclose()  # backend down at shutdown: the queue goes to disk
    assert first.stats()["spilled"] == 12 and first.stats()["dropped"] == 0

    await receiver.start()
    second = WebhookExporter(f"{receiver.url}/hook", settings=settings)
    try:
        second.enqueue(make_record(id="r-new"))
        await wait_until(lambda: len(_received_ids(receiver)) >= 13)
    finally:
        await second.aclose()
    assert _received_ids(receiver) == [f"r-{i:02d}" for i in range(12)] + ["r-new"]


async def test_failing_backend_never_blocks_enqueue(receiver: Receiver, tmp_path: Path) -> None:
    """A backend that hangs then answers 500 forever: enqueue keeps returning at once.

    The receiver runs on this test's event loop and holds every request until ``gate`` opens; if
    ``enqueue`` waited on the network at all, this test would deadlock instead of finishing.
    """
    gate = asyncio.Event()
    in_flight: list[int] = []

    async def hanging(request: web.Request) -> web.Response:
        in_flight.append(1)
        await gate.wait()
        return web.Response(status=500)

    await receiver.stop()
    app = web.Application()
    app.router.add_post("/hook", hanging)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port, reuse_address=True).start()

    no_timeout = {**FAST, "request_timeout_s": 120.0}  # the hanging request stays in flight
    settings = BatchSettings(
        **no_timeout, batch_size=10, max_queue=100, spool_dir=tmp_path, max_spool_bytes=200_000
    )
    exporter = WebhookExporter(f"http://127.0.0.1:{receiver.port}/hook", settings=settings)
    try:
        exporter.enqueue(make_record())
        await wait_until(lambda: len(in_flight) >= 1)  # the worker is stuck on the backend
        results = [exporter.enqueue(make_record()) for _ in range(2000)]
        assert not gate.is_set() and len(in_flight) == 1  # still stuck, yet every enqueue returned
        stats = exporter.stats()
        assert stats["enqueued"] == 2001
        assert stats["queued"] <= settings.max_queue + 1
        assert stats["spilled"] > 0 and stats["dropped"] > 0  # the overflow went to disk until full
        assert results.count(True) == 2000 - stats["dropped"]
        assert stats["spool_bytes"] <= settings.max_spool_bytes
    finally:
        gate.set()
        await exporter.aclose()
        await runner.cleanup()
    assert exporter.stats()["sent"] == 0


async def test_each_record_is_delivered_once(receiver: Receiver) -> None:
    exporter = WebhookExporter(f"{receiver.url}/hook", settings=BatchSettings(**FAST))
    record = make_record(id="dup-1")
    kwargs = {"standard_logging_object": record}
    try:
        await exporter.async_log_success_event(kwargs, None, 0.0, 1.0)
        exporter.log_success_event(kwargs, None, 0.0, 1.0)  # a dispatcher calling both hooks
        assert not exporter.enqueue(record)
        await exporter.async_log_success_event({}, None, 0.0, 1.0)  # no record: ignored
        assert await exporter.aflush()
    finally:
        await exporter.aclose()
    assert _received_ids(receiver) == ["dup-1"]
    assert exporter.stats()["duplicates"] == 2


async def test_without_spool_a_dead_backend_drops_and_counts(receiver: Receiver) -> None:
    receiver.status = lambda _req: 503
    exporter = WebhookExporter(f"{receiver.url}/hook", settings=BatchSettings(**FAST, batch_size=4))
    try:
        for _ in range(4):
            exporter.enqueue(make_record())
        await wait_until(lambda: exporter.stats()["dropped"] == 4)
    finally:
        await exporter.aclose()
    stats = exporter.stats()
    assert len(receiver.requests) == FAST["max_retries"] + 1
    assert stats["retried"] == FAST["max_retries"] and stats["sent"] == 0


async def test_events_after_close_go_to_the_spool(receiver: Receiver, tmp_path: Path) -> None:
    settings = BatchSettings(**FAST, spool_dir=tmp_path)
    exporter = WebhookExporter(f"{receiver.url}/hook", settings=settings)
    exporter.enqueue(make_record(id="before"))
    await exporter.aclose()
    assert exporter.enqueue(make_record(id="after"))  # a late event is kept on disk, not lost
    assert exporter.stats()["spilled"] == 1 and exporter.stats()["queued"] == 0

    again = WebhookExporter(f"{receiver.url}/hook", settings=settings)
    try:
        again.enqueue(make_record(id="next"))
        await wait_until(lambda: len(_received_ids(receiver)) >= 3)
    finally:
        await again.aclose()
    assert _received_ids(receiver) == ["before", "after", "next"]
