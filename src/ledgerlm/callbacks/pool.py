"""A bounded pool of daemon threads for the sync callback hooks.

Not ``concurrent.futures.ThreadPoolExecutor``: that one refuses new work once the interpreter starts to
exit, which is exactly when the exit flush needs the pool. Threads start lazily, one more whenever every
started thread is busy or spoken for, up to ``max_workers``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

__all__ = ["ThreadPool"]


class ThreadPool:
    """A bounded pool of daemon threads (not concurrent.futures: it refuses work at interpreter exit)."""

    def __init__(self, max_workers: int) -> None:
        self._max = max(1, max_workers)
        self._queue: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pending = 0
        self._busy = 0

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on a pool thread (raises ``RuntimeError`` when no thread can start: shutdown)."""
        self._queue.put(fn)
        with self._lock:
            self._pending += 1
            if self._busy + self._pending > len(self._threads) and len(self._threads) < self._max:
                name = f"ledgerlm-callbacks-{len(self._threads)}"
                thread = threading.Thread(target=self._work, name=name, daemon=True)
                thread.start()  # RuntimeError at interpreter shutdown: nothing recorded, caller told
                self._threads.append(thread)

    def owns_current_thread(self) -> bool:
        """True when called from one of the pool's threads."""
        return threading.current_thread() in self._threads

    def shutdown(self, timeout_s: float = 1.0) -> None:
        """Stop the started threads once they finish the jobs queued before this (waits ``timeout_s``
        seconds per thread at most); jobs submitted afterwards are not run."""
        with self._lock:
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(timeout_s)

    def _work(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None:
                return
            with self._lock:
                self._pending -= 1
                self._busy += 1
            try:
                fn()
            finally:
                del fn  # do not keep the last job alive while waiting for the next
                with self._lock:
                    self._busy -= 1
