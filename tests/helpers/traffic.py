"""Steady traffic through the proxy from a background thread, with the official ``openai`` client.

``Traffic(url, key, model="priced", stream_every=4)`` sends calls one after the other (every
``stream_every``-th streamed; ``max_tokens`` sent when given) until ``finish()``; ``ok`` holds the
``x-request-id`` of every call answered 200 (a stream counts once it was read to the end), ``failures``
the (status or exception name) of the others, ``timeline`` (monotonic seconds, ok?) for reports.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import openai

MESSAGES: Any = [{"role": "user", "content": "reliability"}]


class Traffic:
    """See the module docstring."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        model: str = "priced",
        stream_every: int = 4,
        pause_s: float = 0.0,
        max_tokens: int | None = None,
    ) -> None:
        self.client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=10)
        self.model = model
        self.stream_every = stream_every
        self.pause_s = pause_s
        self.extra: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
        self.ok: list[str] = []
        self.failures: list[str] = []
        self.timeline: list[tuple[float, bool]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-traffic", daemon=True)
        self._thread.start()

    def _one(self, index: int) -> str:
        if self.stream_every and index % self.stream_every == 0:
            raw: Any = self.client.chat.completions.with_raw_response.create(
                model=self.model, messages=MESSAGES, stream=True, **self.extra
            )
            list(raw.parse())
        else:
            raw = self.client.chat.completions.with_raw_response.create(
                model=self.model, messages=MESSAGES, **self.extra
            )
            raw.parse()
        return str(raw.headers["x-request-id"])

    def _run(self) -> None:
        index = 0
        while not self._stop.is_set():
            index += 1
            try:
                self.ok.append(self._one(index))
                self.timeline.append((time.monotonic(), True))
            except openai.APIStatusError as exc:
                self.failures.append(str(exc.status_code))
                self.timeline.append((time.monotonic(), False))
            except (openai.APIError, OSError) as exc:
                self.failures.append(type(exc).__name__)
                self.timeline.append((time.monotonic(), False))
                time.sleep(0.01)
            if self.pause_s:
                time.sleep(self.pause_s)

    def wait_for(self, count: int, timeout_s: float = 30.0) -> None:
        """Wait until ``count`` calls were answered 200. Raises ``AssertionError`` on timeout."""
        deadline = time.monotonic() + timeout_s
        while len(self.ok) < count:
            assert time.monotonic() < deadline, f"only {len(self.ok)} successful calls ({self.failures[-5:]})"
            time.sleep(0.01)

    def finish(self) -> list[str]:
        """Stop the thread; the request ids answered 200."""
        self._stop.set()
        self._thread.join(timeout=30)
        self.client.close()
        return list(self.ok)
