"""``ledgerlm.ticker.Ticker``: ticks every interval, a failing tick is logged and the next one runs,
``start`` is idempotent, ``stop`` ends the task."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ledgerlm.ticker import Ticker


async def test_ticks_retry_after_a_failure_and_stop(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []

    async def tick() -> None:
        calls.append(len(calls))
        if len(calls) == 2:
            raise RuntimeError("database down")

    ticker = Ticker("unit-tick", 0.01, tick)
    with caplog.at_level(logging.ERROR, logger="ledgerlm"):
        ticker.start()
        ticker.start()  # idempotent: still one task
        await asyncio.sleep(0.08)
        await ticker.stop()
    seen = len(calls)
    assert seen >= 4, calls  # the tick after the failure ran
    assert "unit-tick failed" in caplog.text and "database down" in caplog.text
    assert not ticker.running
    await asyncio.sleep(0.03)
    assert len(calls) == seen  # stopped: no more ticks


async def test_quiet_ticker_logs_one_line_and_first_delay(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []
    loop = asyncio.get_running_loop()
    started = loop.time()

    async def tick() -> None:
        calls.append(loop.time() - started)
        raise ConnectionError("redis gone")

    ticker = Ticker("quiet-tick", 1.0, tick, quiet=True, first_delay_s=0.05)
    with caplog.at_level(logging.WARNING, logger="ledgerlm"):
        ticker.start()
        await asyncio.sleep(0.1)
        await ticker.stop()
    assert len(calls) == 1 and calls[0] >= 0.05
    assert "quiet-tick failed (redis gone)" in caplog.text and "Traceback" not in caplog.text
