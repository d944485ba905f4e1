"""The overview's groups read full ISO weeks from the weekly rollups and the edge days from the daily
ones (issue 21); whatever the range, they equal the sums over the spend rows. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog
from ledgerlm.store.dashboard import OverviewQuery, Visible, overview, week_tiers

from .factories import make_record, uid
from .helpers import ingest

ONE_CALL = Decimal("0.0002865")  # make_record's cost
FIRST = date(2031, 3, 1)  # a Saturday


@pytest.mark.parametrize(
    ("start", "end"),
    [(FIRST, FIRST + timedelta(days=40)), (FIRST + timedelta(days=2), FIRST + timedelta(days=8)),
     (FIRST + timedelta(days=3), FIRST + timedelta(days=5))],
)  # fmt: skip
async def test_groups_over_weeks_equal_the_rows(engine: AsyncEngine, start: date, end: date) -> None:
    users = [uid("eu-"), uid("eu-")]
    rows, expected = [], dict.fromkeys(users, 0)
    for offset in range(45):  # one call a day for the first user, every other day for the second
        day = FIRST + timedelta(days=offset)
        at = datetime.combine(day, time(9), UTC).timestamp()
        for index, user in enumerate(users):
            if offset % (index + 1) == 0:
                record = make_record(end_user=user, start_time=at, end_time=at + 1)
                rows.append(SpendLog.from_record(record, store_prompts=False))
                expected[user] += int(start <= day <= end)
    await ingest(engine, rows)
    result = await overview(
        engine, OverviewQuery("end_user", start, end, Visible(everything=True), top=10_000)
    )
    found = {row["group"]: row for row in result["groups"] or [] if row["group"] in users}
    for user in users:
        assert found[user]["api_requests"] == expected[user], (user, start, end)
        assert found[user]["spend"] == ONE_CALL * expected[user]


def test_week_tiers_cover_the_range_once() -> None:
    for length in range(0, 40):
        start, end = FIRST, FIRST + timedelta(days=length)
        edges, weeks = week_tiers(start, end)
        days = {lo + timedelta(days=i) for lo, hi in edges for i in range((hi - lo).days + 1)}
        if weeks is not None:
            monday = weeks[0]
            while monday <= weeks[1]:
                assert monday.weekday() == 0
                days |= {monday + timedelta(days=i) for i in range(7)}
                monday += timedelta(days=7)
        assert days == {start + timedelta(days=i) for i in range(length + 1)}, length
