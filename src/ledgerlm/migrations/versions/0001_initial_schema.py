"""Initial schema: spend logs, tag index, daily aggregates, keys, teams, users, end users, tags, orgs.

Revision ID: 0001
Revises:
Create Date: 2026-11-29 10:30:07.931899
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import ledgerlm.store.coltypes

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Frozen here so that later changes to ledgerlm.store never change what this revision creates.
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Money = ledgerlm.store.coltypes.Money
UTCDateTime = ledgerlm.store.coltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "daily_end_user_spend",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("end_user", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("api_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("successful_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("date", "end_user", "model", name=op.f("pk_daily_end_user_spend")),
    )
    op.create_table(
        "daily_key_spend",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("api_key", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("api_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("successful_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("date", "api_key", "model", name=op.f("pk_daily_key_spend")),
    )
    op.create_table(
        "daily_model_spend",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("api_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("successful_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("date", "model", name=op.f("pk_daily_model_spend")),
    )
    op.create_table(
        "daily_tag_spend",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("api_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("successful_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("date", "tag", "model", name=op.f("pk_daily_tag_spend")),
    )
    op.create_table(
        "daily_team_spend",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("team_id", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("api_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("successful_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("date", "team_id", "model", name=op.f("pk_daily_team_spend")),
    )
    op.create_table(
        "daily_user_spend",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("api_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("successful_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("failed_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unpriced_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("date", "user_id", "model", name=op.f("pk_daily_user_spend")),
    )
    op.create_table(
        "end_users",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("alias", sa.String(length=255), nullable=True),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        sa.Column("budget_duration", sa.String(length=32), nullable=True),
        sa.Column("budget_reset_at", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("allowed_model_region", sa.String(length=32), nullable=True),
        sa.Column("default_model", sa.String(length=255), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "metadata",
            JSON_TYPE,
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_end_users")),
    )
    op.create_table(
        "organizations",
        sa.Column("organization_id", sa.String(length=255), nullable=False),
        sa.Column("organization_alias", sa.String(length=255), nullable=True),
        sa.Column(
            "models",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        sa.Column("budget_duration", sa.String(length=32), nullable=True),
        sa.Column("budget_reset_at", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            JSON_TYPE,
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "spend_log_tags",
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("tag", sa.String(length=255), nullable=False),
        sa.Column("startTime", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "tag", name=op.f("pk_spend_log_tags")),
    )
    with op.batch_alter_table("spend_log_tags", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spend_log_tags_tag_startTime"), ["tag", "startTime"], unique=False
        )

    op.create_table(
        "spend_logs",
        sa.Column("request_id", sa.String(length=255), nullable=False),
        sa.Column("call_type", sa.String(length=32), nullable=False),
        sa.Column("api_key", sa.String(length=64), nullable=True),
        sa.Column("spend", Money(), nullable=True),
        sa.Column("prompt_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_creation_input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reasoning_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("startTime", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("endTime", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completionStartTime", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("model_id", sa.String(length=255), nullable=True),
        sa.Column("model_group", sa.String(length=255), nullable=True),
        sa.Column("custom_llm_provider", sa.String(length=64), nullable=True),
        sa.Column("api_base", sa.String(length=1024), nullable=True),
        sa.Column("user", sa.String(length=255), nullable=True),
        sa.Column("team_id", sa.String(length=255), nullable=True),
        sa.Column("organization_id", sa.String(length=255), nullable=True),
        sa.Column("end_user", sa.String(length=255), nullable=True),
        sa.Column(
            "request_tags",
            JSON_TYPE,
            nullable=False,
        ),
        sa.Column(
            "metadata",
            JSON_TYPE,
            nullable=False,
        ),
        sa.Column("cache_hit", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requester_ip_address", sa.String(length=64), nullable=True),
        sa.Column(
            "messages",
            JSON_TYPE,
            nullable=True,
        ),
        sa.Column(
            "response",
            JSON_TYPE,
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_spend_logs")),
    )
    with op.batch_alter_table("spend_logs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spend_logs_api_key_startTime"), ["api_key", "startTime"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_spend_logs_end_user_startTime"), ["end_user", "startTime"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_spend_logs_model_group_startTime"), ["model_group", "startTime"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_spend_logs_model_startTime"), ["model", "startTime"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_spend_logs_startTime"), ["startTime"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_spend_logs_status_startTime"), ["status", "startTime"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_spend_logs_team_id_startTime"), ["team_id", "startTime"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_spend_logs_user_startTime"), ["user", "startTime"], unique=False)

    op.create_table(
        "tags",
        sa.Column("tag_name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "models",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        sa.Column("budget_duration", sa.String(length=32), nullable=True),
        sa.Column("budget_reset_at", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            JSON_TYPE,
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tag_name", name=op.f("pk_tags")),
    )
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(length=255), nullable=False),
        sa.Column("team_alias", sa.String(length=255), nullable=True),
        sa.Column("organization_id", sa.String(length=255), nullable=True),
        sa.Column(
            "models",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column(
            "tags",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column(
            "members",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            JSON_TYPE,
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        sa.Column("budget_duration", sa.String(length=32), nullable=True),
        sa.Column("budget_reset_at", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_teams")),
    )
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_teams_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("user_alias", sa.String(length=255), nullable=True),
        sa.Column("user_email", sa.String(length=255), nullable=True),
        sa.Column("user_role", sa.String(length=64), nullable=True),
        sa.Column("organization_id", sa.String(length=255), nullable=True),
        sa.Column(
            "models",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column(
            "teams",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        sa.Column("budget_duration", sa.String(length=32), nullable=True),
        sa.Column("budget_reset_at", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            JSON_TYPE,
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_users")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_user_email"), ["user_email"], unique=False)

    op.create_table(
        "verification_tokens",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("key_name", sa.String(length=64), nullable=True),
        sa.Column("key_alias", sa.String(length=255), nullable=True),
        sa.Column(
            "models",
            JSON_TYPE,
            server_default=sa.text("'[]'"),
            nullable=False,
        ),
        sa.Column("spend", Money(), server_default="0", nullable=False),
        sa.Column("max_budget", Money(), nullable=True),
        sa.Column("soft_budget", Money(), nullable=True),
        sa.Column("budget_duration", sa.String(length=32), nullable=True),
        sa.Column("budget_reset_at", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("tpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("rpm_limit", sa.BigInteger(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        sa.Column(
            "metadata",
            JSON_TYPE,
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("team_id", sa.String(length=255), nullable=True),
        sa.Column("user_id", sa.String(length=255), nullable=True),
        sa.Column("organization_id", sa.String(length=255), nullable=True),
        sa.Column("expires", ledgerlm.store.coltypes.UTCDateTime(timezone=True), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            ledgerlm.store.coltypes.UTCDateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_verification_tokens")),
    )
    with op.batch_alter_table("verification_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_verification_tokens_key_alias"), ["key_alias"], unique=False)
        batch_op.create_index(batch_op.f("ix_verification_tokens_team_id"), ["team_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_verification_tokens_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("verification_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_tokens_user_id"))
        batch_op.drop_index(batch_op.f("ix_verification_tokens_team_id"))
        batch_op.drop_index(batch_op.f("ix_verification_tokens_key_alias"))

    op.drop_table("verification_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_user_email"))

    op.drop_table("users")
    with op.batch_alter_table("teams", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_teams_organization_id"))

    op.drop_table("teams")
    op.drop_table("tags")
    with op.batch_alter_table("spend_logs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spend_logs_user_startTime"))
        batch_op.drop_index(batch_op.f("ix_spend_logs_team_id_startTime"))
        batch_op.drop_index(batch_op.f("ix_spend_logs_status_startTime"))
        batch_op.drop_index(batch_op.f("ix_spend_logs_startTime"))
        batch_op.drop_index(batch_op.f("ix_spend_logs_model_startTime"))
        batch_op.drop_index(batch_op.f("ix_spend_logs_model_group_startTime"))
        batch_op.drop_index(batch_op.f("ix_spend_logs_end_user_startTime"))
        batch_op.drop_index(batch_op.f("ix_spend_logs_api_key_startTime"))

    op.drop_table("spend_logs")
    with op.batch_alter_table("spend_log_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spend_log_tags_tag_startTime"))

    op.drop_table("spend_log_tags")
    op.drop_table("organizations")
    op.drop_table("end_users")
    op.drop_table("daily_user_spend")
    op.drop_table("daily_team_spend")
    op.drop_table("daily_tag_spend")
    op.drop_table("daily_model_spend")
    op.drop_table("daily_key_spend")
    op.drop_table("daily_end_user_spend")
