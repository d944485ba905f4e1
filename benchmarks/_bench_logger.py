"""The benchmark's ``CustomLogger`` callback, loaded by ``ledgerlm proxy`` from its config as
``_bench_logger.handler`` (``benchmarks/`` is on ``PYTHONPATH``): it counts events, like a light exporter.
"""

from __future__ import annotations

from typing import Any

from ledgerlm.callbacks import CustomLogger


class CountingLogger(CustomLogger):  # type: ignore[misc]
    """Counts successes and failures and the cost seen (a typical light callback)."""

    def __init__(self) -> None:
        self.successes = 0
        self.failures = 0
        self.cost_seen = 0

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.successes += 1
        if kwargs.get("response_cost") is not None:
            self.cost_seen += 1

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self.failures += 1


handler = CountingLogger()
