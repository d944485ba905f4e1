"""All ledgerlm tables, SQLAlchemy 2 Core, one ``MetaData``.

Column names follow LiteLLM's Prisma schema (``LiteLLM_SpendLogs``, ``LiteLLM_VerificationToken``,
``LiteLLM_TeamTable``, ``LiteLLM_UserTable``, ``LiteLLM_EndUserTable``, ``LiteLLM_TagTable``,
``LiteLLM_Daily*Spend``) where issue 5 asks for compatibility; table names are lower-case snake case.

Write-mostly JSON blobs (``spend_logs.metadata``, ``messages``, ``response``) are ``JSONText``
(PostgreSQL ``json``: stored as written, no ``jsonb`` conversion on the hot insert path; ``->`` and
``->>`` still work); lists and small documents are ``JSONType`` (``jsonb``). Money columns are
``Money`` (exact USD, ``Decimal``), times are ``UTCDateTime`` (aware UTC), token counts are BIGINT
tokens. ``spend_logs.spend`` is NULL when the call was unpriced (never 0 for unknown). The schema is
created and changed only by the Alembic migrations in ``ledgerlm/migrations``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledgerlm.store.coltypes import JSONText, JSONType, Money, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TOKEN_COLUMNS: tuple[str, ...] = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "reasoning_tokens",
)


COUNTER_COLUMNS: tuple[str, ...] = (
    "api_requests",
    "successful_requests",
    "failed_requests",
    "unpriced_requests",
    *TOKEN_COLUMNS,
)
"""The count columns of the daily aggregate tables (requests, then tokens), besides ``spend``."""


def _tokens() -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in TOKEN_COLUMNS]


def _timestamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("created_at", UTCDateTime, nullable=False, server_default=sa.func.current_timestamp()),
        sa.Column("updated_at", UTCDateTime, nullable=False, server_default=sa.func.current_timestamp()),
    ]


def _budget() -> list[sa.Column[Any]]:
    """Budget fields (issue 7): USD amounts, a duration string (``30s``, ``1d``, ``1mo``) and next reset."""
    return [
        sa.Column("spend", Money, nullable=False, server_default="0"),
        sa.Column("max_budget", Money, nullable=True),
        sa.Column("soft_budget", Money, nullable=True),
        sa.Column("budget_duration", sa.String(32), nullable=True),
        sa.Column("budget_reset_at", UTCDateTime, nullable=True),
    ]


def _rate_limits() -> list[sa.Column[Any]]:
    return [
        sa.Column("tpm_limit", sa.BigInteger, nullable=True),
        sa.Column("rpm_limit", sa.BigInteger, nullable=True),
        sa.Column("max_parallel_requests", sa.Integer, nullable=True),
    ]


def _json(name: str, default: str) -> sa.Column[Any]:
    return sa.Column(name, JSONType, nullable=False, server_default=sa.text(f"'{default}'"))


spend_logs = sa.Table(
    "spend_logs",
    metadata,
    sa.Column("request_id", sa.String(255), primary_key=True),
    sa.Column("call_type", sa.String(32), nullable=False),
    sa.Column("api_key", sa.String(64), nullable=True),  # SHA-256 hex of the virtual key
    sa.Column("spend", Money, nullable=True),  # USD; NULL when unpriced
    *_tokens(),
    sa.Column("startTime", UTCDateTime, nullable=False),
    sa.Column("endTime", UTCDateTime, nullable=False),
    sa.Column("completionStartTime", UTCDateTime, nullable=True),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("model_id", sa.String(255), nullable=True),
    sa.Column("model_group", sa.String(255), nullable=True),
    sa.Column("custom_llm_provider", sa.String(64), nullable=True),
    sa.Column("api_base", sa.String(1024), nullable=True),
    sa.Column("user", sa.String(255), nullable=True),
    sa.Column("team_id", sa.String(255), nullable=True),
    sa.Column("organization_id", sa.String(255), nullable=True),
    sa.Column("end_user", sa.String(255), nullable=True),
    sa.Column("request_tags", JSONType, nullable=False),
    sa.Column("metadata", JSONText, nullable=False),
    sa.Column("cache_hit", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("requester_ip_address", sa.String(64), nullable=True),
    sa.Column("messages", JSONText, nullable=True),
    sa.Column("response", JSONText, nullable=True),
    # server-unique nonce of the call (uuid4 hex, migration 0003): tells a replay of the SAME call
    # (same nonce: skipped) from a different call reusing a client's request id (written and charged)
    sa.Column("call_uid", sa.String(32), nullable=True),
    # the price book entry the row was priced with (migration 0007; NULL: unpriced or older rows)
    sa.Column("price_id", sa.String(32), nullable=True),
    sa.Index(None, "startTime"),
    sa.Index(None, "api_key", "startTime"),
    sa.Index(None, "team_id", "startTime"),
    sa.Index(None, "user", "startTime"),
    sa.Index(None, "end_user", "startTime"),
    sa.Index(None, "model_group", "startTime"),
    sa.Index(None, "model", "startTime"),
    sa.Index(  # failures are rare: a partial index costs nothing on the (common) success rows
        "ix_spend_logs_failed_startTime",
        "startTime",
        postgresql_where=sa.text("status = 'failure'"),
        sqlite_where=sa.text("status = 'failure'"),
    ),
)

spend_log_tags = sa.Table(
    "spend_log_tags",
    metadata,
    sa.Column("request_id", sa.String(255), primary_key=True),
    sa.Column("tag", sa.String(255), primary_key=True),
    sa.Column("startTime", UTCDateTime, nullable=False),
    sa.Index(None, "tag", "startTime"),
)


def _daily(name: str, entity: str, *, with_model: bool = True) -> sa.Table:
    """A daily aggregate table: one row per (UTC date, entity[, model]); spend USD, counts, tokens."""
    keys: list[sa.Column[Any]] = [
        sa.Column("date", sa.Date, primary_key=True),
        sa.Column(entity, sa.String(255), primary_key=True),
    ]
    if with_model:
        keys.append(sa.Column("model", sa.String(255), primary_key=True))
    return sa.Table(
        name,
        metadata,
        *keys,
        sa.Column("spend", Money, nullable=False, server_default="0"),
        sa.Column("api_requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("successful_requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("failed_requests", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("unpriced_requests", sa.BigInteger, nullable=False, server_default="0"),
        *_tokens(),
    )


daily_key_spend = _daily("daily_key_spend", "api_key")
daily_user_spend = _daily("daily_user_spend", "user_id")
daily_team_spend = _daily("daily_team_spend", "team_id")
daily_model_spend = _daily("daily_model_spend", "model", with_model=False)
daily_provider_spend = _daily("daily_provider_spend", "custom_llm_provider")  # migration 0011 (dashboard)

DAILY_TABLES: dict[str, sa.Table] = {
    "key": daily_key_spend,
    "user": daily_user_spend,
    "team": daily_team_spend,
    "model": daily_model_spend,
    "provider": daily_provider_spend,
}
"""The per-model splits (day x entity x model) a restricted caller's "by model" view needs, and the
model / provider rollups. Migration 0017 replaced ``daily_end_user_spend`` and ``daily_tag_spend``
(nothing read their model split) by the day x entity tables below."""

# migration 0017 (issue 21): rollups WITHOUT the model split (one row per UTC day x entity), so the
# dashboard overview and the spend reports sum ~models-times fewer rows; kept by the same writer
daily_key_totals = _daily("daily_key_totals", "api_key", with_model=False)
daily_user_totals = _daily("daily_user_totals", "user_id", with_model=False)
daily_team_totals = _daily("daily_team_totals", "team_id", with_model=False)
daily_end_user_totals = _daily("daily_end_user_totals", "end_user", with_model=False)
daily_tag_totals = _daily("daily_tag_totals", "tag", with_model=False)
sa.Index("ix_daily_key_totals_api_key_date", daily_key_totals.c.api_key, daily_key_totals.c.date)

DAILY_TOTAL_TABLES: dict[str, sa.Table] = {
    "key": daily_key_totals,
    "user": daily_user_totals,
    "team": daily_team_totals,
    "end_user": daily_end_user_totals,
    "tag": daily_tag_totals,
    "model": daily_model_spend,  # already one row per day x model
}
"""Per kind, the NARROWEST rollup (day x entity): what totals and per-entity groups read."""

# migration 0017: the same per ISO week (``date`` is the week's Monday, UTC) for the entities that come
# by thousands: a 30-day overview of 5,000 end users sums ~4 weekly rows and the edge days per entity
# instead of 30 daily rows (teams and tags are few: their daily rows are cheap to sum)
weekly_key_totals = _daily("weekly_key_totals", "api_key", with_model=False)
weekly_user_totals = _daily("weekly_user_totals", "user_id", with_model=False)
weekly_end_user_totals = _daily("weekly_end_user_totals", "end_user", with_model=False)

WEEKLY_TOTAL_TABLES: dict[str, sa.Table] = {
    "key": weekly_key_totals,
    "user": weekly_user_totals,
    "end_user": weekly_end_user_totals,
}
"""Per kind, the ISO-week x entity rollup (``date``: the Monday): full weeks of a range read it."""

# migration 0018: how far the weekly rollups are built (``store.weekly``): row ``name = 'weekly'``,
# ``built_through`` = the Monday of the last ISO week folded from the daily rollups
rollup_watermarks = sa.Table(
    "rollup_watermarks",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("built_through", sa.Date, nullable=False),
)

# migration 0018: the PostgreSQL writer's per-batch rollup aggregates, folded into the rollups in bulk
# (``store.rollup_deltas``); no key and no index: the writer only appends, the fold deletes them all
rollup_deltas = sa.Table(
    "rollup_deltas",
    metadata,
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("api_key", sa.String(255), nullable=True),
    sa.Column("user", sa.String(255), nullable=True),
    sa.Column("team_id", sa.String(255), nullable=True),
    sa.Column("end_user", sa.String(255), nullable=True),
    sa.Column("model", sa.String(255), nullable=True),
    sa.Column("custom_llm_provider", sa.String(255), nullable=True),
    sa.Column("tag", sa.String(255), nullable=True),  # set on the per-tag rows only
    sa.Column("spend", Money, nullable=False, server_default="0"),
    *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in COUNTER_COLUMNS),
)

ALL_DAILY_TABLES: dict[str, sa.Table] = {
    **DAILY_TABLES,
    **{f"{kind}_totals": table for kind, table in DAILY_TOTAL_TABLES.items() if kind != "model"},
    **{f"{kind}_weekly": table for kind, table in WEEKLY_TOTAL_TABLES.items()},
}
"""Every rollup the spend writer keeps, by kind (``key``, ..., ``key_totals``, ..., ``key_weekly``)."""

# migration 0017: PostgreSQL partitions ``spend_logs`` by UTC day, so its primary key becomes
# (request_id, startTime); this un-partitioned table keeps a request id unique ACROSS days (the
# writer's exactly-once check and the reused-request-id rename, ``store.ingest``). PostgreSQL only.
spend_log_ids = sa.Table(
    "spend_log_ids",
    metadata,
    sa.Column("request_id", sa.String(255), primary_key=True),
    sa.Column("startTime", UTCDateTime, nullable=False),
)

verification_tokens = sa.Table(
    "verification_tokens",
    metadata,
    sa.Column("token", sa.String(64), primary_key=True),  # SHA-256 hex of the key, never the key
    sa.Column("key_name", sa.String(64), nullable=True),  # masked: "sk-...abcd"
    sa.Column("key_alias", sa.String(255), nullable=True, index=True),
    _json("models", "[]"),
    *_budget(),
    *_rate_limits(),
    _json("metadata", "{}"),
    sa.Column("team_id", sa.String(255), nullable=True, index=True),
    sa.Column("user_id", sa.String(255), nullable=True, index=True),
    sa.Column("organization_id", sa.String(255), nullable=True),
    sa.Column("expires", UTCDateTime, nullable=True),
    sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.false()),
    *_timestamps(),
    sa.Column("budget_id", sa.String(255), nullable=True),  # a budget tier (migration 0005)
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("team_id", sa.String(255), primary_key=True),
    sa.Column("team_alias", sa.String(255), nullable=True),
    sa.Column("organization_id", sa.String(255), nullable=True, index=True),
    _json("models", "[]"),
    _json("tags", "[]"),
    _json("members", "[]"),
    _json("metadata", "{}"),
    *_budget(),
    *_rate_limits(),
    sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.false()),
    *_timestamps(),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("user_alias", sa.String(255), nullable=True),
    sa.Column("user_email", sa.String(255), nullable=True, index=True),
    sa.Column("user_role", sa.String(64), nullable=True),
    sa.Column("password_hash", sa.String(255), nullable=True),  # /login (migration 0011); scrypt, never clear
    sa.Column("organization_id", sa.String(255), nullable=True),
    _json("models", "[]"),
    _json("teams", "[]"),
    *_budget(),
    *_rate_limits(),
    _json("metadata", "{}"),
    *_timestamps(),
    sa.Column("budget_id", sa.String(255), nullable=True),  # a budget tier (migration 0005)
)

end_users = sa.Table(
    "end_users",
    metadata,
    sa.Column("user_id", sa.String(255), primary_key=True),
    sa.Column("alias", sa.String(255), nullable=True),
    *_budget(),
    sa.Column("allowed_model_region", sa.String(32), nullable=True),
    sa.Column("default_model", sa.String(255), nullable=True),
    sa.Column("blocked", sa.Boolean, nullable=False, server_default=sa.false()),
    _json("metadata", "{}"),
    *_timestamps(),
    # migration 0005: a budget tier, and per-end-user rate limits (LiteLLM keeps them in the tier)
    sa.Column("budget_id", sa.String(255), nullable=True),
    sa.Column("tpm_limit", sa.BigInteger, nullable=True),
    sa.Column("rpm_limit", sa.BigInteger, nullable=True),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("tag_name", sa.String(255), primary_key=True),
    sa.Column("description", sa.Text, nullable=True),
    _json("models", "[]"),
    *_budget(),
    *_rate_limits(),
    _json("metadata", "{}"),
    *_timestamps(),
)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("organization_id", sa.String(255), primary_key=True),
    sa.Column("organization_alias", sa.String(255), nullable=True),
    _json("models", "[]"),
    *_budget(),
    *_rate_limits(),
    _json("metadata", "{}"),
    *_timestamps(),
)

reconcile_runs = sa.Table(  # issue 18: one row per reconciliation run (migration 0006)
    "reconcile_runs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("provider", sa.String(64), nullable=False),
    sa.Column("from_date", sa.Date, nullable=False),
    sa.Column("to_date", sa.Date, nullable=False),
    # exact decimal text (USD; capture_rate NULL when the provider billed nothing): never rounded
    sa.Column("ledger_usd", sa.String(64), nullable=False),
    sa.Column("provider_usd", sa.String(64), nullable=False),
    sa.Column("capture_rate", sa.String(64), nullable=True),
    sa.Column("tolerance", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows", sa.Text, nullable=False),  # JSON text of the explained rows, exact numbers
    sa.Column("created_at", UTCDateTime, nullable=False, server_default=sa.func.current_timestamp()),
    sa.Index(None, "provider", "created_at"),
)

budgets = sa.Table(  # budget tiers (LiteLLM ``LiteLLM_BudgetTable``, ``/budget/new``), migration 0005
    "budgets",
    metadata,
    sa.Column("budget_id", sa.String(255), primary_key=True),
    sa.Column("max_budget", Money, nullable=True),
    sa.Column("soft_budget", Money, nullable=True),
    sa.Column("budget_duration", sa.String(32), nullable=True),
    sa.Column("budget_reset_at", UTCDateTime, nullable=True),
    *_rate_limits(),
    _json("model_max_budget", "{}"),
    *_timestamps(),
)

proxy_models = sa.Table(  # models added with ``/model/new`` (``store_model_in_db``), migration 0005
    "proxy_models",
    metadata,
    sa.Column("model_id", sa.String(255), primary_key=True),
    sa.Column("model_name", sa.String(255), nullable=False, index=True),
    _json("litellm_params", "{}"),  # credentials only as os.environ/NAME references, never values
    _json("model_info", "{}"),
    *_timestamps(),
)

# --- issue 19: price book, adjustments, closed periods (migration 0007; see ledgerlm.ledger) ---

price_book = sa.Table(
    "price_book",
    metadata,
    sa.Column("entry_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("price_id", sa.String(32), nullable=False, index=True),
    sa.Column("model", sa.String(255), nullable=False),  # the priced model, "provider/model"
    sa.Column("source", sa.String(16), nullable=False),  # catalog | custom | provider
    sa.Column("effective_from", UTCDateTime, nullable=False),
    sa.Column("effective_to", UTCDateTime, nullable=True),  # exclusive; NULL: still in force
    sa.Column("model_ref", sa.String(255), nullable=True),
    sa.Column("data_version", sa.String(128), nullable=True),
    _json("prices", "{}"),  # custom: LiteLLM price keys -> decimal strings (USD per unit)
    sa.Column("note", sa.String(255), nullable=True),
    sa.Column("recorded_at", UTCDateTime, nullable=False, server_default=sa.func.current_timestamp()),
    sa.Index(None, "model", "effective_from"),
)

spend_adjustments = sa.Table(
    "spend_adjustments",
    metadata,
    sa.Column("adjustment_id", sa.String(64), primary_key=True),
    sa.Column("request_id", sa.String(255), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),  # 1, 2, ... per request id (append-only)
    sa.Column("kind", sa.String(16), nullable=False),  # reprice | backfill
    sa.Column("period", sa.String(7), nullable=False),  # YYYY-MM it lands in (always open)
    sa.Column("charge_time", UTCDateTime, nullable=False),  # when it counts (reports, budgets)
    sa.Column("original_time", UTCDateTime, nullable=False),  # the corrected call's startTime
    sa.Column("corrects_period", sa.String(7), nullable=True),  # set when that period was closed
    sa.Column("booked_at", UTCDateTime, nullable=False),
    sa.Column("old_price_id", sa.String(32), nullable=True),
    sa.Column("new_price_id", sa.String(32), nullable=False),
    sa.Column("old_spend", Money, nullable=True),  # the row's cost before (NULL: unpriced)
    sa.Column("new_spend", Money, nullable=False),
    sa.Column("delta", Money, nullable=False),  # new_spend - old_spend (may be negative)
    _json("breakdown", "{}"),  # the new cost per category, decimal strings
    sa.Column("actor", sa.String(255), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(32), nullable=False),
    sa.Column("api_key", sa.String(64), nullable=True),
    sa.Column("team_id", sa.String(255), nullable=True),
    sa.Column("user", sa.String(255), nullable=True),
    sa.Column("organization_id", sa.String(255), nullable=True),
    sa.Column("end_user", sa.String(255), nullable=True),
    sa.Column("model", sa.String(255), nullable=False),
    sa.Column("model_group", sa.String(255), nullable=True),
    sa.Column("custom_llm_provider", sa.String(64), nullable=True),
    _json("request_tags", "[]"),
    sa.UniqueConstraint("request_id", "seq"),
    sa.Index(None, "charge_time"),
    sa.Index(None, "period"),
    sa.Index(None, "run_id"),
)

ledger_periods = sa.Table(
    "ledger_periods",
    metadata,
    sa.Column("period", sa.String(7), primary_key=True),  # YYYY-MM (UTC month)
    sa.Column("status", sa.String(16), nullable=False),  # closed (a closed period never reopens)
    sa.Column("closed_at", UTCDateTime, nullable=False),
    sa.Column("closed_by", sa.String(255), nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("report", sa.Text, nullable=False),  # the frozen period report (canonical JSON text)
    sa.Column("checksum", sa.String(64), nullable=False),  # SHA-256 of that text
)
