"""Saved reports (``--report FILE``): each provider format matching a ledger exactly, units (OpenAI
dollars, Anthropic cents), UTC bucket edges and inclusive days, CSV exports (console, Bedrock CUR,
Vertex BigQuery billing export), OpenRouter activity, exit statuses and bad input."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from tests.reconcile.ledger_rows import spend_row, write_ledger
from typer.testing import CliRunner

from ledgerlm.cli import build_app
from ledgerlm.ledger.reconcile.anthropic_report import read_anthropic_pages
from ledgerlm.ledger.reconcile.model import dumps
from ledgerlm.ledger.reconcile.openai_report import read_openai_pages
from ledgerlm.ledger.reconcile.report import parse_json
from ledgerlm.pricing import compile_price
from ledgerlm.types import Usage

DAY = date(2026, 3, 14)
NOON = datetime(2026, 3, 14, 12, tzinfo=UTC)
EPOCH = int(datetime(2026, 3, 14, tzinfo=UTC).timestamp())
MINI = Usage(input_tokens=2000, cache_read_tokens=1000, output_tokens=300)
HAIKU = Usage(input_tokens=1500, cache_read_tokens=400, cache_write_tokens=100, output_tokens=50)


def cost_of(provider: str, model: str, usage: Usage) -> dict[str, Decimal]:
    return dict(compile_price(provider, model).cost(usage).breakdown)


def run(tmp_path: Path, database_url: str, provider: str, *reports: Any, **opts: str) -> tuple[int, Any]:
    paths = []
    for index, report in enumerate(reports):
        name = f"report{index}.csv" if isinstance(report, str) else f"report{index}.json"
        path = tmp_path / name
        path.write_bytes(report.encode() if isinstance(report, str) else dumps(report))
        paths += ["--report", str(path)]
    args = ["reconcile", "--provider", provider, "--from", opts.get("start", "2026-03-14")]
    args += ["--to", opts.get("end", "2026-03-14"), "--database-url", database_url, "--json", *paths]
    result = CliRunner().invoke(build_app(), args)
    if result.exit_code == 2:
        return 2, result.output
    return result.exit_code, parse_json(result.stdout)


def openai_costs(
    amounts: dict[str, Decimal], start: int = EPOCH, *, model: str = "gpt-4o-mini-2024-07-18"
) -> dict[str, Any]:
    kinds = {"input": "input", "cache_read": "cached input", "output": "output"}
    results = [
        {
            "object": "organization.costs.result",
            "amount": {"value": value, "currency": "usd"},
            "line_item": f"{model}, {kinds[key]}",
            "project_id": None,
        }
        for key, value in amounts.items()
    ]
    bucket = {"object": "bucket", "start_time": start, "end_time": start + 86400, "results": results}
    return {"object": "page", "data": [bucket], "has_more": False, "next_page": None}


def openai_usage(usage: Usage, start: int = EPOCH) -> dict[str, Any]:
    result = {
        "object": "organization.usage.completions.result",
        "input_tokens": usage.input_tokens,
        "input_cached_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": 1,
        "project_id": None,
        "user_id": None,
        "api_key_id": None,
        "model": "gpt-4o-mini-2024-07-18",
        "batch": None,
    }
    bucket = {"object": "bucket", "start_time": start, "end_time": start + 86400, "results": [result]}
    return {"object": "page", "data": [bucket], "has_more": False, "next_page": None}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ledger.db"


def test_openai_report_files_match_exactly(tmp_path: Path, sqlite_url: str) -> None:
    write_ledger(sqlite_url, [spend_row("openai", "gpt-4o-mini", NOON, MINI)])
    costs = cost_of("openai", "gpt-4o-mini", MINI)
    status, result = run(tmp_path, sqlite_url, "openai", openai_costs(costs), openai_usage(MINI))
    assert status == 0
    assert {r["explanation"] for r in result["rows"]} == {"matched"}
    assert result["capture_rate"] == 1 and result["provider_usd"] == sum(costs.values())
    assert {r["category"]: r["provider_tokens"] for r in result["rows"]} == {
        "input": 1000,
        "cached_input": 1000,
        "output": 300,
    }


def test_openai_amounts_are_dollars_and_anthropic_cents(tmp_path: Path) -> None:
    page = openai_costs({"input": Decimal("1.2345")})
    assert read_openai_pages([parse_json(dumps(page))]).lines[0].usd == Decimal("1.2345")
    cents = {
        "data": [
            {
                "starting_at": "2026-03-14T00:00:00Z",
                "ending_at": "2026-03-15T00:00:00Z",
                "results": [
                    {
                        "currency": "USD",
                        "amount": "123.45",
                        "workspace_id": None,
                        "description": None,
                        "cost_type": "tokens",
                        "context_window": "0-200k",
                        "model": "claude-3-5-haiku-20241022",
                        "service_tier": "standard",
                        "token_type": "uncached_input_tokens",
                    }
                ],
            }
        ],
        "has_more": False,
        "next_page": None,
    }
    (line,) = read_anthropic_pages([cents]).lines
    assert line.usd == Decimal("1.2345") and line.cell.category == "input" and line.cell.day == DAY


def test_anthropic_report_files_match_exactly_on_postgres(tmp_path: Path, pg_url: str) -> None:
    write_ledger(pg_url, [spend_row("anthropic", "claude-3-5-haiku-20241022", NOON, HAIKU)])
    costs = cost_of("anthropic", "claude-3-5-haiku-20241022", HAIKU)
    types = {
        "input": "uncached_input_tokens",
        "cache_read": "cache_read_input_tokens",
        "cache_write": "cache_creation.ephemeral_5m_input_tokens",
        "output": "output_tokens",
    }
    results = [
        {
            "currency": "USD",
            "amount": format(value * 100, "f"),
            "workspace_id": None,
            "description": "x",
            "cost_type": "tokens",
            "context_window": "0-200k",
            "model": "claude-3-5-haiku-20241022",
            "service_tier": "standard",
            "token_type": types[key],
        }
        for key, value in costs.items()
    ]
    bucket = {"starting_at": "2026-03-14T00:00:00Z", "ending_at": "2026-03-15T00:00:00Z"}
    cost_page = {"data": [{**bucket, "results": results}], "has_more": False, "next_page": None}
    usage_result = {
        "uncached_input_tokens": 1000,
        "cache_read_input_tokens": 400,
        "output_tokens": 50,
        "cache_creation": {"ephemeral_5m_input_tokens": 100, "ephemeral_1h_input_tokens": 0},
        "server_tool_use": {"web_search_requests": 0},
        "model": "claude-3-5-haiku-20241022",
    }
    usage_page = {"data": [{**bucket, "results": [usage_result]}], "has_more": False, "next_page": None}
    status, result = run(tmp_path, pg_url, "anthropic", cost_page, usage_page)
    assert status == 0, result
    assert {r["explanation"] for r in result["rows"]} == {"matched"}
    assert result["capture_rate"] == 1 and result["ledger_usd"] == sum(costs.values())


def test_utc_bucket_edges_and_inclusive_days(tmp_path: Path, sqlite_url: str) -> None:
    last_second = datetime(2026, 3, 14, 23, 59, 59, tzinfo=UTC)
    next_midnight = datetime(2026, 3, 15, tzinfo=UTC)
    write_ledger(
        sqlite_url,
        [
            spend_row("openai", "gpt-4o-mini", last_second, MINI),
            spend_row("openai", "gpt-4o-mini", next_midnight, MINI),
        ],
    )
    costs = cost_of("openai", "gpt-4o-mini", MINI)
    # the report's bucket for 03-14 (epoch start) holds the 23:59:59 call; --to 2026-03-14 excludes 03-15
    status, result = run(tmp_path, sqlite_url, "openai", openai_costs(costs), openai_usage(MINI))
    assert status == 0 and result["capture_rate"] == 1
    assert {r["date"] for r in result["rows"]} == {"2026-03-14"}
    # a report whose 03-15 bucket holds BOTH calls (it put the 23:59:59 one a day late): the 03-14 and
    # 03-15 differences net out -> day_boundary on both days, capture rate exactly 1
    double = {k: v * 2 for k, v in costs.items()}
    twice = Usage(input_tokens=4000, cache_read_tokens=2000, output_tokens=600)
    status, result = run(
        tmp_path,
        sqlite_url,
        "openai",
        openai_costs(double, EPOCH + 86400),
        openai_usage(twice, EPOCH + 86400),
        end="2026-03-15",
    )
    assert status == 0 and result["capture_rate"] == 1
    assert {r["explanation"] for r in result["rows"]} == {"day_boundary"}
    assert {r["date"] for r in result["rows"]} == {"2026-03-14", "2026-03-15"}


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def test_console_csv_export(tmp_path: Path, sqlite_url: str) -> None:
    write_ledger(sqlite_url, [spend_row("openai", "gpt-4o-mini", NOON, MINI)])
    costs = cost_of("openai", "gpt-4o-mini", MINI)
    names = {"input": ("input", 1000), "cache_read": ("cached input", 1000), "output": ("output", 300)}
    rows = [
        {
            "date": "2026-03-14",
            "model": "gpt-4o-mini-2024-07-18",
            "line_item": f"gpt-4o-mini, {names[k][0]}",
            "tokens": names[k][1],
            "cost_usd": format(v, "f"),
        }
        for k, v in costs.items()
    ]
    status, result = run(tmp_path, sqlite_url, "openai", _csv(rows))
    assert status == 0 and result["capture_rate"] == 1
    assert {r["explanation"] for r in result["rows"]} == {"matched"}
    # the same export with one row's cost doubled: drift beyond tolerance, exit 4
    rows[2]["cost_usd"] = format(costs["output"] * 2, "f")
    status, result = run(tmp_path, sqlite_url, "openai", _csv(rows))
    total = sum(costs.values())
    assert status == 4 and result["capture_rate"] == total / (total + costs["output"])


def test_bedrock_cur_csv(tmp_path: Path, sqlite_url: str) -> None:
    model = "anthropic.claude-3-5-haiku-20241022-v1:0"
    usage = Usage(input_tokens=1000, output_tokens=200)
    write_ledger(sqlite_url, [spend_row("bedrock", model, NOON, usage)])
    costs = cost_of("bedrock", model, usage)
    assert costs, "the catalog prices this Bedrock model"
    kinds = {"input": ("input-tokens", 1000), "output": ("output-tokens", 200)}
    rows = [
        {
            "lineItem/UsageStartDate": "2026-03-14T12:00:00Z",
            "lineItem/ProductCode": "AmazonBedrock",
            "lineItem/UsageType": f"USE1-{model}-{kinds[k][0]}",
            "lineItem/UsageAmount": kinds[k][1],
            "lineItem/UnblendedCost": format(v, "f"),
            "model": model,
        }
        for k, v in costs.items()
    ]
    rows.append({**rows[0], "lineItem/ProductCode": "AmazonEC2", "lineItem/UnblendedCost": "99"})
    status, result = run(tmp_path, sqlite_url, "bedrock", _csv(rows))
    assert status == 0 and result["capture_rate"] == 1, result


def test_vertex_billing_export_csv_untracked(tmp_path: Path, sqlite_url: str) -> None:
    write_ledger(sqlite_url, [])
    rows = [
        {
            "usage_start_time": "2026-03-14 05:00:00 UTC",
            "service.description": "Vertex AI",
            "sku.description": "Gemini 2.0 Flash Input Text",
            "usage.amount": 4000,
            "cost": "0.0004",
        }
    ]
    status, result = run(tmp_path, sqlite_url, "vertex", _csv(rows))
    assert status == 4 and result["capture_rate"] == 0
    (row,) = result["rows"]
    assert (row["model"], row["category"], row["explanation"]) == (
        "gemini-2.0-flash",
        "input",
        "untracked_traffic",
    )


def test_openrouter_activity(tmp_path: Path, sqlite_url: str) -> None:
    usage = Usage(input_tokens=100, output_tokens=20, provider_cost=Decimal("0.00042"))
    write_ledger(sqlite_url, [spend_row("openrouter", "openai/gpt-4o", NOON, usage)])
    activity = {
        "data": [
            {
                "date": "2026-03-14",
                "model": "openai/gpt-4o",
                "usage": Decimal("0.00042"),
                "requests": 1,
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "reasoning_tokens": 0,
            }
        ]
    }
    status, result = run(tmp_path, sqlite_url, "openrouter", activity)
    assert status == 0, result
    (row,) = result["rows"]
    assert (row["model"], row["category"], row["explanation"]) == ("gpt-4o", "total", "matched")
    assert row["ledger_tokens"] == row["provider_tokens"] == 120


@pytest.mark.parametrize(
    "args",
    [
        ["--from", "2026-13-01", "--to", "2026-03-14", "--report", "x.json"],
        ["--from", "2026-03-14", "--to", "2026-03-13", "--report", "x.json"],
        ["--from", "2026-03-14", "--to", "2026-03-14"],
        ["--from", "2026-03-14", "--to", "2026-03-14", "--report", "missing.json"],
        ["--from", "2026-03-14", "--to", "2026-03-14", "--report", "x.json", "--tolerance", "-1"],
        ["--from", "2026-03-14", "--to", "2026-03-14", "--report", "bad.json"],
        ["--from", "2026-03-14", "--to", "2026-03-14", "--pull"],
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, sqlite_url: str, args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ledger(sqlite_url, [])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_ADMIN_KEY", raising=False)
    (tmp_path / "x.json").write_bytes(orjson.dumps(openai_costs({})))
    (tmp_path / "bad.json").write_text('{"not": "a page"}')
    result = CliRunner().invoke(
        build_app(), ["reconcile", "--provider", "openai", "--database-url", sqlite_url, *args]
    )
    assert result.exit_code == 2, result.output
    assert result.output.strip()


def test_table_output_lists_differences(tmp_path: Path, sqlite_url: str) -> None:
    write_ledger(sqlite_url, [spend_row("openai", "gpt-4o-mini", NOON, MINI)])
    (tmp_path / "r.json").write_bytes(dumps(openai_costs({"input": Decimal("1")})))
    args = [
        "reconcile",
        "--provider",
        "openai",
        "--from",
        "2026-03-14",
        "--to",
        "2026-03-14",
        "--database-url",
        sqlite_url,
        "--report",
        str(tmp_path / "r.json"),
    ]
    done = subprocess.run(
        [sys.executable, "-m", "ledgerlm.cli", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 4, done.stderr
    assert "DRIFT" in done.stdout
    # $1 for 1,000 input tokens is $1,000 per million: far from the catalog's $0.15
    assert "provider_report_anomaly" in done.stdout and "-0.99985" in done.stdout


def test_accounts_from_config_split_cells_by_project(tmp_path: Path, sqlite_url: str) -> None:
    config = {
        "model_list": [
            {
                "model_name": "mini",
                "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-x"},
                "model_info": {"id": "dep-a", "provider_account_id": "proj_a"},
            }
        ],
        "general_settings": {"database_url": sqlite_url},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    write_ledger(sqlite_url, [spend_row("openai", "gpt-4o-mini", NOON, MINI, model_id="dep-a")])
    costs = cost_of("openai", "gpt-4o-mini", MINI)
    ours = openai_costs(costs)
    for result in ours["data"][0]["results"]:
        result["project_id"] = "proj_a"
    theirs = openai_costs({"input": Decimal("0.5")})  # another project's key, never through the gateway
    theirs["data"][0]["results"][0]["project_id"] = "proj_b"
    (tmp_path / "r.json").write_bytes(dumps([ours, theirs]))
    args = [
        "reconcile",
        "--config",
        str(tmp_path / "config.yaml"),
        "--provider",
        "openai",
        "--from",
        "2026-03-14",
        "--to",
        "2026-03-14",
        "--report",
        str(tmp_path / "r.json"),
        "--json",
    ]
    done = CliRunner().invoke(build_app(), args)
    assert done.exit_code == 4, done.output
    rows = parse_json(done.stdout)["rows"]
    assert {(r["account"], r["explanation"]) for r in rows} == {
        ("proj_a", "matched"),
        ("proj_b", "untracked_traffic"),
    }
