"""``ledgerlm proxy`` with an unreachable Redis stops at start with ONE ``error:`` line (no traceback)
and exit status 1; the line names host, port and db, never the URL's password."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledgerlm.proxy.config import parse_config
from ledgerlm.proxy.server import check_redis


def _config(tmp_path: Path, redis_url: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: m\n"
        "    litellm_params: {model: openai/gpt-4o-mini, api_key: sk-up, api_base: 'http://127.0.0.1:9/v1'}\n"
        "general_settings:\n"
        "  master_key: sk-master\n"
        f"  database_url: 'sqlite:///{tmp_path / 'ledgerlm.db'}'\n"
        f"  spool_dir: '{tmp_path / 'spool'}'\n"
        f"  redis_url: '{redis_url}'\n",
        encoding="utf-8",
    )
    return path


def test_unreachable_redis_is_one_error_line(tmp_path: Path) -> None:
    config = _config(tmp_path, "redis://:pw-must-not-show@127.0.0.1:1/0")
    result = subprocess.run(
        [sys.executable, "-m", "ledgerlm.cli", "proxy", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "127.0.0.1:1/0" in lines[0] and "redis_url" in lines[0]
    assert "pw-must-not-show" not in lines[0] and "Traceback" not in lines[0]


def test_reachable_redis_passes_and_no_redis_is_not_checked(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    check_redis(parse_config({"general_settings": {"redis_url": redis_url}}))
    monkeypatch.delenv("REDIS_URL", raising=False)
    check_redis(parse_config({}))  # neither redis_url nor $REDIS_URL: nothing to check
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/3")
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1:1/3"):
        check_redis(parse_config({}))
    with pytest.raises(ConnectionError, match="unreachable"):
        check_redis(parse_config({"general_settings": {"redis_url": "redis://127.0.0.1:1/0"}}))
