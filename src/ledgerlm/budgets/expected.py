"""Recent output sizes per model, for ``reservation_estimate: expected``.

::

    history = OutputHistory(window=100, quantile=0.95, default_tokens=512)
    history.observe("gpt-4o-mini", 37)                  # output tokens of a finished call
    history.expected("gpt-4o-mini", bound=16384) -> int # the q-quantile of the last ``window`` calls,
                                                        # ``default_tokens`` before any, never above ``bound``

In-process (each proxy instance learns from the calls it served); thread-safe for one event loop.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["OutputHistory"]


class OutputHistory:
    """Output token counts of the last ``window`` successful calls per model key (module docstring)."""

    def __init__(self, window: int = 100, quantile: float = 0.95, default_tokens: int = 512) -> None:
        if window < 1 or not 0.0 < quantile <= 1.0 or default_tokens < 0:
            raise ValueError("window >= 1, 0 < quantile <= 1 and default_tokens >= 0 are required")
        self.window = window
        self.quantile = quantile
        self.default_tokens = default_tokens
        self._seen: dict[str, deque[int]] = {}

    def observe(self, key: str, output_tokens: int) -> None:
        """Record one call's output tokens (negative counts are ignored)."""
        if output_tokens < 0:
            return
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) >= 10_000:  # bounded: model keys come from the operator's model list
                self._seen.pop(next(iter(self._seen)))
            seen = self._seen[key] = deque(maxlen=self.window)
        seen.append(output_tokens)

    def expected(self, key: str, bound: int) -> int:
        """The ``quantile`` (nearest rank) of the recent output sizes of ``key``, ``default_tokens``
        when none was seen; at most ``bound`` (the request's ``max_tokens`` x ``n``, else the model's)."""
        seen = self._seen.get(key)
        if not seen:
            return min(self.default_tokens, bound)
        ordered = sorted(seen)
        rank = max(1, math.ceil(self.quantile * len(ordered)))
        return min(ordered[rank - 1], bound)
