"""Budget durations (``30s``, ``1h``, ``1d``, ``7d``, ``30d``, ``1mo``) and the next reset time.

A duration string is ``<positive int><unit>`` with unit ``s`` (seconds), ``m`` (minutes), ``h`` (hours),
``d`` (days), ``w`` (weeks) or ``mo`` (calendar months); these are LiteLLM's ``budget_duration`` values.
Times are timezone-aware UTC ``datetime`` objects. ``1mo`` means the same day of the next month at the
same time, clamped to the month's last day (Jan 31 -> Feb 28/29 -> Mar 31 keeps the anchor day when it
is computed from the original anchor with :func:`next_reset`).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = ["Duration", "add_months", "next_reset", "parse_duration", "with_reset_time"]

_PATTERN = re.compile(r"^\s*(\d+)\s*(mo|s|m|h|d|w)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


@dataclass(frozen=True, slots=True)
class Duration:
    """A parsed budget duration: ``count`` of ``unit`` (``s``/``m``/``h``/``d``/``w``/``mo``)."""

    count: int
    unit: str

    @property
    def text(self) -> str:
        """The canonical string form, e.g. ``"30d"``."""
        return f"{self.count}{self.unit}"

    @property
    def fixed_seconds(self) -> int | None:
        """Length in seconds for fixed-length units; ``None`` for months (variable length)."""
        per = _SECONDS.get(self.unit)
        return None if per is None else per * self.count

    def after(self, start: datetime) -> datetime:
        """``start`` + this duration (UTC; months clamped to the last day of the month)."""
        start = _utc(start)
        if self.unit == "mo":
            return add_months(start, self.count)
        seconds = self.fixed_seconds
        assert seconds is not None
        return start + timedelta(seconds=seconds)


def parse_duration(text: str) -> Duration:
    """Parse ``"30s"``, ``"1h"``, ``"1d"``, ``"7d"``, ``"30d"``, ``"1mo"`` ... into a ``Duration``.

    Raises ``ValueError`` naming the bad value for anything else (zero, negative, unknown unit).
    """
    if not isinstance(text, str):
        raise ValueError(f"budget_duration must be a string like '30d', got {text!r}")
    match = _PATTERN.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"invalid budget_duration {text!r}: expected <n>s|m|h|d|w|mo, e.g. '30d', '1mo'")
    return Duration(int(match.group(1)), match.group(2))


def add_months(start: datetime, months: int) -> datetime:
    """``start`` moved ``months`` calendar months later, day clamped to the target month's length."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def next_reset(duration: Duration | str, now: datetime, *, anchor: datetime | None = None) -> datetime:
    """The first reset time strictly after ``now`` (UTC).

    Without ``anchor`` this is ``now + duration``. With ``anchor`` (the previous reset time) the
    schedule keeps its phase: ``anchor + k * duration`` for the smallest ``k >= 1`` landing after
    ``now``, so a late reset loop does not drift the schedule; months keep the anchor's day (clamped).
    """
    parsed = parse_duration(duration) if isinstance(duration, str) else duration
    now = _utc(now)
    if anchor is None:
        return parsed.after(now)
    anchor = _utc(anchor)
    seconds = parsed.fixed_seconds
    if seconds is not None:
        elapsed = (now - anchor).total_seconds()
        steps = max(1, int(elapsed // seconds) + 1)
        return anchor + timedelta(seconds=seconds * steps)
    step = 1
    candidate = add_months(anchor, parsed.count)
    while candidate <= now:
        step += 1
        candidate = add_months(anchor, parsed.count * step)
    return candidate


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC (database columns without a zone); aware ones converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def with_reset_time(
    fields: dict[str, object], *, existing_duration: str | None = None, now: datetime | None = None
) -> dict[str, object]:
    """Add ``budget_reset_at`` (the end of the first period, ``now + duration``) to management ``fields``
    when they set a new ``budget_duration``; clear it when the duration is removed. Returns ``fields``."""
    if "budget_duration" not in fields:
        return fields
    duration = fields["budget_duration"]
    if duration is None:
        fields["budget_reset_at"] = None
    elif isinstance(duration, str) and duration != existing_duration:
        fields["budget_reset_at"] = next_reset(duration, now or datetime.now(UTC))
    return fields
