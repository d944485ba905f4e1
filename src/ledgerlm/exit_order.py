"""Interpreter-exit order between the producers of callback events (the callback dispatcher) and the
exporters that consume them: an exporter's exit flush first lets every registered producer hand over
its last events (``flush_producers``), then flushes its own queue. A producer registers itself with
``add_producer(flush)`` where ``flush(timeout_s) -> bool``; nothing is registered at import time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["add_producer", "flush_producers"]

log = logging.getLogger("ledgerlm.callbacks")

_producers: list[Callable[[float], object]] = []
_lock = threading.Lock()


def add_producer(flush: Callable[[float], object]) -> None:
    """Register ``flush(timeout_s)`` to run before exporters flush at exit (once per function)."""
    with _lock:
        if flush not in _producers:
            _producers.append(flush)


def flush_producers(timeout_s: float = 5.0) -> None:
    """Run every registered producer's flush (errors are logged, never raised)."""
    with _lock:
        producers = list(_producers)
    for flush in producers:
        try:
            flush(timeout_s)
        except Exception:
            log.exception("callback flush at exit failed")
