"""Initial schema: spend logs, tag index, daily aggregates, keys, teams, users, end users, tags, orgs.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 10:30:07.931899
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from ledgerlm.store.coltypes import Money, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Everything below is frozen here so that later changes to ledgerlm.store never change this revision.
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TOKENS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_tokens",
)
COUNTS = ("api_requests", "successful_requests", "failed_requests", "unpriced_requests")
DAILY = (
    ("daily_end_user_spend", "end_user"),
    ("daily_key_spend", "api_key"),
    ("daily_model_spend", "model"),
    ("daily_tag_spend", "tag"),
    ("daily_team_spend", "team_id"),
    ("daily_user_spend", "user_id"),
)
SPEND_LOG_INDEXES = (
    ("api_key", "startTime"),
    ("end_user", "startTime"),
    ("model_group", "startTime"),
    ("model", "startTime"),
    ("startTime",),
    ("status", "startTime"),
    ("team_id", "startTime"),
    ("user", "startTime"),
)


def _text(name: str, length: int = 255, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _time(name: str, *, nullable: bool = True, now: bool = False) -> sa.Column[Any]:
    default = sa.func.current_timestamp() if now else None
    return sa.Column(name, UTCDateTime(timezone=True), server_default=default, nullable=nullable)


def _json(name: str, default: str | None = None, *, nullable: bool = False) -> sa.Column[Any]:
    server_default = None if default is None else sa.text(f"'{default}'")
    return sa.Column(name, JSON_TYPE, server_default=server_default, nullable=nullable)


def _zero(name: str, kind: Any = sa.BigInteger) -> sa.Column[Any]:
    return sa.Column(name, kind(), server_default="0", nullable=False)


def _flag(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)


def _budget() -> list[sa.Column[Any]]:
    return [
        _zero("spend", Money),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        _text("budget_duration", 32),
        _time("budget_reset_at"),
    ]


def _rate_limits() -> list[sa.Column[Any]]:
    return [
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
    ]


def _stamps() -> list[sa.Column[Any]]:
    return [_time("created_at", nullable=False, now=True), _time("updated_at", nullable=False, now=True)]


def _index(table: str, columns: tuple[str, ...]) -> None:
    op.create_index(op.f(f"ix_{table}_{'_'.join(columns)}"), table, list(columns), unique=False)


def _daily_tables() -> None:
    for table, entity in DAILY:
        keys = ["date", entity] if entity == "model" else ["date", entity, "model"]
        op.create_table(
            table,
            sa.Column("date", sa.Date(), nullable=False),
            *(_text(name, nullable=False) for name in keys[1:]),
            _zero("spend", Money),
            *(_zero(name) for name in (*COUNTS, *TOKENS)),
            sa.PrimaryKeyConstraint(*keys, name=op.f(f"pk_{table}")),
        )


def _spend_tables() -> None:
    op.create_table(
        "spend_log_tags",
        _text("request_id", nullable=False),
        _text("tag", nullable=False),
        _time("startTime", nullable=False),
        sa.PrimaryKeyConstraint("request_id", "tag", name=op.f("pk_spend_log_tags")),
    )
    _index("spend_log_tags", ("tag", "startTime"))
    op.create_table(
        "spend_logs",
        _text("request_id", nullable=False),
        _text("call_type", 32, nullable=False),
        _text("api_key", 64),
        sa.Column("spend", Money(), nullable=True),
        *(_zero(name) for name in TOKENS),
        _time("startTime", nullable=False),
        _time("endTime", nullable=False),
        _time("completionStartTime"),
        _text("model", nullable=False),
        *(_text(name) for name in ("model_id", "model_group")),
        _text("custom_llm_provider", 64),
        _text("api_base", 1024),
        *(_text(name) for name in ("user", "team_id", "organization_id", "end_user")),
        _json("request_tags"),
        _json("metadata"),
        _flag("cache_hit"),
        _text("status", 16, nullable=False),
        _text("requester_ip_address", 64),
        _json("messages", nullable=True),
        _json("response", nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_spend_logs")),
    )
    for columns in SPEND_LOG_INDEXES:
        _index("spend_logs", columns)


def _entity_tables() -> None:
    op.create_table(
        "end_users",
        _text("user_id", nullable=False),
        _text("alias"),
        *_budget(),
        _text("allowed_model_region", 32),
        _text("default_model"),
        _flag("blocked"),
        _json("metadata", "{}"),
        *_stamps(),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_end_users")),
    )
    op.create_table(
        "organizations",
        _text("organization_id", nullable=False),
        _text("organization_alias"),
        _json("models", "[]"),
        *_budget(),
        *_rate_limits(),
        _json("metadata", "{}"),
        *_stamps(),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "tags",
        _text("tag_name", nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        _json("models", "[]"),
        *_budget(),
        *_rate_limits(),
        _json("metadata", "{}"),
        *_stamps(),
        sa.PrimaryKeyConstraint("tag_name", name=op.f("pk_tags")),
    )


def _people_tables() -> None:
    op.create_table(
        "teams",
        _text("team_id", nullable=False),
        _text("team_alias"),
        _text("organization_id"),
        *(_json(name, "[]") for name in ("models", "tags", "members")),
        _json("metadata", "{}"),
        *_budget(),
        *_rate_limits(),
        _flag("blocked"),
        *_stamps(),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
    )
    _index("teams", ("organization_id",))
    op.create_table(
        "users",
        _text("user_id", nullable=False),
        _text("user_alias"),
        _text("user_email"),
        _text("user_role", 64),
        _text("organization_id"),
        *(_json(name, "[]") for name in ("models", "teams")),
        *_budget(),
        *_rate_limits(),
        _json("metadata", "{}"),
        *_stamps(),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
    )
    _index("users", ("user_email",))


def _key_table() -> None:
    op.create_table(
        "verification_tokens",
        _text("token", 64, nullable=False),
        _text("key_name", 64),
        _text("key_alias"),
        _json("models", "[]"),
        *_budget(),
        *_rate_limits(),
        _json("metadata", "{}"),
        *(_text(name) for name in ("team_id", "user_id", "organization_id")),
        _time("expires"),
        _flag("blocked"),
        *_stamps(),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_verification_tokens")),
    )
    for column in ("key_alias", "team_id", "user_id"):
        _index("verification_tokens", (column,))


def upgrade() -> None:
    _daily_tables()
    _entity_tables()
    _spend_tables()
    _people_tables()
    _key_table()


def downgrade() -> None:
    for table in (
        "verification_tokens",
        "users",
        "teams",
        "tags",
        "spend_logs",
        "spend_log_tags",
        "organizations",
        "end_users",
        *(name for name, _ in DAILY),
    ):
        op.drop_table(table)  # drops its indexes too
