"""The ``/login`` attempt limit of the dashboard.

At most ``MAX_FAILURES`` (5) failed log-ins per username from one client IP, and ``MAX_IP_FAILURES``
(30) per client IP whatever the usernames (a password spray), within ``WINDOW_S`` (300 s, a sliding
window); the next attempt answers 429 ``too_many_login_attempts`` with ``Retry-After`` until the oldest
failure that keeps it over the limit leaves the window (checked BEFORE the credentials, so a correct
password does not get through either). A success clears that username's failures from that IP.

``LoginLimits`` is the protocol ``login`` uses (``check`` / ``failed`` / ``succeeded``); two implement it:

* ``LoginLimiter``: the counts in this process (bounded: at most 100,000 keys);
* ``login_limit_redis.RedisLoginLimiter``: the counts shared by every proxy instance and worker through
  the proxy's Redis (``general_settings.redis_url`` or ``$REDIS_URL``, keys under
  ``budget_settings.redis_prefix``), with an in-process ``LoginLimiter`` for the attempts during which
  Redis does not answer (a warning is logged; the counts on Redis resume when it is back).

``limiter(state)`` picks one (Redis when the proxy has it) and keeps it in ``state.extra``;
``close_limiter(state)`` closes its connection at shutdown.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from ledgerlm.errors import RateLimitError

__all__ = [
    "MAX_FAILURES",
    "MAX_IP_FAILURES",
    "WINDOW_S",
    "LoginLimiter",
    "LoginLimits",
    "close_limiter",
    "limiter",
    "refused",
]

MAX_FAILURES = 5
MAX_IP_FAILURES = 30
WINDOW_S = 300.0
DEFAULT_PREFIX = "{ledgerlm}"  # budget_settings.redis_prefix's default
_EXTRA = "ui_login_limiter"


class LoginLimits(Protocol):
    """The attempt limit ``login`` consults: ``check`` before the credentials, then one of the others."""

    async def check(self, username: str, ip: str) -> None:
        """Raise ``RateLimitError`` (429 ``too_many_login_attempts``, ``Retry-After``) when over a limit."""

    async def failed(self, username: str, ip: str) -> None:
        """Count one failed log-in of ``username`` from ``ip``."""

    async def succeeded(self, username: str, ip: str) -> None:
        """Clear the failures of ``username`` from ``ip``."""


def refused(wait_s: float) -> RateLimitError:
    """The 429 of an attempt over the limit; ``wait_s``: seconds until the next attempt is allowed."""
    return RateLimitError(
        f"too many failed log-ins; try again in {int(wait_s) + 1} s",
        code="too_many_login_attempts",
        retry_after=wait_s,
    )


@dataclass
class LoginLimiter:
    """Failed log-ins per username and per IP in the last ``window_s`` seconds, in this process."""

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

    async def check(self, username: str, ip: str, now: float | None = None) -> None:
        """Raise ``RateLimitError`` (429, ``Retry-After``) when either count is at its limit."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key, most in ((_pair(username, ip), self.max_failures), (f"ip:{ip}", self.max_ip_failures)):
            recent = self._recent(key, now)
            if len(recent) >= most:
                wait = max(wait, recent[len(recent) - most] + self.window_s - now)
        if wait > 0:
            raise refused(wait)

    async def failed(self, username: str, ip: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for key in (_pair(username, ip), f"ip:{ip}"):
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a spray of usernames
                self._failures.pop(next(iter(self._failures)))

    async def succeeded(self, username: str, ip: str) -> None:
        self._failures.pop(_pair(username, ip), None)


def _pair(username: str, ip: str) -> str:
    return f"user:{ip}:{username.lower()}"


def limiter(state: Any) -> LoginLimits:
    """The proxy's login limiter (made once, kept in ``state.extra``): on Redis when the proxy has it."""
    found: LoginLimits | None = state.extra.get(_EXTRA)
    if found is None:
        found = _build(state)
        state.extra[_EXTRA] = found
    return found


def _build(state: Any) -> LoginLimits:
    url = state.key_events.redis_url  # general_settings.redis_url or $REDIS_URL (proxy.state)
    if not url:
        return LoginLimiter()
    from ledgerlm.proxy.ui.login_limit_redis import RedisLoginLimiter

    return RedisLoginLimiter.from_url(url, prefix=_redis_prefix(state.admission))


def _redis_prefix(admission: Any) -> str:
    """``budget_settings.redis_prefix`` (the prefix of the proxy's other Redis keys) of the admission,
    looked up through its wrappers (``ThrottledAdmission.inner``)."""
    for _ in range(8):
        config = getattr(admission, "config", None)
        if config is not None and getattr(config, "redis_prefix", None):
            return str(config.redis_prefix)
        admission = getattr(admission, "inner", None)
    return DEFAULT_PREFIX


async def close_limiter(state: Any) -> None:
    """Close the limiter's Redis connection, if it has one (app shutdown)."""
    found = state.extra.pop(_EXTRA, None)
    close = getattr(found, "aclose", None)
    if close is not None:
        await close()
