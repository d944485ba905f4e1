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
