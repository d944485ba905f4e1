"""Budget settings from the proxy config: validation with paths, LiteLLM keys, global periods."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from ledgerlm.budgets.config import parse_budget_config
from ledgerlm.budgets.store_io import GlobalBudget
from ledgerlm.errors import ConfigError
from ledgerlm.proxy.budget_setup import deployment_limits, warn_if_unshared
from ledgerlm.proxy.config import parse_config


def test_litellm_global_budget_and_settings() -> None:
    config = parse_budget_config(
        {"unpriced_models": "admit", "tags": {"team:a": {"max_budget": "5", "budget_duration": "1d"}}},
        general={"redis_url": "redis://127.0.0.1:6379/0", "alerting": ["slack"]},
        litellm={"max_budget": 100, "budget_duration": "30d"},
    )
    assert config.redis_url == "redis://127.0.0.1:6379/0"
    assert config.settings().unpriced == "admit"
    assert config.global_budget() == GlobalBudget(Decimal(100), "30d")
    assert config.tags["team:a"].max_budget == Decimal(5)
    assert config.alert_settings().slack_alerter
    assert config.alert_settings().thresholds == (Decimal("0.5"), Decimal("0.8"), Decimal(1))


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"unpriced_models": "maybe"}, "budget_settings.unpriced_models"),
        ({"tags": {"x": {"budget_duration": "1y"}}}, "budget_settings.tags.x.budget_duration"),
        ({"tags": {"x": {"max_budget": -1}}}, "budget_settings.tags.x.max_budget"),
        ({"no_such_setting": 1}, "budget_settings.no_such_setting"),
    ],
)
def test_bad_settings_name_their_path(raw: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_budget_config(raw)
    assert caught.value.path == path


def test_global_periods_are_aligned() -> None:
    now = datetime(2026, 3, 15, 13, 30, tzinfo=UTC)
    assert GlobalBudget(Decimal(1), "1d").period(now) == (
        datetime(2026, 3, 15, tzinfo=UTC),
        datetime(2026, 3, 16, tzinfo=UTC),
    )
    assert GlobalBudget(Decimal(1), "1mo").period(now) == (
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    start, end = GlobalBudget(Decimal(1)).period(now)
    assert end is None and start.year == 1970


def test_deployment_rate_limits_from_model_list() -> None:
    config = parse_config(
        {
            "model_list": [
                {
                    "model_name": "a",
                    "litellm_params": {"model": "openai/gpt-4o", "rpm": 10},
                    "model_info": {"id": "d1"},
                },
                {"model_name": "b", "litellm_params": {"model": "openai/gpt-4o"}},
            ]
        }
    )
    limits = deployment_limits(config)
    assert list(limits) == ["d1"]
    assert (limits["d1"].rpm_limit, limits["d1"].tpm_limit, limits["d1"].ref.kind) == (10, None, "deployment")


def test_workers_without_redis_are_warned(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    plain = parse_config({"model_list": []})
    assert warn_if_unshared(plain, 4)
    assert "4 workers without redis_url" in caplog.text
    assert not warn_if_unshared(plain, 1)
    shared = parse_config({"model_list": [], "general_settings": {"redis_url": "redis://127.0.0.1:6379/0"}})
    assert not warn_if_unshared(shared, 4)


def test_budget_refusal_status_follows_litellm_setting() -> None:
    """LiteLLM's ``litellm_settings.budget_exceeded_status_code``: 422 by default, 429 for our old form."""
    from ledgerlm.budgets.config import parse_budget_config

    assert parse_budget_config(None, litellm={}).settings().exceeded_status_code == 422
    assert (
        parse_budget_config(None, litellm={"budget_exceeded_status_code": 429})
        .settings()
        .exceeded_status_code
        == 429
    )
