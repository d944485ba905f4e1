"""Streams through the router, proven on the ledger: a stream that breaks before the client's first byte
is retried and falls back like a plain call; one that fails after it is not retried; every attempt the
providers billed is a spend row linked to the client request, the reports count the request once, and
the ledger's spend equals what the simulators billed. Streamed tokens count toward the deployment's tpm.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
from tests.routing.harness import RoutedProxy, deployment

from ledgerlm.routing.state import RedisState
from ledgerlm.simulator import Simulator

PRICES = {"input_cost_per_token": 1e-6, "output_cost_per_token": 2e-6}
RATES = {"input": Decimal("0.000001"), "cached_input": Decimal("0.000001"), "output": Decimal("0.000002")}


def billed(*sims: Simulator) -> Decimal:
    """USD the simulators billed, at ``PRICES``."""
    return sum(
        (
            sum((RATES[k] * n for k, n in c.counts.items() if n), Decimal(0))
            for s in sims
            for c in s.state.billing.calls
        ),
        Decimal(0),
    )


@pytest.fixture(scope="module")
def sims() -> Iterator[dict[str, Simulator]]:
    with (
        Simulator(
            models={
                "early": {"break_after_chunks": 0, "completion_tokens": 0},
                "stall": {"stall_after_chunks": 0, "completion_tokens": 0},
            }
        ) as early,
        Simulator(
            models={
                "late": {"content": "alpha beta", "stream_error_after_chunks": 5, "chunk_interval_ms": 30},
                "cut": {"content": "alpha beta gamma", "break_after_chunks": 3, "chunk_interval_ms": 30},
            }
        ) as late,
        Simulator(models={"fine": {"completion_tokens": 5}}) as fine,
    ):
        yield {"early": early, "late": late, "fine": fine}


@pytest.fixture()
def proxy(tmp_path: Path, sims: dict[str, Simulator]) -> Iterator[RoutedProxy]:
    for sim in sims.values():
        sim.reset()
    model_list = [
        deployment("primary", sims["early"].url, "early", **PRICES),
        deployment("late", sims["late"].url, "late", **PRICES),
        deployment("cut", sims["late"].url, "cut", **PRICES),
        deployment("backup", sims["fine"].url, "fine", **PRICES, tpm=100_000),
        deployment("stalls", sims["early"].url, "stall", stream_timeout=0.5, **PRICES),
    ]
    fallbacks = [{"primary": ["backup"]}, {"late": ["backup"]}, {"stalls": ["backup"]}, {"cut": ["backup"]}]
    settings = {"num_retries": 1, "fallbacks": fallbacks}
    running = RoutedProxy(tmp_path, model_list, router_settings=settings)
    yield running
    running.close()


def _stream(proxy: RoutedProxy, model: str) -> tuple[Any, list[Any]]:
    raw = proxy.client().chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hello there"}], stream=True
    )
    return raw, list(raw.parse())


def _spend(rows: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(r["spend"])) for r in rows), Decimal(0))


def test_break_before_first_byte_retries_then_falls_back(
    proxy: RoutedProxy, sims: dict[str, Simulator]
) -> None:
    raw, chunks = _stream(proxy, "primary")
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and raw.headers["x-litellm-model-group"] == "backup"
    assert raw.headers["x-litellm-attempted-fallbacks"] == "1"
    assert len(sims["early"].requests) == 2 and len(sims["fine"].requests) == 1
    rid = raw.headers["x-request-id"]
    rows = {r["request_id"]: r for r in proxy.rows()}
    assert set(rows) == {rid, f"{rid}~attempt-1", f"{rid}~attempt-2"}
    final = rows[rid]
    assert final["status"] == "success" and final["model_group"] == "backup"
    routing = final["metadata"]["request_metadata"]["routing"]
    assert routing["attempts"] == 3 and routing["attempted_fallbacks"] == 1
    assert routing["billable_attempts"] == [f"{rid}~attempt-1", f"{rid}~attempt-2"]
    for n in (1, 2):
        attempt = rows[f"{rid}~attempt-{n}"]
        assert attempt["status"] == "failure" and attempt["prompt_tokens"] == 6
        assert attempt["metadata"]["request_metadata"]["client_request_id"] == rid
    assert _spend(list(rows.values())) == billed(*sims.values()) > 0, "spend = what providers billed"
    _reports_count_one_request(proxy, rid, _spend(list(rows.values())))


def _reports_count_one_request(proxy: RoutedProxy, rid: str, spend: Decimal) -> None:
    assert [r["request_id"] for r in proxy.admin("GET", f"/spend/logs?request_id={rid}")] == [rid]
    today = datetime.now(UTC).date().isoformat()
    report = proxy.admin(
        "GET", f"/global/spend/report/v2?group_by=api_key&start_date={today}&end_date={today}"
    )
    (group,) = report["data"]
    assert group["api_requests"] == 1
    assert Decimal(str(group["spend"])) == spend


def test_failure_after_first_byte_is_not_retried_and_keeps_its_usage(
    proxy: RoutedProxy, sims: dict[str, Simulator]
) -> None:
    with pytest.raises(openai.APIError):
        _stream(proxy, "late")
    assert len(sims["late"].requests) == 1 and not sims["fine"].requests, "no retry after the first byte"
    (row,) = proxy.rows()
    assert row["status"] == "failure" and row["completion_tokens"] > 0
    assert "~attempt-" not in row["request_id"]
    assert Decimal(str(row["spend"])) == billed(*sims.values()) > 0, "the usage the provider reported"


def test_streamed_tokens_count_toward_tpm(proxy: RoutedProxy) -> None:
    router = proxy.app.state.proxy.router
    (entry,) = router.resolve("backup").entries
    _, chunks = _stream(proxy, "backup")
    assert chunks
    row = proxy.rows()[0]
    stats = asyncio.run(router.stats([entry]))[entry.id]  # in-process state: no loop of its own
    assert stats.tpm == row["total_tokens"] > 0
    assert stats.busy == 0, "in flight until the stream ended, then released"


def test_stall_before_first_byte_times_out_then_falls_back(
    proxy: RoutedProxy, sims: dict[str, Simulator]
) -> None:
    started = time.perf_counter()
    raw, chunks = _stream(proxy, "stalls")
    assert chunks and raw.headers["x-litellm-model-group"] == "backup"
    assert time.perf_counter() - started < 10, "stream_timeout (0.5 s) ended each stalled attempt"
    assert len(sims["early"].requests) == 2 and len(sims["fine"].requests) == 1
    rid = raw.headers["x-request-id"]
    rows = {r["request_id"]: r for r in proxy.rows()}
    assert set(rows) == {rid, f"{rid}~attempt-1", f"{rid}~attempt-2"}
    assert _spend(list(rows.values())) == billed(*sims.values())


def test_break_after_first_byte_keeps_an_estimated_usage(
    proxy: RoutedProxy, sims: dict[str, Simulator]
) -> None:
    with pytest.raises(openai.APIError):
        _stream(proxy, "cut")
    assert len(sims["late"].requests) == 1 and not sims["fine"].requests, "no retry after the first byte"
    (row,) = proxy.rows()
    assert row["status"] == "failure" and "~attempt-" not in row["request_id"]
    assert row["prompt_tokens"] == 6 and row["completion_tokens"] >= 1, "the estimate: prompt + deltas seen"
    assert Decimal(str(row["spend"])) > 0


def test_streamed_tokens_reach_the_shared_state(
    tmp_path: Path, sims: dict[str, Simulator], redis_url: str
) -> None:
    ident = f"shared-{uuid.uuid4().hex[:8]}"
    model_list = [deployment("backup", sims["fine"].url, "fine", info={"id": ident}, **PRICES)]
    running = RoutedProxy(tmp_path, model_list, router_settings={"redis_url": redis_url})
    try:
        _, chunks = _stream(running, "backup")
        assert chunks
        row = running.rows()[0]
        time.sleep(0.2)  # usage updates reach Redis in the background

        async def read() -> Any:
            other = RedisState(redis_url)  # what another instance sees
            try:
                return (await other.stats([ident]))[ident]
            finally:
                await other.close()

        stats = asyncio.run(read())
        assert stats.tpm == row["total_tokens"] > 0 and stats.busy == 0 and stats.rpm == 1
    finally:
        running.close()
