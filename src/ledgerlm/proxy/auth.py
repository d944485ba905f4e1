"""Authentication: the presented key -> ``KeyContext`` (who is calling, with which limits and tags).

* Keys are read from ``Authorization: Bearer <key>``, ``x-api-key`` or ``api-key`` (Azure clients).
* The master key (``general_settings.master_key``) is compared in constant time; it is the admin.
* A virtual key (``sk-...``) is looked up by its SHA-256 hex digest (never stored or logged in clear),
  through ``KeyCache`` (in-process; entries live ``ttl_s`` seconds; ``invalidate(hash)`` on update/delete,
  ``invalidate_all()`` bumps ``version``: the hook for cross-instance invalidation, issue 10).
* Expired, blocked or unknown keys: ``AuthenticationError`` (401). A model outside the key's (or its
  team's) ``models``: ``PermissionDeniedError`` (403).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledgerlm.errors import AuthenticationError, PermissionDeniedError, ServiceUnavailableError

__all__ = [
    "ALL_MODELS",
    "Authenticator",
    "KeyCache",
    "KeyContext",
    "KeyLookup",
    "generate_key",
    "hash_key",
    "key_from_headers",
    "mask_key",
]

log = logging.getLogger("ledgerlm.proxy")

ALL_MODELS = {"*", "all-proxy-models"}
KEY_PREFIX = "sk-"


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a virtual key (what the database stores as ``token``)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A new virtual key: ``sk-`` + 32 url-safe random bytes (shown once to the caller)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def mask_key(key: str) -> str:
    """``sk-abc...wxyz`` -> ``sk-...wxyz`` (the ``key_name`` shown in listings)."""
    return f"{KEY_PREFIX}...{key[-4:]}"


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The presented key from ``Authorization: Bearer``, ``x-api-key`` or ``api-key``; None when absent."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return auth.strip() or None
    return headers.get("x-api-key") or headers.get("api-key") or None


@dataclass(slots=True)
class KeyContext:
    """The caller, passed to hooks as ``user_api_key_dict`` (LiteLLM ``UserAPIKeyAuth`` field names).

    ``api_key``/``token``: the SHA-256 hash (never the key). ``models``: the key's allowed public model
    names (empty = all); ``team_models`` likewise for its team. ``tags``/``team_tags``: request tags the key
    and its team add. Budget/limit fields (USD, per minute) are read by admission (issue 7).
    """

    token: str | None
    key_alias: str | None = None
    key_name: str | None = None
    user_id: str | None = None
    team_id: str | None = None
    org_id: str | None = None
    models: list[str] = field(default_factory=list)
    team_models: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    team_tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    team_metadata: dict[str, Any] = field(default_factory=dict)
    expires: datetime | None = None
    blocked: bool = False
    is_admin: bool = False
    spend: Any = None
    max_budget: Any = None
    soft_budget: Any = None
    budget_duration: str | None = None
    tpm_limit: int | None = None
    rpm_limit: int | None = None
    max_parallel_requests: int | None = None
    end_user_id: str | None = None
    user_role: str | None = None  # the key's user's role (LiteLLM ``user_role``; see proxy.roles)
    user_organization_id: str | None = None  # the key's user's organization (org admins)
    user_max_budget: Any = None  # the key's user's max_budget, USD (keys it makes stay within)
    user_models: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # LiteLLM ``UserAPIKeyAuth`` team and user fields (hooks read them; ``ledgerlm.proxy._types``)
    team_alias: str | None = None
    team_spend: Any = None
    team_max_budget: Any = None
    team_tpm_limit: int | None = None
    team_rpm_limit: int | None = None
    team_blocked: bool = False
    user_email: str | None = None
    user_spend: Any = None

    @property
    def api_key(self) -> str | None:
        """LiteLLM name for the hashed key."""
        return self.token

    def expired(self, now: datetime | None = None) -> bool:
        """True when ``expires`` is in the past."""
        if self.expires is None:
            return False
        expires = self.expires if self.expires.tzinfo else self.expires.replace(tzinfo=UTC)
        return expires <= (now or datetime.now(UTC))

    def allows_model(self, model: str) -> bool:
        """Whether the key (and its team) may call the public model name ``model``."""
        return _allowed(self.models, model) and _allowed(self.team_models, model)


def _allowed(models: Sequence[str], model: str) -> bool:
    if not models:
        return True
    return model in models or any(m in ALL_MODELS for m in models)


KeyLookup = Callable[[str], Awaitable[KeyContext | None]]


class KeyCache:
    """In-process cache of key hash -> ``KeyContext`` with a TTL (seconds) and explicit invalidation."""

    def __init__(self, ttl_s: float = 5.0, max_entries: int = 100_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.version = 0
        self._entries: dict[str, tuple[float, int, KeyContext]] = {}

    def get(self, token: str) -> KeyContext | None:
        """The cached context, or None when absent, older than ``ttl_s`` or from an older ``version``
        (a stale entry is kept for ``get_stale``)."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        stamp, version, ctx = entry
        if version != self.version:
            self._entries.pop(token, None)
            return None
        if time.monotonic() - stamp > self.ttl_s:
            return None
        return ctx

    def get_stale(self, token: str, max_age_s: float) -> KeyContext | None:
        """A cached context up to ``max_age_s`` seconds old (used only while the store is unreachable;
        invalidated keys are never returned)."""
        entry = self._entries.get(token)
        if entry is None:
            return None
        stamp, version, ctx = entry
        if version != self.version or time.monotonic() - stamp > max_age_s:
            return None
        return ctx

    def put(self, token: str, ctx: KeyContext) -> None:
        """Cache ``ctx`` (the oldest half is dropped when full)."""
        if self.ttl_s <= 0:
            return
        if len(self._entries) >= self.max_entries:
            for old in list(self._entries)[: self.max_entries // 2]:
                self._entries.pop(old, None)
        self._entries[token] = (time.monotonic(), self.version, ctx)

    def invalidate(self, token: str) -> None:
        """Forget one key (after update/delete/block)."""
        self._entries.pop(token, None)

    def invalidate_all(self) -> None:
        """Forget every key (after a team change; also the cross-instance hook)."""
        self.version += 1
        self._entries.clear()


class Authenticator:
    """Turns request headers into a ``KeyContext``; the master key is admin. ``lookup`` reads the store."""

    def __init__(
        self,
        master_key: str | None,
        lookup: KeyLookup,
        cache: KeyCache,
        *,
        lookup_timeout_s: float = 3.0,
        stale_s: float = 600.0,
    ) -> None:
        self.master_key = master_key
        self.lookup_timeout_s = lookup_timeout_s
        self.stale_s = stale_s
        self._master_hash = hash_key(master_key) if master_key else None
        self.lookup = lookup
        self.cache = cache
        self._admin = KeyContext(token=self._master_hash, key_alias="master_key", is_admin=True)
        self._store_down_until = 0.0  # after a failed lookup, stale entries serve at once until then

    @property
    def open(self) -> bool:
        """No master key configured: every request is admitted as admin (LiteLLM's behaviour)."""
        return self.master_key is None

    async def authenticate(self, headers: Mapping[str, str]) -> KeyContext:
        """The caller's context. Raises ``AuthenticationError`` (401) for missing/unknown/expired/blocked."""
        if self.master_key is None:
            return self._admin
        key = key_from_headers(headers)
        if not key:
            raise AuthenticationError("missing API key: send 'Authorization: Bearer sk-...'")
        if hmac.compare_digest(key.encode("utf-8"), self.master_key.encode("utf-8")):
            return self._admin
        token = hash_key(key)
        ctx = self.cache.get(token) or await self._load(token)
        if ctx.blocked:
            raise AuthenticationError("this API key is blocked", code="key_blocked")
        if ctx.expired():
            raise AuthenticationError("this API key has expired", code="key_expired")
        return ctx

    async def _load(self, token: str) -> KeyContext:
        """Look the key up in the store; while the store is unreachable, a recently cached entry
        (``stale_s``) keeps the key working, else 503."""
        stale = self.cache.get_stale(token, self.stale_s)
        if stale is not None and time.monotonic() < self._store_down_until:
            return stale  # the store just failed a lookup: do not make every call wait its deadline
        try:
            async with asyncio.timeout(self.lookup_timeout_s):
                ctx = await self.lookup(token)
        except Exception as exc:
            self._store_down_until = time.monotonic() + 5 * self.lookup_timeout_s
            if stale is None:
                log.warning("key lookup failed: %s", type(exc).__name__)
                raise ServiceUnavailableError(
                    "the key store is unreachable; retry shortly", code="key_store_unavailable"
                ) from None
            return stale
        if ctx is None:
            raise AuthenticationError("invalid API key")
        self.cache.put(token, ctx)
        return ctx


def require_admin(ctx: KeyContext) -> None:
    """Management routes: only the master key. Raises ``PermissionDeniedError`` (403)."""
    if not ctx.is_admin:
        raise PermissionDeniedError("this route needs the master key", code="admin_only")


def check_model(ctx: KeyContext, model: str) -> None:
    """403 when the key (or its team) may not use ``model``."""
    if not ctx.allows_model(model):
        raise PermissionDeniedError(
            f"this key may not use model {model!r}", code="model_not_allowed", param="model"
        )
