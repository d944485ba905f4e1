"""``ledgerlm cost`` and ``ledgerlm prices show`` through the real typer app (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ledgerlm.cli import build_app

runner = CliRunner()

BODY = {
    "object": "chat.completion",
    "model": "gpt-4o-2024-08-06",
    "usage": {"prompt_tokens": 16, "completion_tokens": 12, "total_tokens": 28},
}


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(build_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_priced_body(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps(BODY))
    code, out, _ = _run("cost", str(path), "--at", "2026-11-01T12:00:00Z")
    assert code == 0
    data = json.loads(out)
    assert (data["provider"], data["model"]) == ("openai", "gpt-4o-2024-08-06")
    assert data["usage"]["input_tokens"] == 16 and data["usage"]["output_tokens"] == 12
    # 16*2.5e-6 + 12*10e-6 = 0.00004 + 0.00012
    assert data["cost"]["total"] == "0.0001600" and data["cost"]["currency"] == "USD"
    assert data["price"] == {
        "source": "catalog",
        "model_ref": "openai/gpt-4o",
        "tier": None,
        "data_version": data["price"]["data_version"],
    }
    assert data["price"]["data_version"].startswith("genai-prices ")


def test_unpriced_exit_3(tmp_path: Path) -> None:
    path = tmp_path / "body.json"
    path.write_text(json.dumps({**BODY, "model": "acme-internal-llm-7"}))
    code, out, _ = _run("cost", str(path))
    assert code == 3
    data = json.loads(out)
    assert data["cost"]["total"] is None and "acme-internal-llm-7" in data["cost"]["unpriced_reason"]


def test_bad_input_exit_2(tmp_path: Path) -> None:
    code, _, err = _run("cost", str(tmp_path / "missing.json"))
    assert code == 2 and "cannot read" in err
    bad = tmp_path / "bad.txt"
    bad.write_text("hello")
    code, _, err = _run("cost", str(bad))
    assert code == 2 and err.strip()
    good = tmp_path / "body.json"
    good.write_text(json.dumps(BODY))
    code, _, err = _run("cost", str(good), "--provider", "nosuchprovider")
    assert code == 2 and "unknown provider" in err


def test_config_model_name(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "model_list:\n  - model_name: mine\n    litellm_params: {model: openai/gpt-4o,"
        " input_cost_per_token: 0.000001, output_cost_per_token: 0.000002}\n"
    )
    body = tmp_path / "body.json"
    body.write_text(json.dumps(BODY))
    code, out, _ = _run("cost", str(body), "--config", str(config), "--model", "mine")
    data = json.loads(out)
    assert code == 0 and data["price"]["source"] == "custom"
    assert data["cost"]["total"] == "0.000040"  # 16*1e-6 + 12*2e-6


def test_prices_show() -> None:
    code, out, _ = _run("prices", "show", "openai", "gpt-4o-2024-08-06")
    assert code == 0
    data = json.loads(out)
    assert data["model_ref"] == "openai/gpt-4o" and data["rates_usd"]["input"]["per_unit"] == "0.0000025"
    code, _, _ = _run("prices", "show", "openai", "acme-internal-llm-7")
    assert code == 3
