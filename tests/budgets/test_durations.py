from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledgerlm.budgets.durations import add_months, next_reset, parse_duration

NOW = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("1h", 3600), ("1d", 86400), ("7d", 7 * 86400), ("30d", 30 * 86400), ("2w", 14 * 86400)],
)
def test_fixed_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).fixed_seconds == seconds
    assert next_reset(text, NOW) == NOW + timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "0d", "-1d", "1y", "d", "1.5h", "30 days"])
def test_bad_durations(bad: str) -> None:
    with pytest.raises(ValueError, match="budget_duration"):
        parse_duration(bad)


def test_month_is_same_day_next_month_clamped() -> None:
    assert next_reset("1mo", NOW) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2026, 11, 15, tzinfo=UTC), 3) == datetime(2027, 2, 15, tzinfo=UTC)


def test_anchor_keeps_phase_and_month_day() -> None:
    anchor = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    late = datetime(2026, 1, 3, 5, 0, tzinfo=UTC)
    assert next_reset("1d", late, anchor=anchor) == datetime(2026, 1, 4, tzinfo=UTC)
    month_anchor = datetime(2026, 1, 31, tzinfo=UTC)
    after_feb = datetime(2026, 3, 1, tzinfo=UTC)
    # Jan 31 -> Feb 28 (clamped) -> Mar 31: the anchor's day comes back
    assert next_reset("1mo", after_feb, anchor=month_anchor) == datetime(2026, 3, 31, tzinfo=UTC)


def test_naive_times_are_utc() -> None:
    naive = datetime(2026, 5, 1, 12, 0)
    assert next_reset("1h", naive) == datetime(2026, 5, 1, 13, 0, tzinfo=UTC)
