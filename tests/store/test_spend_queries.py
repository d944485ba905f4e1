"""Spend queries: log filters and pagination, per-tag spend, reports from the daily tables."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.record import CostRecord
from ledgerlm.store import keys, teams
from ledgerlm.store.spend_queries import LogFilter, count_logs, query_logs, spend_per_tag, spend_report

from .factories import uid
from .helpers import ingest, rows

DAY1 = datetime(2031, 3, 1, 23, 30, tzinfo=UTC).timestamp()  # distinct far-future days per module
DAY2 = datetime(2031, 3, 2, 0, 30, tzinfo=UTC).timestamp()
COST = Decimal("0.0002865")


async def _dataset(engine: AsyncEngine) -> dict[str, Any]:
    ids: dict[str, Any] = {
        "team": uid("team-"),
        "tag": uid("tag-"),
        "model": uid("model-"),
        "cust": uid("cust-"),
        "key": keys.hash_key(keys.generate_key()),
        "other_key": keys.hash_key(keys.generate_key()),
    }
    await teams.create_team(engine, ids["team"], {"team_alias": "Search team"})
    await keys.create_key(engine, ids["key"], {"key_alias": "search-prod", "team_id": ids["team"]})
    common = {"model_group": ids["model"], "team_id": ids["team"], "key_hash": ids["key"]}
    batch = (
        rows(3, start_time=DAY1, end_time=DAY1 + 1, request_tags=[ids["tag"]], end_user=ids["cust"], **common)
        + rows(2, start_time=DAY2, end_time=DAY2 + 1, request_tags=[ids["tag"], "b"], **common)
        + rows(1, start_time=DAY2, end_time=DAY2 + 1, status="failure", cost=CostRecord(), **common)
        + rows(4, start_time=DAY2, end_time=DAY2 + 1, model_group=ids["model"], key_hash=ids["other_key"])
    )
    await ingest(engine, batch)
    ids["batch"] = batch
    return ids


def _by_group(report: list[dict[str, Any]], group: Any) -> dict[str, Any]:
    (row,) = [row for row in report if row["group"] == group]
    return row


async def test_logs_filters_and_pagination(engine: AsyncEngine) -> None:
    ids = await _dataset(engine)
    team = LogFilter(team_id=ids["team"])
    assert await count_logs(engine, team) == 6
    page1 = await query_logs(engine, team, limit=4)
    page2 = await query_logs(engine, team, limit=4, offset=4)
    assert len(page1) == 4 and len(page2) == 2
    assert not {r["request_id"] for r in page1} & {r["request_id"] for r in page2}
    times = [r["startTime"] for r in page1 + page2]
    assert times == sorted(times, reverse=True)
    assert await count_logs(engine, LogFilter(tags=[ids["tag"]])) == 5
    assert await count_logs(engine, LogFilter(tags=[ids["tag"], "b"], team_id=ids["team"])) == 5
    assert await count_logs(engine, LogFilter(team_id=ids["team"], status="failure")) == 1
    assert await count_logs(engine, LogFilter(model=ids["model"])) == 10
    assert await count_logs(engine, LogFilter(end_user=ids["cust"])) == 3
    day1 = date(2031, 3, 1)
    assert await count_logs(engine, LogFilter(model=ids["model"], start=day1, end=day1)) == 3
    assert await count_logs(engine, LogFilter(model=ids["model"], start=date(2031, 3, 2))) == 7
    first = ids["batch"][0]["request_id"]
    (row,) = await query_logs(engine, LogFilter(request_id=first))
    assert row["spend"] == COST and row["api_key"] == ids["key"]


async def test_restriction_to_one_key_hides_other_rows(engine: AsyncEngine) -> None:
    ids = await _dataset(engine)
    mine = LogFilter(model=ids["model"], restrict_api_key=ids["key"])
    assert await count_logs(engine, mine) == 6
    other = LogFilter(api_key=ids["other_key"], restrict_api_key=ids["key"])
    assert await query_logs(engine, other) == []


@pytest.mark.parametrize("restricted", [False, True])
async def test_reports_match_the_rows(engine: AsyncEngine, restricted: bool) -> None:
    ids = await _dataset(engine)
    limit = ids["key"] if restricted else None
    span = {"start": date(2031, 3, 1), "end": date(2031, 3, 2), "restrict_api_key": limit}
    team = _by_group(await spend_report(engine, "team", **span), ids["team"])
    assert team["spend"] == COST * 5 and team["api_requests"] == 6
    assert team["failed_requests"] == 1 and team["unpriced_requests"] == 1 and team["label"] == "Search team"
    key = _by_group(await spend_report(engine, "api_key", **span), ids["key"])
    assert key["spend"] == COST * 5 and key["label"] == "search-prod"
    customer = _by_group(await spend_report(engine, "customer", **span), ids["cust"])
    assert customer["spend"] == COST * 3 and customer["prompt_tokens"] == 3000
    model = _by_group(await spend_report(engine, "model", **span), ids["model"])
    assert model["api_requests"] == (6 if restricted else 10)
    tag = _by_group(await spend_per_tag(engine, **span), ids["tag"])
    assert tag["spend"] == COST * 5 and tag["api_requests"] == 5
    days = await spend_report(engine, "day", **span)
    assert _by_group(days, date(2031, 3, 1))["api_requests"] >= 3


async def test_report_date_range_is_inclusive_utc_days(engine: AsyncEngine) -> None:
    ids = await _dataset(engine)
    only_day1 = await spend_report(engine, "team", start=date(2031, 3, 1), end=date(2031, 3, 1))
    assert _by_group(only_day1, ids["team"])["api_requests"] == 3
    with pytest.raises(ValueError, match="group_by"):
        await spend_report(engine, "galaxy")  # type: ignore[arg-type]


async def test_attempt_rows_count_spend_but_no_request(engine: AsyncEngine) -> None:
    """A routed request's earlier billable attempt (``<id>~attempt-<n>``, routing.attempts) adds its
    spend and tokens to every report, and no request to any counter."""
    team = uid("team-")
    await teams.create_team(engine, team, {"team_alias": "routed"})
    key = keys.hash_key(keys.generate_key())
    await keys.create_key(engine, key, {"team_id": team})
    request, attempt = rows(2, start_time=DAY1, end_time=DAY1 + 1, team_id=team, key_hash=key)
    attempt["request_id"] = f"{request['request_id']}~attempt-1"
    attempt["status"] = "failure"
    await ingest(engine, [request, attempt])
    span = {"start": date(2031, 3, 1), "end": date(2031, 3, 1)}
    for report in (
        await spend_report(engine, "team", **span),
        await spend_report(engine, "team", restrict_api_key=key, **span),
    ):
        row = _by_group(report, team)
        assert row["spend"] == 2 * COST
        assert (row["api_requests"], row["successful_requests"], row["failed_requests"]) == (1, 1, 0)
