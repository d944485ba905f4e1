"""OpenAI's rate-limit response headers from rate-limit counters.

Names as OpenAI sends them (platform.openai.com/docs/guides/rate-limits, "Rate limits in headers"):
``x-ratelimit-limit-requests``, ``x-ratelimit-remaining-requests``, ``x-ratelimit-reset-requests``
and the ``-tokens`` variants; reset values are durations such as ``"1s"``, ``"6m0s"``. When several
entities limit a request, the one with the fewest remaining requests (tokens) is reported.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ledgerlm.budgets.types import RateSnapshot

__all__ = ["format_reset", "rate_headers", "retry_after_seconds"]


def format_reset(seconds: float) -> str:
    """A duration in OpenAI's header form: ``"950ms"``, ``"12s"``, ``"1m5s"`` (rounded up)."""
    if seconds < 1:
        return f"{max(1, math.ceil(seconds * 1000))}ms"
    whole = math.ceil(seconds)
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest}s" if minutes else f"{rest}s"


def retry_after_seconds(seconds: float) -> int:
    """``Retry-After`` value: whole seconds, at least 1."""
    return max(1, math.ceil(seconds))


def rate_headers(snapshots: Sequence[RateSnapshot]) -> dict[str, str]:
    """The ``x-ratelimit-*`` headers for the tightest rpm and tpm limits among ``snapshots``."""
    headers: dict[str, str] = {}
    rpm = [s for s in snapshots if s.rpm_limit is not None]
    if rpm:
        tight = min(rpm, key=lambda s: (s.rpm_limit or 0) - s.rpm_used)
        limit = tight.rpm_limit or 0
        headers["x-ratelimit-limit-requests"] = str(limit)
        headers["x-ratelimit-remaining-requests"] = str(max(0, limit - tight.rpm_used))
        headers["x-ratelimit-reset-requests"] = format_reset(tight.window_reset_s)
    tpm = [s for s in snapshots if s.tpm_limit is not None]
    if tpm:
        tight = min(tpm, key=lambda s: (s.tpm_limit or 0) - s.tpm_used)
        limit = tight.tpm_limit or 0
        headers["x-ratelimit-limit-tokens"] = str(limit)
        headers["x-ratelimit-remaining-tokens"] = str(max(0, limit - tight.tpm_used))
        headers["x-ratelimit-reset-tokens"] = format_reset(tight.window_reset_s)
    return headers
