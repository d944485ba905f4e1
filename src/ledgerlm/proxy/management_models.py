"""Request bodies of the management routes (LiteLLM field names), validated with pydantic.

Money is ``Decimal`` USD (>= 0); ``budget_duration`` and key ``duration`` are ``<n>s|m|h|d|w|mo``
strings; limits are per minute; ``tags`` are request tags (checked like request tags: strings of
1..128 characters, at most 64). Unknown fields are ignored (LiteLLM clients send many).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ledgerlm.errors import BadRequestError
from ledgerlm.proxy.config import format_path
from ledgerlm.proxy.tags import MAX_TAG_LENGTH, MAX_TAGS

__all__ = [
    "CustomerNew",
    "KeyDelete",
    "KeyGenerate",
    "KeyUpdate",
    "LimitFields",
    "Member",
    "TeamDelete",
    "TeamNew",
    "TeamUpdate",
    "UserNew",
    "duration_to_expiry",
    "members_of",
    "parse_body",
]

M = TypeVar("M", bound=BaseModel)

# Bounds that keep every value storable (money columns are NUMERIC(24, 10); limits are 64-bit integers;
# expiry dates must stay representable): larger values are a 400, not a database error.
MAX_USD = Decimal(10) ** 12
MAX_LIMIT = 2**62
MAX_DURATION_S = 100 * 365 * 86400

_DURATION = re.compile(r"^\s*(\d+)\s*(mo|s|m|h|d|w)\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "mo": 30 * 86400}


def check_duration(value: str | None) -> str | None:
    """``"30d"``-style duration or None; raises ``ValueError`` otherwise."""
    if value is None:
        return None
    match = _DURATION.match(value)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"invalid duration {value!r}: expected <n>s|m|h|d|w|mo, e.g. '30d'")
    if int(match.group(1)) * _SECONDS[match.group(2)] > MAX_DURATION_S:
        raise ValueError(f"invalid duration {value!r}: at most 100 years")
    return value.strip()


def duration_to_expiry(duration: str | None, now: datetime | None = None) -> datetime | None:
    """Key expiry for a ``duration`` (``mo`` counted as 30 days); None = never expires."""
    if duration is None:
        return None
    match = _DURATION.match(duration)
    assert match is not None
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    return (now or datetime.now(UTC)) + timedelta(seconds=seconds)


def _check_tags(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    if len(value) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    for tag in value:
        if not tag or len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"tags must be 1..{MAX_TAG_LENGTH} characters")
    return list(dict.fromkeys(value))


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Limits(_Body):
    """Budget and rate-limit fields shared by keys, teams, users and customers."""

    max_budget: Decimal | None = Field(default=None, ge=0, le=MAX_USD, allow_inf_nan=False, description="USD")
    soft_budget: Decimal | None = Field(
        default=None, ge=0, le=MAX_USD, allow_inf_nan=False, description="USD"
    )
    budget_duration: str | None = Field(default=None, description="e.g. 30s, 1h, 1d, 30d, 1mo")
    tpm_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT, description="tokens per minute")
    rpm_limit: int | None = Field(default=None, ge=0, le=MAX_LIMIT, description="requests per minute")
    max_parallel_requests: int | None = Field(default=None, ge=0, le=2**31 - 1)
    metadata: dict[str, Any] | None = None

    @field_validator("budget_duration")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        return check_duration(value)

    @field_validator("metadata")
    @classmethod
    def _metadata_tags(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and "tags" in value:
            tags = value["tags"]
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError("metadata.tags must be a list of strings")
            value = {**value, "tags": _check_tags(tags)}
        if value is not None and "tag_policies" in value:
            from ledgerlm.tags.policy import parse_policies

            parse_policies(value["tag_policies"])  # ValueError -> 400 naming the field (docs/tags.md)
        return value


LimitFields = _Limits
"""The budget and rate-limit fields, for bodies defined next to their routes."""


class KeyGenerate(_Limits):
    """``POST /key/generate``."""

    models: list[str] | None = None
    tags: list[str] | None = Field(default=None, description="stored as metadata.tags")
    team_id: str | None = None
    user_id: str | None = None
    key_alias: str | None = None
    duration: str | None = Field(default=None, description="key lifetime, e.g. 30d; none = no expiry")
    blocked: bool | None = None
    budget_id: str | None = None

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, value: list[str] | None) -> list[str] | None:
        return _check_tags(value)

    @field_validator("duration")
    @classmethod
    def _key_duration(cls, value: str | None) -> str | None:
        return check_duration(value)


class KeyUpdate(KeyGenerate):
    """``POST /key/update``: ``key`` (the key or its hash) plus the fields to change."""

    key: str = Field(min_length=1)


class KeyDelete(_Body):
    """``POST /key/delete``: ``keys`` (keys or hashes) and/or ``key_aliases``."""

    keys: list[str] = Field(default_factory=list)
    key_aliases: list[str] = Field(default_factory=list)


class Member(_Body):
    """A team member (LiteLLM ``Member``): ``role`` ``admin`` or ``user``; ``user_id`` and/or
    ``user_email``."""

    role: Literal["admin", "user"] = "user"
    user_id: str | None = Field(default=None, min_length=1, max_length=255)
    user_email: str | None = Field(default=None, max_length=255)

    @model_validator(mode="after")
    def _who(self) -> Member:
        if not self.user_id and not self.user_email:
            raise ValueError("a member needs user_id or user_email")
        return self


def members_of(members: list[Member]) -> list[dict[str, Any]]:
    """Stored form of ``members_with_roles`` (one entry per user id, the last one wins)."""
    out: dict[str, dict[str, Any]] = {}
    for member in members:
        out[member.user_id or f"email:{member.user_email}"] = member.model_dump(exclude_none=True)
    return list(out.values())


class TeamNew(_Limits):
    """``POST /team/new`` (``team_id`` generated when absent)."""

    team_id: str | None = None
    team_alias: str | None = None
    organization_id: str | None = None
    models: list[str] | None = None
    tags: list[str] | None = None
    members: list[dict[str, Any]] | None = None
    members_with_roles: list[Member] | None = None
    blocked: bool | None = None

    @field_validator("tags")
    @classmethod
    def _valid_tags(cls, value: list[str] | None) -> list[str] | None:
        return _check_tags(value)


class TeamUpdate(TeamNew):
    """``POST /team/update``."""

    team_id: str = Field(min_length=1)


class TeamDelete(_Body):
    """``POST /team/delete``."""

    team_ids: list[str] = Field(min_length=1)


class UserNew(_Limits):
    """``POST /user/new`` (``user_id`` generated when absent; a key is created unless
    ``auto_create_key`` is false)."""

    user_id: str | None = None
    user_alias: str | None = None
    user_email: str | None = None
    user_role: (
        Literal["proxy_admin", "proxy_admin_viewer", "org_admin", "internal_user", "internal_user_viewer"]
        | None
    ) = None
    organization_id: str | None = None
    password: str | None = Field(
        default=None, min_length=1, max_length=1024, description="for /login; stored as a scrypt hash"
    )
    models: list[str] | None = None
    teams: list[str] | None = None
    auto_create_key: bool = True
    budget_id: str | None = None
    key_alias: str | None = None
    duration: str | None = None

    @field_validator("duration")
    @classmethod
    def _key_duration(cls, value: str | None) -> str | None:
        return check_duration(value)


class CustomerNew(_Limits):
    """``POST /customer/new`` (an end user; ``user_id`` is the id callers send as ``user``)."""

    user_id: str = Field(min_length=1)
    alias: str | None = None
    blocked: bool | None = None
    allowed_model_region: str | None = None
    default_model: str | None = None
    budget_id: str | None = None


def parse_body(model: type[M], data: Any) -> M:
    """Validate ``data`` as ``model``; a bad field -> 400 naming its path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = format_path(first.get("loc", ())) or "body"
        raise BadRequestError(f"{path}: {first.get('msg')}", param=path) from None
