"""The ``/login`` attempt limit of the dashboard.

``LoginLimiter``: at most ``MAX_FAILURES`` (5) failed log-ins per username from one client IP, and
``MAX_IP_FAILURES`` (30) per client IP whatever the usernames (a password spray), within ``WINDOW_S``
(300 s); the next attempt answers 429 ``too_many_login_attempts`` with ``Retry-After``
until the oldest failure leaves the window (checked BEFORE the credentials, so a correct password does
not get through either). A success clears that username's failures. The counts live in this process
(several proxy processes each allow 5).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ledgerlm.errors import RateLimitError

__all__ = ["MAX_FAILURES", "MAX_IP_FAILURES", "WINDOW_S", "LoginLimiter", "limiter"]

MAX_FAILURES = 5
MAX_IP_FAILURES = 30
WINDOW_S = 300.0


@dataclass
class LoginLimiter:
    """Failed log-ins per username and per IP in the last ``window_s`` seconds (module docstring)."""

    max_failures: int = MAX_FAILURES
    max_ip_failures: int = MAX_IP_FAILURES
    window_s: float = WINDOW_S
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def _recent(self, key: str, now: float) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and found[0] <= now - self.window_s:
            found.popleft()
        if not found:
            del self._failures[key]
            return deque()
        return found

    def check(self, username: str, ip: str, now: float | None = None) -> None:
        """Raise ``RateLimitError`` (429, ``Retry-After``) when either has ``max_failures`` failures."""
        now = time.monotonic() if now is None else now
        for key, most in ((_pair(username, ip), self.max_failures), (f"ip:{ip}", self.max_ip_failures)):
            recent = self._recent(key, now)
            if len(recent) >= most:
                wait = recent[0] + self.window_s - now
                raise RateLimitError(
                    f"too many failed log-ins; try again in {int(wait) + 1} s",
                    code="too_many_login_attempts",
                    retry_after=wait,
                )

    def failed(self, username: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (_pair(username, ip), f"ip:{ip}"):
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of usernames
                self._failures.pop(next(iter(self._failures)))

    def succeeded(self, username: str, ip: str) -> None:
        self._failures.pop(_pair(username, ip), None)


def _pair(username: str, ip: str) -> str:
    return f"user:{ip}:{username.lower()}"


def limiter(state: Any) -> LoginLimiter:
    """The proxy's login limiter (made once, kept in ``state.extra``)."""
    found = state.extra.get("ui_login_limiter")
    if not isinstance(found, LoginLimiter):
        found = LoginLimiter()
        state.extra["ui_login_limiter"] = found
    return found
