"""Ingest: idempotent rows, totals equal to the sum of rows, daily tables consistent, attribution rule."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.record import CostRecord, ErrorRecord
from ledgerlm.store import SpendLog, customers, keys, organizations, rollup_deltas, tags, teams, users
from ledgerlm.store.tables import (
    daily_end_user_totals,
    daily_key_spend,
    daily_key_totals,
    daily_model_spend,
    daily_tag_totals,
    daily_team_spend,
    daily_team_totals,
    daily_user_spend,
    daily_user_totals,
    spend_log_tags,
    spend_logs,
)

from .factories import make_record, uid
from .helpers import count_rows, ingest, rows, scalar, sum_spend


async def _setup_entities(engine: AsyncEngine) -> dict[str, str]:
    ids = {"team": uid("team-"), "user": uid("user-"), "org": uid("org-"), "tag": uid("tag-")}
    await organizations.create_organization(engine, ids["org"])
    await teams.create_team(engine, ids["team"], {"organization_id": ids["org"]})
    await users.create_user(engine, ids["user"])
    await tags.create_tag(engine, ids["tag"])
    ids["team_key"] = keys.hash_key(keys.generate_key())
    ids["own_key"] = keys.hash_key(keys.generate_key())
    await keys.create_key(engine, ids["team_key"], {"team_id": ids["team"], "user_id": ids["user"]})
    await keys.create_key(engine, ids["own_key"], {"user_id": ids["user"]})
    return ids


def _traffic(ids: dict[str, str]) -> list[dict[str, object]]:
    end_user = uid("cust-")
    team_rows = rows(
        7,
        key_hash=ids["team_key"],
        team_id=ids["team"],
        organization_id=ids["org"],
        user_id=ids["user"],
        end_user=end_user,
        request_tags=[ids["tag"], "env:test"],
    )
    own_rows = rows(
        5, key_hash=ids["own_key"], user_id=ids["user"], end_user=end_user, request_tags=[ids["tag"]]
    )
    unpriced = rows(
        2,
        key_hash=ids["own_key"],
        user_id=ids["user"],
        cost=CostRecord(total=None, unpriced_reason="no price for model"),
    )
    failed = rows(
        1,
        key_hash=ids["team_key"],
        team_id=ids["team"],
        status="failure",
        cost=CostRecord(total="0"),
        error=ErrorRecord(type="api_error", status=500, message="upstream 500"),
    )
    ids["end_user"] = end_user
    return team_rows + own_rows + unpriced + failed


async def test_replay_is_idempotent_and_totals_equal_sum_of_rows(engine: AsyncEngine) -> None:
    ids = await _setup_entities(engine)
    batch = _traffic(ids)
    first = await ingest(engine, batch)
    assert sorted(first) == sorted(row["request_id"] for row in batch)
    assert await ingest(engine, batch) == []  # replay: nothing inserted
    assert await ingest(engine, batch[:3] + rows(0)) == []

    ids_in = spend_logs.c.request_id.in_(first)
    assert await count_rows(engine, ids_in) == len(batch)
    team_key = await keys.get_key(engine, ids["team_key"])
    own_key = await keys.get_key(engine, ids["own_key"])
    assert team_key is not None and own_key is not None
    assert team_key["spend"] == await sum_spend(engine, spend_logs.c.api_key == ids["team_key"])
    assert own_key["spend"] == await sum_spend(engine, spend_logs.c.api_key == ids["own_key"])
    assert team_key["spend"] == Decimal("0.0002865") * 7
    team = await teams.get_team(engine, ids["team"])
    org = await organizations.get_organization(engine, ids["org"])
    assert team is not None and org is not None
    assert team["spend"] == await sum_spend(engine, spend_logs.c.team_id == ids["team"])
    assert org["spend"] == await sum_spend(engine, spend_logs.c.organization_id == ids["org"])
    customer = await customers.get_customer(engine, ids["end_user"])
    assert customer is not None
    assert customer["spend"] == await sum_spend(engine, spend_logs.c.end_user == ids["end_user"])
    tag = await tags.get_tag(engine, ids["tag"])
    assert tag is not None and tag["spend"] == Decimal("0.0002865") * 12


async def test_team_key_spend_does_not_count_toward_users_personal_budget(engine: AsyncEngine) -> None:
    ids = await _setup_entities(engine)
    await ingest(engine, _traffic(ids))
    user = await users.get_user(engine, ids["user"])
    assert user is not None
    personal = await sum_spend(engine, spend_logs.c.user == ids["user"], spend_logs.c.team_id.is_(None))
    everything = await sum_spend(engine, spend_logs.c.user == ids["user"])
    assert user["spend"] == personal == Decimal("0.0002865") * 5
    assert everything > personal


async def test_unpriced_rows_store_null_spend_and_failures_status(engine: AsyncEngine) -> None:
    ids = await _setup_entities(engine)
    batch = _traffic(ids)
    await ingest(engine, batch)
    ids_in = spend_logs.c.request_id.in_([row["request_id"] for row in batch])
    assert await count_rows(engine, ids_in, spend_logs.c.spend.is_(None)) == 2
    assert await count_rows(engine, ids_in, spend_logs.c.status == "failure") == 1
    async with engine.connect() as conn:
        failure = (
            (await conn.execute(sa.select(spend_logs).where(ids_in, spend_logs.c.status == "failure")))
            .mappings()
            .one()
        )
        unpriced = (
            (await conn.execute(sa.select(spend_logs).where(ids_in, spend_logs.c.spend.is_(None))))
            .mappings()
            .first()
        )
    assert failure["metadata"]["error"] == {"type": "api_error", "status": 500, "message": "upstream 500"}
    assert failure["spend"] == Decimal(0)
    assert unpriced is not None and unpriced["metadata"]["cost"]["unpriced_reason"] == "no price for model"


async def test_daily_tables_match_rows(engine: AsyncEngine) -> None:
    ids = await _setup_entities(engine)
    batch = _traffic(ids)
    await ingest(engine, batch)
    await ingest(engine, batch)
    checks = [
        (daily_key_spend, daily_key_spend.c.api_key, spend_logs.c.api_key, ids["team_key"]),
        (daily_user_spend, daily_user_spend.c.user_id, spend_logs.c.user, ids["user"]),
        (daily_team_spend, daily_team_spend.c.team_id, spend_logs.c.team_id, ids["team"]),
        (daily_key_totals, daily_key_totals.c.api_key, spend_logs.c.api_key, ids["team_key"]),
        (daily_user_totals, daily_user_totals.c.user_id, spend_logs.c.user, ids["user"]),
        (daily_team_totals, daily_team_totals.c.team_id, spend_logs.c.team_id, ids["team"]),
        (daily_end_user_totals, daily_end_user_totals.c.end_user, spend_logs.c.end_user, ids["end_user"]),
    ]
    # PostgreSQL: first with the batches' rollup deltas pending (read through the view), then folded
    for folded in (False, True):
        if folded:
            await rollup_deltas.fold(engine)
        for table, entity, column, value in checks:
            source = table if folded else rollup_deltas.readable(table)
            where = source.c[entity.name] == value
            spend = await scalar(engine, sa.select(sa.func.sum(source.c.spend)).where(where))
            requests = await scalar(engine, sa.select(sa.func.sum(source.c.api_requests)).where(where))
            failed = await scalar(engine, sa.select(sa.func.sum(source.c.failed_requests)).where(where))
            assert spend == await sum_spend(engine, column == value), (table.name, folded)
            assert requests == await count_rows(engine, column == value), table.name
            assert failed == await count_rows(engine, column == value, spend_logs.c.status == "failure")
    tagged = sa.select(spend_log_tags.c.request_id).where(spend_log_tags.c.tag == ids["tag"])
    tag_spend = await scalar(
        engine, sa.select(sa.func.sum(daily_tag_totals.c.spend)).where(daily_tag_totals.c.tag == ids["tag"])
    )
    assert tag_spend == await sum_spend(engine, spend_logs.c.request_id.in_(tagged))
    tokens = await scalar(
        engine,
        sa.select(sa.func.sum(daily_tag_totals.c.prompt_tokens)).where(daily_tag_totals.c.tag == ids["tag"]),
    )
    assert tokens == 12 * 1000  # 7 team-key rows + 5 own-key rows carry the tag


async def test_daily_model_table_counts_unpriced_requests(engine: AsyncEngine) -> None:
    model = uid("model-")
    await ingest(engine, rows(3, model_group=model) + rows(2, model_group=model, cost=CostRecord()))
    await rollup_deltas.fold(engine)
    async with engine.connect() as conn:
        day = (
            (await conn.execute(sa.select(daily_model_spend).where(daily_model_spend.c.model == model)))
            .mappings()
            .one()
        )
    assert day["api_requests"] == 5 and day["unpriced_requests"] == 2
    assert day["spend"] == Decimal("0.0002865") * 3


async def test_prompts_stored_only_when_enabled(engine: AsyncEngine) -> None:
    off = SpendLog.from_record(make_record(), store_prompts=False)
    on = SpendLog.from_record(make_record(), store_prompts=True)
    await ingest(engine, [off, on])
    async with engine.connect() as conn:
        result = await conn.execute(
            sa.select(spend_logs.c.request_id, spend_logs.c.messages, spend_logs.c.response).where(
                spend_logs.c.request_id.in_([off["request_id"], on["request_id"]])
            )
        )
        stored = {row.request_id: (row.messages, row.response) for row in result}
    assert stored[off["request_id"]] == (None, None)
    assert stored[on["request_id"]][0] == [{"role": "user", "content": "hello"}]


async def test_raw_virtual_key_is_never_stored(engine: AsyncEngine) -> None:
    raw = keys.generate_key()
    row = SpendLog.from_record(make_record(key_hash=raw), store_prompts=False)
    await ingest(engine, [row])
    stored = await scalar(
        engine, sa.select(spend_logs.c.api_key).where(spend_logs.c.request_id == row["request_id"])
    )
    assert stored == keys.hash_key(raw) and raw not in str(row)


async def test_exact_money_survives_the_round_trip(engine: AsyncEngine) -> None:
    batch = rows(3, cost=CostRecord(total="0.0000000001"))
    await ingest(engine, batch)
    total = await sum_spend(engine, spend_logs.c.request_id.in_([row["request_id"] for row in batch]))
    assert total == Decimal("0.0000000003")
