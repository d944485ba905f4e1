"""Sections the proxy reads (``callback_settings`` for exporters, ``budget_settings``) are known keys:
no "unknown key ... ignored" warning for them, while a real typo still gets one."""

from __future__ import annotations

import logging

import pytest

from ledgerlm.proxy.config import parse_config

BASE = {"model_list": [{"model_name": "m", "litellm_params": {"model": "openai/gpt-4o-mini"}}]}


def test_callback_settings_is_a_known_section(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ledgerlm.proxy"):
        config = parse_config({**BASE, "callback_settings": {"file": {"directory": "/tmp/x"}}})
    assert config.callback_settings == {"file": {"directory": "/tmp/x"}}
    assert config.model_dump()["callback_settings"]["file"]["directory"] == "/tmp/x"
    assert not [r for r in caplog.records if "unknown key" in r.getMessage()]


def test_a_typo_still_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="ledgerlm.proxy"):
        parse_config({**BASE, "callback_setings": {}})
    assert any("callback_setings" in r.getMessage() for r in caplog.records)


def test_deployments_without_a_needed_key_are_warned_about_at_load(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from ledgerlm.proxy.models import build_registry, warn_missing_keys

    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "VLLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GEMINI_API_KEY", "from-env")
    entries = [
        ("claude", {"model": "anthropic/claude-sonnet-4-20250514"}, "claude-1"),
        ("gpt", {"model": "openai/gpt-4o-mini", "api_key": "set"}, "gpt-1"),
        ("gemini", {"model": "gemini/gemini-2.5-flash"}, "gemini-1"),
        ("local", {"model": "vllm/llama"}, "local-1"),
    ]
    config = parse_config(
        {
            "model_list": [
                {"model_name": name, "litellm_params": params, "model_info": {"id": dep_id}}
                for name, params, dep_id in entries
            ]
        }
    )
    with caplog.at_level(logging.WARNING, logger="ledgerlm.proxy"):
        warned = warn_missing_keys(build_registry(config))
    assert warned == ["claude-1"]
    assert any("ANTHROPIC_API_KEY" in r.getMessage() for r in caplog.records)
