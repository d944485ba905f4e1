"""Config loading and validation: env references, LiteLLM keys, bad values with their path."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ledgerlm.errors import ConfigError
from ledgerlm.proxy.config import format_path, load_config, parse_config

BASE = {
    "model_list": [
        {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "k"}},
    ]
}


def test_env_reference_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGERLM_TEST_MASTER", "sk-master-123")
    config = parse_config({**BASE, "general_settings": {"master_key": "os.environ/LEDGERLM_TEST_MASTER"}})
    assert config.general_settings.master_key == "sk-master-123"


def test_missing_env_reference_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDGERLM_TEST_ABSENT", raising=False)
    data = {
        "model_list": [
            {
                "model_name": "m",
                "litellm_params": {"model": "openai/x", "api_key": "os.environ/LEDGERLM_TEST_ABSENT"},
            }
        ]
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == (
        "model_list[0].litellm_params.api_key: environment variable LEDGERLM_TEST_ABSENT is not set"
    )


def test_negative_price_fails_with_path() -> None:
    data = {
        "model_list": [
            BASE["model_list"][0],
            {"model_name": "m2", "litellm_params": {"model": "openai/x", "input_cost_per_token": -1}},
        ]
    }
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    assert str(info.value) == "model_list[1].litellm_params.input_cost_per_token: must be >= 0"


def test_non_numeric_price_in_model_info_fails_with_path() -> None:
    data = {
        "model_list": [
            {
                "model_name": "m",
                "litellm_params": {"model": "openai/x"},
                "model_info": {"output_cost_per_token": "cheap"},
            }
        ]
    }
    with pytest.raises(
        ConfigError, match=r"^model_list\[0\]\.model_info\.output_cost_per_token: must be a number"
    ):
        parse_config(data)


def test_bad_type_fails_with_path() -> None:
    data = {**BASE, "litellm_settings": {"num_retries": -2}}
    with pytest.raises(ConfigError, match=r"^litellm_settings\.num_retries: "):
        parse_config(data)
    with pytest.raises(ConfigError, match=r"^model_list\[0\]\.litellm_params\.model: "):
        parse_config({"model_list": [{"model_name": "m", "litellm_params": {}}]})


def test_unknown_keys_are_accepted_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ledgerlm.proxy"):
        config = parse_config(
            {
                **BASE,
                "router_settings": {"routing_strategy": "simple-shuffle"},
                "general_settings": {"alerting": ["slack"]},
                "frobnicate": 1,
            }
        )
    messages = [r.getMessage() for r in caplog.records]
    assert sum("general_settings.alerting" in m for m in messages) == 1
    assert sum("'frobnicate'" in m for m in messages) == 1
    assert config.router_settings["routing_strategy"] == "simple-shuffle"


def test_litellm_keys_are_read(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        """
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://127.0.0.1:1/v1
      tags: [env:prod, "team:a"]
      rpm: 100
      timeout: 30
      max_retries: 1
    model_info: {id: dep-1, base_model: gpt-4o}
general_settings:
  master_key: sk-1234
  database_url: sqlite:///x.db
  store_prompts_in_spend_logs: true
  required_tags: ["team:"]
litellm_settings:
  callbacks: my_mod.handler
  extra_spend_tag_headers: [X-Service]
  turn_off_message_logging: true
  num_retries: 0
  request_timeout: 12.5
""",
        encoding="utf-8",
    )
    config = load_config(path)
    entry = config.model_list[0]
    assert entry.litellm_params.tags == ["env:prod", "team:a"]
    assert entry.litellm_params.rpm == 100 and entry.litellm_params.max_retries == 1
    assert entry.model_info.id == "dep-1" and entry.model_info.base_model == "gpt-4o"
    assert config.general_settings.required_tags == ["team:"]
    assert config.litellm_settings.callbacks == ["my_mod.handler"]
    assert config.litellm_settings.extra_spend_tag_headers == ["X-Service"]
    assert config.litellm_settings.request_timeout == 12.5
    assert config.database_url == "sqlite:///x.db"


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_list: [", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")


def test_format_path() -> None:
    assert format_path(("model_list", 1, "litellm_params", "x")) == "model_list[1].litellm_params.x"
    assert format_path(()) == ""


def test_environment_variables_section_resolves_references_without_touching_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LEDGERLM_TEST_FROM_SECTION", raising=False)
    config = parse_config(
        {
            "environment_variables": {"LEDGERLM_TEST_FROM_SECTION": "sk-from-section"},
            "general_settings": {"master_key": "os.environ/LEDGERLM_TEST_FROM_SECTION"},
        }
    )
    assert config.general_settings.master_key == "sk-from-section"
    assert "LEDGERLM_TEST_FROM_SECTION" not in os.environ
