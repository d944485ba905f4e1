"""The overview's groups read the full ISO weeks the weekly rollups hold (weeks already ended and built,
``store.weekly``) and every other day from the daily ones (issue 21); whatever the range, before and
after a build and with late rows written after it, they equal the sums over the spend rows. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog, weekly
from ledgerlm.store.dashboard import OverviewQuery, Visible, overview, week_tiers

from .factories import make_record, uid
from .helpers import ingest

ONE_CALL = Decimal("0.0002865")  # make_record's cost
FIRST = date(2031, 3, 1)  # a Saturday


def _calls(users: list[str], days: range) -> list[dict[str, object]]:
    """One call a day for the first user, every other day for the second (offsets from FIRST)."""
    rows = []
    for offset in days:
        at = datetime.combine(FIRST + timedelta(days=offset), time(9), UTC).timestamp()
        for index, user in enumerate(users):
            if offset % (index + 1) == 0:
                record = make_record(end_user=user, start_time=at, end_time=at + 1)
                rows.append(SpendLog.from_record(record, store_prompts=False))
    return rows


def _expected(users: list[str], days: range, start: date, end: date) -> dict[str, int]:
    counts = dict.fromkeys(users, 0)
    for offset in days:
        for index, user in enumerate(users):
            day = FIRST + timedelta(days=offset)
            counts[user] += int(offset % (index + 1) == 0 and start <= day <= end)
    return counts


async def _assert_groups(engine: AsyncEngine, start: date, end: date, expected: dict[str, int]) -> None:
    result = await overview(
        engine, OverviewQuery("end_user", start, end, Visible(everything=True), top=10_000)
    )
    found = {row["group"]: row for row in result["groups"] or [] if row["group"] in expected}
    for user, count in expected.items():
        assert found[user]["api_requests"] == count, (user, start, end)
        assert found[user]["spend"] == ONE_CALL * count


@pytest.mark.parametrize(
    ("start", "end"),
    [(FIRST, FIRST + timedelta(days=40)), (FIRST + timedelta(days=2), FIRST + timedelta(days=8)),
     (FIRST + timedelta(days=3), FIRST + timedelta(days=5))],
)  # fmt: skip
async def test_groups_over_weeks_equal_the_rows(engine: AsyncEngine, start: date, end: date) -> None:
    users = [uid("eu-"), uid("eu-")]
    await ingest(engine, _calls(users, range(45)))
    expected = _expected(users, range(45), start, end)
    await _assert_groups(engine, start, end, expected)  # whatever was built before
    # the weeks up to the one of day 30 end: folded into the weekly rollups (idempotent when built)
    await weekly.build_closed_weeks(engine, today=FIRST + timedelta(days=37))
    async with engine.connect() as conn:
        assert await weekly.built_through(conn) >= weekly.monday(FIRST + timedelta(days=30))
    await _assert_groups(engine, start, end, expected)
    # late rows for built weeks and for the open one: the writer adds them to both tiers
    await ingest(engine, _calls(users, range(0, 45, 3)))
    late = _expected(users, range(0, 45, 3), start, end)
    await _assert_groups(engine, start, end, {user: expected[user] + late[user] for user in users})


@pytest.mark.parametrize("built", [None, date(2031, 2, 24), date(2031, 3, 10), date(2031, 5, 5)])
def test_week_tiers_cover_the_range_once(built: date | None) -> None:
    for length in range(0, 40):
        start, end = FIRST, FIRST + timedelta(days=length)
        edges, weeks = week_tiers(start, end, built)
        days = {lo + timedelta(days=i) for lo, hi in edges for i in range((hi - lo).days + 1)}
        if weeks is not None:
            assert built is not None and weeks[1] <= built  # only weeks the weekly rollups hold
            monday = weeks[0]
            while monday <= weeks[1]:
                assert monday.weekday() == 0
                assert not days & {monday + timedelta(days=i) for i in range(7)}  # counted once
                days |= {monday + timedelta(days=i) for i in range(7)}
                monday += timedelta(days=7)
        assert days == {start + timedelta(days=i) for i in range(length + 1)}, length
