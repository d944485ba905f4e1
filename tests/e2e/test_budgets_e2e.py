"""Budgets and rate limits through the real proxy, with the official openai client and the simulator.

Proves (issue 7): 50 concurrent requests against a budget that fits 5 admit exactly 5 and the recorded
spend stays within the budget (the stated bound is zero: the simulator honours ``max_tokens``), on one
instance and on two instances sharing Redis and PostgreSQL; a budget resets after its period; the soft
budget alert is sent once; rate limits answer 429 with ``Retry-After`` and ``x-ratelimit-*``; a team key's
spend does not consume the user's personal budget; an unpriced model under a budget is refused.

The model ``metered`` costs $0 per input token and $0.00001 per output token and the simulator always
answers ``MAX_TOKENS`` output tokens, so a request's worst case equals its actual cost ($0.0001): the
count admitted does not depend on how the 50 requests interleave.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
import redis
import sqlalchemy as sa
from tests.budgets.receiver import Receiver, http_receiver
from tests.e2e.conftest import SIM_KEY, Proxy, _create_pg_database, _drop_pg_database, write_config

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator
from ledgerlm.store import tables

OUTPUT_PRICE = Decimal("0.00001")
MAX_TOKENS = 10
WORST = OUTPUT_PRICE * MAX_TOKENS  # $0.0001 per request, exactly its actual cost
MESSAGES = [{"role": "user", "content": "how much is this?"}]


def _sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def budget_models(sim_url: str) -> list[dict[str, Any]]:
    base = f"{sim_url}/v1"
    priced = {"input_cost_per_token": "0", "output_cost_per_token": str(OUTPUT_PRICE)}
    return [
        {
            "model_name": "metered",
            "litellm_params": {"model": "openai/sim-metered", "api_base": base, "api_key": SIM_KEY, **priced},
        },
        {
            "model_name": "metered-rpm1",
            "litellm_params": {
                "model": "openai/sim-metered",
                "api_base": base,
                "api_key": SIM_KEY,
                "rpm": 1,
                **priced,
            },
        },
        {
            "model_name": "mystery",
            "litellm_params": {"model": "openai/sim-mystery-model", "api_base": base, "api_key": SIM_KEY},
        },
    ]


@pytest.fixture(scope="module")
def metered(simulator: Simulator) -> Simulator:
    simulator.models["sim-metered"] = {"completion_tokens": MAX_TOKENS, "latency_ms": 20}
    return simulator


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A unique Redis key prefix, deleted after the test."""
    prefix = "{ledgerlm-e2e-" + uuid.uuid4().hex + "}"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def start(proxy_factory: Any, sim: Simulator, database_url: str, **budget: Any) -> Proxy:
    general = budget.pop("general_settings", {})
    proxy: Proxy = proxy_factory(
        database_url,
        model_list=budget_models(sim.url),
        budget_settings={"reset_interval_s": 0.2, **budget},
        general_settings=general,
    )
    return proxy


@pytest.fixture(scope="module")
def plain(database_url: str, proxy_factory: Any, metered: Simulator) -> Proxy:
    """One proxy with the default budget settings, shared by the tests that need nothing else."""
    return start(proxy_factory, metered, database_url)


def chat(
    proxy: Proxy, key: str, model: str = "metered", **extra: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) of one chat call through the official openai client."""
    client = proxy.client(key)
    try:
        raw = client.chat.completions.with_raw_response.create(
            model=model,
            messages=MESSAGES,
            max_tokens=MAX_TOKENS,
            **extra,  # type: ignore[arg-type]
        )
    except openai.APIStatusError as err:
        return err.status_code, err.response.json(), dict(err.response.headers)
    finally:
        client.close()
    return raw.status_code, raw.parse().model_dump(), dict(raw.headers)


def spend_rows(proxy: Proxy, key: str) -> list[dict[str, Any]]:
    return [r for r in proxy.rows(api_key=_sha(key)) if r["status"] == "success"]


def concurrent(
    proxies: list[Proxy], key: str, n: int = 50
) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda i: chat(proxies[i % len(proxies)], key), range(n)))


def assert_five_admitted(results: list[tuple[int, dict[str, Any], dict[str, str]]], budget: Decimal) -> None:
    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 5, statuses
    assert statuses.count(422) == 45, statuses
    refused = [body["error"] for status, body, _ in results if status == 422]
    assert {e["type"] for e in refused} == {"budget_exceeded"}
    assert f"max_budget ${budget.normalize()}" in refused[0]["message"]
    assert "resets at never" in refused[0]["message"]


def test_fifty_concurrent_requests_budget_fits_five(plain: Proxy) -> None:
    proxy = plain
    budget = WORST * Decimal("5.5")
    key = proxy.new_key(max_budget=str(budget), key_alias="fifty")
    results = concurrent([proxy], key)
    assert_five_admitted(results, budget)
    assert all("(alias 'fifty')" in body["error"]["message"] for status, body, _ in results if status == 422)
    proxy.wait_written()
    rows = spend_rows(proxy, key)
    assert len(rows) == 5
    assert sum(r["spend"] for r in rows) == 5 * WORST <= budget  # overshoot bound: zero
    info = proxy.ok("GET", f"/key/info?key={key}")
    assert Decimal(str(info["info"]["spend"])) == 5 * WORST


@pytest.fixture
def two_instances(
    postgres_url: str, metered: Simulator, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[tuple[Proxy, Proxy]]:
    """Two proxies (separate apps, counters and spend writers) on one new PostgreSQL database and one
    Redis prefix; both stopped before the database is dropped."""
    url, name = _create_pg_database(postgres_url)
    running: list[tuple[ServerThread, Proxy]] = []
    try:
        for i in range(2):
            folder = tmp_path / f"proxy{i}"
            folder.mkdir()
            path = write_config(
                folder / "config.yaml",
                metered.url,
                url,
                folder / "spool",
                model_list=budget_models(metered.url),
                budget_settings={"redis_prefix": redis_prefix},
                general_settings={"redis_url": redis_url},
            )
            app = create_app(path)
            server = ServerThread(app).start()
            running.append((server, Proxy(server.url, url, app)))
        yield running[0][1], running[1][1]
    finally:
        for server, proxy in running:
            server.stop()
            proxy.close()
        _drop_pg_database(postgres_url, name)


def test_two_instances_share_redis_and_postgres(
    two_instances: tuple[Proxy, Proxy], redis_url: str, redis_prefix: str
) -> None:
    first, second = two_instances
    budget = WORST * Decimal("5.5")
    key = first.new_key(max_budget=str(budget))
    assert_five_admitted(concurrent([first, second], key), budget)
    first.wait_written()
    second.wait_written()
    rows = spend_rows(first, key)
    assert len(rows) == 5 and sum(r["spend"] for r in rows) == 5 * WORST <= budget
    # both instances served some of the admitted requests or were refused: the budget was shared
    assert redis.Redis.from_url(redis_url).get(f"{redis_prefix}:sp:key:{_sha(key)}") == b"500000"


def test_team_key_spend_does_not_consume_personal_budget(plain: Proxy) -> None:
    proxy = plain
    user = f"u-{uuid.uuid4().hex[:8]}"
    proxy.ok(
        "POST",
        "/user/new",
        {"user_id": user, "max_budget": str(WORST * Decimal("1.5")), "auto_create_key": False},
    )
    team = proxy.new_team(max_budget="1")
    personal = proxy.new_key(user_id=user)
    team_key = proxy.new_key(user_id=user, team_id=team)
    assert chat(proxy, personal)[0] == 200
    status, body, _ = chat(proxy, personal)
    assert status == 422 and body["error"]["type"] == "budget_exceeded"
    assert f"user '{user}'" in body["error"]["message"]
    for _ in range(3):  # the user's personal budget is spent; the team key still works
        assert chat(proxy, team_key)[0] == 200
    proxy.wait_written()
    with proxy._db.connect() as conn:
        user_spend = conn.execute(
            sa.select(tables.users.c.spend).where(tables.users.c.user_id == user)
        ).scalar_one()
        team_spend = conn.execute(
            sa.select(tables.teams.c.spend).where(tables.teams.c.team_id == team)
        ).scalar_one()
    assert user_spend == WORST
    assert team_spend == 3 * WORST


def test_budget_resets_after_its_period(proxy_factory: Any, metered: Simulator, database_url: str) -> None:
    # limits are read fresh (no cache): the new period is seen at once, whichever instance reset it
    proxy = start(proxy_factory, metered, database_url, limits_cache_ttl_s=0)
    key = proxy.new_key(max_budget=str(WORST * Decimal("1.5")), budget_duration="1d")
    info = proxy.ok("GET", f"/key/info?key={key}")["info"]
    assert info["budget_reset_at"] is not None  # the next reset time is stored and shown
    assert chat(proxy, key)[0] == 200
    status, body, _ = chat(proxy, key)
    assert status == 422 and "budget resets at" in body["error"]["message"]
    proxy.wait_written()
    # move the clock: the period ended a second ago
    token = tables.verification_tokens
    ended = datetime.now(UTC) - timedelta(seconds=1)
    with proxy._db.begin() as conn:
        conn.execute(token.update().where(token.c.token == _sha(key)).values(budget_reset_at=ended))
    deadline = time.monotonic() + 20
    while True:
        with proxy._db.connect() as conn:
            row = conn.execute(
                sa.select(token.c.spend, token.c.budget_reset_at).where(token.c.token == _sha(key))
            ).one()
        if row.budget_reset_at > ended:
            break
        assert time.monotonic() < deadline, "the reset loop did not reset the key"
        time.sleep(0.05)
    assert row.spend == 0
    assert row.budget_reset_at == ended + timedelta(days=1)
    assert chat(proxy, key)[0] == 200
    proxy.wait_written()
    assert len(spend_rows(proxy, key)) == 2  # spend history is kept


async def _wait_for(receiver: Receiver, path: str, event: str) -> None:
    """Wait (on the receiver's event loop) until ``event`` arrived."""
    deadline = time.monotonic() + 20
    while not any(b.get("event") == event for b in receiver.at(path)):
        assert time.monotonic() < deadline, f"no {event} alert"
        await asyncio.sleep(0.02)


async def test_soft_budget_alert_sent_once(proxy_factory: Any, metered: Simulator, database_url: str) -> None:
    async with http_receiver() as receiver:
        alerts = {"webhook_urls": [receiver.url + "/hook"], "slack_webhook_urls": [receiver.url + "/slack"]}
        proxy = start(proxy_factory, metered, database_url, alerts=alerts)
        key = proxy.new_key(soft_budget=str(WORST * Decimal("1.5")), max_budget=str(WORST * 10))
        run = asyncio.get_running_loop().run_in_executor
        for _ in range(4):  # spend 2..4 x WORST: over the soft budget three times
            assert (await run(None, chat, proxy, key))[0] == 200
        await _wait_for(receiver, "/hook", "soft_budget")
        assert (await run(None, chat, proxy, key))[0] == 200  # 5 x WORST = 50% of max_budget
        await _wait_for(receiver, "/hook", "threshold_50")
        events = [b["event"] for b in receiver.at("/hook")]
        assert events.count("soft_budget") == 1
        soft = next(b for b in receiver.at("/hook") if b["event"] == "soft_budget")
        assert soft["entity_kind"] == "key" and Decimal(soft["limit"]) == WORST * Decimal("1.5")
        assert sum("reached soft budget" in b["text"] for b in receiver.at("/slack")) == 1


Result = tuple[int, dict[str, Any], dict[str, str]]


def limited_calls(proxy: Proxy, new_key: Any, model: str, n: int) -> list[Result]:
    """``n`` calls with a fresh key; done again (once) if a one-minute window ended between them."""
    for _ in range(2):
        key = new_key()
        results = [chat(proxy, key, model) for _ in range(n)]
        if results[-1][0] == 429:
            break
    return results


def test_rate_limits_answer_429_with_headers(plain: Proxy) -> None:
    proxy = plain
    first, second, third = limited_calls(proxy, lambda: proxy.new_key(rpm_limit=2), "metered", 3)
    status, _, headers = first
    assert status == 200 and second[0] == 200
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    status, body, headers = third
    assert status == 429
    assert body["error"]["type"] == "rate_limit_error" and "rpm_limit is 2" in body["error"]["message"]
    assert 1 <= int(headers["retry-after"]) <= 60
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "0"
    # a deployment's rpm from the config applies to every key
    ok, refused = limited_calls(proxy, proxy.new_key, "metered-rpm1", 2)
    assert ok[0] == 200
    status, body, headers = refused
    assert status == 429 and "deployment" in body["error"]["message"]
    assert headers["x-ratelimit-limit-requests"] == "1"


def test_unpriced_model_under_a_budget_is_refused(plain: Proxy) -> None:
    proxy = plain
    key = proxy.new_key(max_budget="1")
    status, body, _ = chat(proxy, key, "mystery")
    assert status == 403 and body["error"]["code"] == "unpriced_model"
    assert chat(proxy, proxy.new_key(), "mystery")[0] == 200  # no budget applies: admitted


def test_tag_budgets_from_routes_and_config(
    proxy_factory: Any, metered: Simulator, database_url: str
) -> None:
    cfg_tag, api_tag = f"cfg-{uuid.uuid4().hex[:6]}", f"api-{uuid.uuid4().hex[:6]}"
    fits_one = str(WORST * Decimal("1.5"))
    proxy = start(proxy_factory, metered, database_url, tags={cfg_tag: {"max_budget": fits_one}})
    created = proxy.ok("POST", "/tag/new", {"name": api_tag, "max_budget": fits_one, "budget_duration": "7d"})
    assert created["budget_reset_at"] is not None
    info = proxy.ok("GET", f"/tag/info?name={api_tag}&name={cfg_tag}")
    assert Decimal(str(info[api_tag]["max_budget"])) == Decimal(fits_one)
    assert Decimal(str(info[cfg_tag]["max_budget"])) == Decimal(fits_one)  # config tags are registered
    for tag in (api_tag, cfg_tag):
        key = proxy.new_key(metadata={"tags": [tag]})
        assert chat(proxy, key)[0] == 200
        status, body, _ = chat(proxy, key)
        assert status == 422 and f"tag '{tag}'" in body["error"]["message"]
    updated = proxy.ok("POST", "/tag/update", {"name": api_tag, "max_budget": "1"})
    assert Decimal(str(updated["max_budget"])) == 1
    assert proxy.request("GET", "/tag/info?name=no-such-tag")[0] == 404


def test_global_budget_from_litellm_settings(proxy_factory: Any, metered: Simulator, tmp_path: Any) -> None:
    proxy: Proxy = proxy_factory(
        f"sqlite:///{tmp_path}/global.db",
        model_list=budget_models(metered.url),
        litellm_settings={
            "num_retries": 0,
            "max_budget": str(WORST * Decimal("2.5")),
            "budget_duration": "30d",
        },
    )
    statuses = [chat(proxy, proxy.new_key())[0] for _ in range(3)]
    assert statuses == [200, 200, 422]
    status, body, _ = chat(proxy, proxy.new_key())
    assert status == 422 and "proxy (global budget)" in body["error"]["message"]


def test_streamed_calls_are_reserved_and_settled(plain: Proxy) -> None:
    proxy = plain
    key = proxy.new_key(max_budget=str(WORST * Decimal("1.5")))
    client = proxy.client(key)
    with client.chat.completions.create(
        model="metered",
        messages=MESSAGES,
        max_tokens=MAX_TOKENS,
        stream=True,  # type: ignore[arg-type]
    ) as stream:
        assert any(chunk.choices and chunk.choices[0].delta.content for chunk in stream)
    client.close()
    status, body, _ = chat(proxy, key)  # the streamed call's cost was settled: nothing left
    assert status == 422 and body["error"]["type"] == "budget_exceeded"
    assert "spend $0.0001 " in body["error"]["message"]


def test_end_user_budget_counts_whichever_key_carried_it(plain: Proxy) -> None:
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    plain.ok("POST", "/customer/new", {"user_id": customer, "max_budget": str(WORST * Decimal("1.5"))})
    first_key, second_key = plain.new_key(), plain.new_key()
    assert chat(plain, first_key, user=customer)[0] == 200
    status, body, _ = chat(plain, second_key, user=customer)  # another key, same end user
    assert status == 422 and f"end user '{customer}'" in body["error"]["message"]
    assert chat(plain, second_key)[0] == 200  # the key itself has no budget
