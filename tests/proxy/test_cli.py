"""``ledgerlm proxy``: a bad config stops the start with the path of the bad field (exit 2)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from ledgerlm.cli import build_app


def test_bad_config_exits_2_with_the_path(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "model_list:\n  - model_name: m\n    litellm_params: {model: openai/x, input_cost_per_token: -1}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(build_app(), ["proxy", "--config", str(config)])
    assert result.exit_code == 2
    assert "model_list[0].litellm_params.input_cost_per_token: must be >= 0" in result.output


def test_proxy_command_is_registered() -> None:
    result = CliRunner().invoke(build_app(), ["proxy", "--help"])
    assert result.exit_code == 0 and "--workers" in result.output
