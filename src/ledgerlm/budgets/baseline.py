"""Rolling hourly baselines per dimension value: spend per hour, tokens per request, error share.

A *series* is one ``(dimension, value)``: ``("key", <key hash>)``, ``("team", "search")``,
``("end_user", ...)``, ``("tag", "feature:chat")``, ``("model", "gpt-4o")``. Each keeps the current UTC
hour's bucket and the last ``window_hours`` closed hourly buckets (hours without calls count as zero
spend and no requests, from the series' first call on). Cardinality is bounded: past ``max_series``
the least recently seen series is forgotten (counted in ``evicted``).

Metrics (``Decimal``; ``None`` when undefined):

* ``spend_per_hour``: USD in the hour (baseline: mean over the closed hours of the window);
* ``tokens_per_request``: (input + output tokens) / requests (baseline: over the window's requests);
* ``error_share``: failed requests / requests (baseline: over the window's requests).

Memory: at most ``max_series * (window_hours + 1)`` small buckets. Thread-safe (one lock). This is the
per-process baseline; ``ledgerlm.budgets.baseline_redis.RedisBaseline`` keeps the same counters in Redis,
shared by every proxy instance (same ``observe`` contract).
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

__all__ = ["METRICS", "Bucket", "HourlyBaseline", "Metric", "SeriesKey", "SeriesStats", "series_keys"]

Metric = Literal["spend_per_hour", "tokens_per_request", "error_share"]
METRICS: tuple[str, ...] = ("spend_per_hour", "tokens_per_request", "error_share")
SeriesKey = tuple[str, str]


@dataclass(slots=True)
class Bucket:
    """One UTC hour of one series: ``hour`` = epoch seconds // 3600; spend USD."""

    hour: int
    spend: Decimal = Decimal(0)
    requests: int = 0
    tokens: int = 0
    errors: int = 0


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """One series seen from ``hour``: its ``current`` bucket, the ``window`` sums over the closed hours
    before it (``hours`` of them: since the series' first call, at most ``window_hours``)."""

    current: Bucket
    window: Bucket
    hours: int

    def current_value(self, metric: str) -> Decimal | None:
        """The metric over the current hour (``None`` without a call this hour)."""
        return _value(metric, [self.current], 1) if self.current.requests else None

    def baseline_value(self, metric: str) -> Decimal | None:
        """The metric over the window (``None`` when it covers no closed hour)."""
        return _value(metric, [self.window], self.hours) if self.hours > 0 else None


def _value(metric: str, buckets: list[Bucket], hours: int) -> Decimal | None:
    requests = sum(b.requests for b in buckets)
    if metric == "spend_per_hour":
        return sum((b.spend for b in buckets), Decimal(0)) / hours if hours else None
    if not requests:
        return None
    if metric == "tokens_per_request":
        return Decimal(sum(b.tokens for b in buckets)) / requests
    return Decimal(sum(b.errors for b in buckets)) / requests


class _Series:
    __slots__ = ("current", "first_hour", "history")

    def __init__(self, hour: int, window: int) -> None:
        self.first_hour = hour
        self.current = Bucket(hour)
        self.history: deque[Bucket] = deque(maxlen=window)  # the last closed buckets that had calls

    def roll(self, hour: int) -> None:
        """Close the current bucket when ``hour`` is later (hours without calls keep no bucket)."""
        if hour > self.current.hour:
            self.history.append(self.current)
            self.current = Bucket(hour)


class HourlyBaseline:
    """Hourly buckets per series (module docstring). ``hour`` arguments: epoch seconds // 3600."""

    def __init__(self, window_hours: int = 24, max_series: int = 10_000) -> None:
        if window_hours < 1 or max_series < 1:
            raise ValueError("window_hours and max_series must be >= 1")
        self.window_hours = window_hours
        self.max_series = max_series
        self.evicted = 0
        self._series: OrderedDict[SeriesKey, _Series] = OrderedDict()
        self._lock = threading.Lock()

    def observe(
        self, keys: list[SeriesKey], hour: int, *, spend: Decimal | None, tokens: int, failed: bool
    ) -> dict[SeriesKey, SeriesStats]:
        """Count one call (``spend`` USD, None when unpriced) in every series of ``keys``; returns each
        series' stats seen from ``hour``."""
        with self._lock:
            for key in keys:
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = _Series(hour, self.window_hours)
                    if len(self._series) > self.max_series:
                        self._series.popitem(last=False)
                        self.evicted += 1
                else:
                    self._series.move_to_end(key)
                series.roll(hour)
                if hour < series.current.hour:
                    continue  # a late record of a closed hour: not re-opened
                bucket = series.current
                bucket.requests += 1
                bucket.tokens += tokens
                bucket.errors += int(failed)
                if spend is not None:
                    bucket.spend += spend
            return {key: self._stats(key, hour) for key in keys if key in self._series}

    def _stats(self, key: SeriesKey, hour: int) -> SeriesStats:
        series = self._series[key]
        current = series.current if series.current.hour == hour else Bucket(hour)
        start = max(series.first_hour, hour - self.window_hours)
        closed = [b for b in (*series.history, series.current) if start <= b.hour < hour]
        window = Bucket(
            start,
            sum((b.spend for b in closed), Decimal(0)),
            sum(b.requests for b in closed),
            sum(b.tokens for b in closed),
            sum(b.errors for b in closed),
        )
        return SeriesStats(current, window, max(0, hour - start))

    def current(self, key: SeriesKey, metric: str, hour: int) -> Decimal | None:
        """The metric over the current hour (``None`` when the series has no call this hour)."""
        with self._lock:
            series = self._series.get(key)
            if series is None or series.current.hour != hour:
                return None
            return _value(metric, [series.current], 1)

    def baseline(self, key: SeriesKey, metric: str, hour: int) -> tuple[Decimal | None, int]:
        """``(value, closed hours it covers)`` over the window before ``hour`` (hours since the
        series' first call, at most ``window_hours``; hours without calls count as zero)."""
        with self._lock:
            series = self._series.get(key)
            if series is None:
                return None, 0
            start = max(series.first_hour, hour - self.window_hours)
            hours = hour - start
            if hours <= 0:
                return None, 0
            closed = [b for b in (*series.history, series.current) if start <= b.hour < hour]
            return _value(metric, closed, hours), hours

    def requests(self, key: SeriesKey, hour: int) -> int:
        """Calls of the series in ``hour`` (0 when it is not the current hour)."""
        with self._lock:
            series = self._series.get(key)
            return series.current.requests if series is not None and series.current.hour == hour else 0

    def __len__(self) -> int:
        return len(self._series)


def series_keys(
    *,
    key: str | None,
    team: str | None,
    end_user: str | None,
    tags: list[str] | tuple[str, ...],
    model: str | None,
    dimensions: frozenset[str] | None = None,
) -> list[SeriesKey]:
    """The series one call belongs to (``dimensions``: only those; default all five)."""
    out: list[SeriesKey] = []
    for dim, value in (("key", key), ("team", team), ("end_user", end_user), ("model", model)):
        if value and (dimensions is None or dim in dimensions):
            out.append((dim, str(value)))
    if dimensions is None or "tag" in dimensions:
        out.extend(("tag", str(tag)) for tag in dict.fromkeys(tags))
    return out
