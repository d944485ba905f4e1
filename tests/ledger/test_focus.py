"""FOCUS 1.2 export on SQLite and PostgreSQL, checked column by column against the specification
(FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, specification/columns): the Mandatory columns are present
and non-null where the specification says so, the types are right (CSV text and Parquet types), the
allowed values are used, and BilledCost sums to the ledger's original + adjustments, at every
granularity. A closed period exports the same bytes every time."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from tests.store.factories import uid
from typer.testing import CliRunner

from ledgerlm.cli import build_app
from ledgerlm.ledger.adjustments import RunInfo
from ledgerlm.ledger.focus_columns import COLUMN_NAMES, COLUMNS, MANDATORY
from ledgerlm.ledger.focus_export import ExportScope, focus_batches
from ledgerlm.ledger.focus_io import write_focus
from ledgerlm.ledger.periods import close_period
from ledgerlm.ledger.reprice import RepriceScope, reprice
from ledgerlm.pricing import compile_price
from ledgerlm.store.price_book import load_book, record_prices
from ledgerlm.types import Usage

from .calls import at, call, ingest

# FOCUS 1.2: the 21 Mandatory columns (specification/columns/*.md, "Feature level: Mandatory")
SPEC_MANDATORY = {
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd",
    "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodEnd",
    "ChargePeriodStart", "ContractedCost", "EffectiveCost", "InvoiceIssuerName", "ListCost",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
}  # fmt: skip
NOT_NULL = {c.name for c in COLUMNS if not c.nullable}
ALLOWED = {
    "ChargeCategory": {"Usage", "Purchase", "Tax", "Credit", "Adjustment"},
    "ChargeClass": {"", "Correction"},
    "ChargeFrequency": {"One-Time", "Recurring", "Usage-Based"},
    "ServiceCategory": {"AI and Machine Learning"},
    # the AI and Machine Learning subcategories (servicesubcategory.md)
    "ServiceSubcategory": {
        "Bots",
        "Generative AI",
        "Machine Learning",
        "Natural Language Processing",
        "Other (AI and Machine Learning)",
    },
    "PricingCategory": {"Standard", "Dynamic", "Committed", "Other", ""},
}
PRICE_A = {
    "input_cost_per_token": "0.0000025", "output_cost_per_token": "0.00001",
    "cache_read_input_token_cost": "0.00000125", "output_cost_per_reasoning_token": "0.000012",
}  # fmt: skip
PRICE_B = {**PRICE_A, "output_cost_per_token": "0.000015"}
MONTH = (at(2024, 3, 1, 0), at(2024, 4, 1, 0))
runner = CliRunner()


@pytest.fixture(scope="module")
def ledger(database: Any) -> dict[str, Any]:
    """March 2024: priced calls, an unpriced call, a re-price adjustment; then March closed."""
    return asyncio.run(_seed(database))


async def _seed(database: Any) -> dict[str, Any]:
    engine = database.engine()
    try:
        model, unknown = uid("m-"), uid("unknown-")
        price_a = compile_price("openai", model, custom=PRICE_A)
        price_b = compile_price("openai", model, custom=PRICE_B)
        await record_prices(engine, [price_b], now=at(2024, 3, 15, 0))
        usage = Usage(input_tokens=3000, output_tokens=700, cache_read_tokens=1000, reasoning_tokens=200)
        tags = ["app:x", "prod"]
        times = [at(2024, 3, day, hour) for day, hour in ((2, 9), (2, 9), (20, 10), (20, 11))]
        rows = [call(price_a, when, usage=usage, team_id="t1", request_tags=tags) for when in times]
        rows.append(call(compile_price("openai", unknown), at(2024, 3, 21, 8), usage=usage))
        await ingest(engine, rows)
        scope = RepriceScope(*MONTH, model=model)
        diff = await reprice(
            engine, scope, await load_book(engine), run=RunInfo(uid("r"), "a", "b", at(2024, 3, 31))
        )
        assert diff.written == 2
        await close_period(engine, "2024-03", actor="alice", now=at(2024, 4, 2))
        ledger_total = sum((Decimal(r["spend"]) for r in rows if r["spend"] is not None), Decimal(0))
        return {"total": ledger_total + (diff.after - diff.before), "rows": rows, "model": model}
    finally:
        await engine.dispose()


async def _csv(engine: AsyncEngine, granularity: str = "call") -> str:
    out = io.StringIO()
    await write_focus(focus_batches(engine, ExportScope(*MONTH, granularity), batch_size=2), "csv", out)  # type: ignore[arg-type]
    return out.getvalue()


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_csv_has_the_focus_columns_types_and_allowed_values(
    engine: AsyncEngine, ledger: dict[str, Any]
) -> None:
    text = await _csv(engine)
    header = text.splitlines()[0].split(",")
    assert set(header) >= SPEC_MANDATORY and set(MANDATORY) == SPEC_MANDATORY
    assert header == list(COLUMN_NAMES)
    assert all(name in SPEC_MANDATORY or name.startswith("x_") or name[0].isupper() for name in header)
    rows = _rows(text)
    for row in rows:
        assert all(row[name] != "" for name in NOT_NULL), row
        for name, values in ALLOWED.items():
            assert row[name] in values, (name, row[name])
        for column in COLUMNS:
            value = row[column.name]
            if value and column.kind == "decimal":
                assert Decimal(value) == Decimal(value) and "E" not in value.upper(), value
            if value and column.kind == "datetime":
                assert datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        assert row["ChargePeriodStart"] < row["ChargePeriodEnd"]
        assert (
            row["BillingPeriodStart"] == "2024-03-01T00:00:00Z"
            and row["BillingPeriodEnd"] == "2024-04-01T00:00:00Z"
        )
    usage_rows = [r for r in rows if r["ChargeCategory"] == "Usage"]
    assert {r["x_TokenType"] for r in usage_rows} >= {"input", "cache_read", "output", "reasoning"}
    reasoning = next(r for r in usage_rows if r["x_TokenType"] == "reasoning" and r["x_Unpriced"] == "false")
    assert (reasoning["PricingQuantity"], reasoning["PricingUnit"], reasoning["x_Reasoning"]) == (
        "200",
        "Tokens",
        "true",
    )
    assert Decimal(reasoning["ListUnitPrice"]) * 200 == Decimal(reasoning["ListCost"])
    assert {r["x_Unpriced"] for r in usage_rows} == {"true", "false"}
    adjustments = [r for r in rows if r["ChargeCategory"] == "Adjustment"]
    assert len(adjustments) == 2 and all(r["x_PriceId"].startswith("cus_") for r in adjustments)
    assert sum(Decimal(r["BilledCost"]) for r in rows) == ledger["total"]


async def test_granularities_sum_to_the_ledger_and_a_closed_period_exports_identically(
    engine: AsyncEngine, ledger: dict[str, Any]
) -> None:
    calls = await _csv(engine, "call")
    assert calls == await _csv(engine, "call")  # closed March: byte for byte the same
    for granularity in ("hour", "day"):
        rows = _rows(await _csv(engine, granularity))
        assert sum(Decimal(r["BilledCost"]) for r in rows) == ledger["total"]
        assert len(rows) < len(_rows(calls))
        assert all(r["x_RequestId"] == "" for r in rows)
    daily = _rows(await _csv(engine, "day"))
    input_rows = [r for r in daily if r["x_TokenType"] == "input" and r["x_Model"] == ledger["model"]]
    assert {r["ChargePeriodStart"] for r in input_rows} == {"2024-03-02T00:00:00Z", "2024-03-20T00:00:00Z"}
    assert sum(Decimal(r["x_CallCount"]) for r in input_rows) == 4


async def test_parquet_types_and_sums(engine: AsyncEngine, ledger: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "focus.parquet"
    count, total = await write_focus(focus_batches(engine, ExportScope(*MONTH)), "parquet", path)
    table = pq.read_table(path)
    assert table.num_rows == count and total == ledger["total"]
    schema = table.schema
    assert pa.types.is_decimal(schema.field("BilledCost").type)
    assert pa.types.is_timestamp(schema.field("ChargePeriodStart").type)
    assert schema.field("ChargePeriodStart").type.tz == "UTC"
    assert pa.types.is_string(schema.field("ChargeCategory").type)
    assert sum(table.column("BilledCost").to_pylist(), Decimal(0)) == ledger["total"]
    assert set(schema.names) >= SPEC_MANDATORY


def test_the_cli_exports_csv_and_parquet(database: Any, ledger: dict[str, Any], tmp_path: Path) -> None:
    from tests.store.factories import cli_url

    args = [
        "export",
        "focus",
        "--from",
        "2024-03-01",
        "--to",
        "2024-03-31",
        "--database-url",
        cli_url(database),
    ]
    result = runner.invoke(build_app(), [*args, "--format", "csv", "--out", str(tmp_path / "f.csv")])
    assert result.exit_code == 0, result.output
    rows = _rows((tmp_path / "f.csv").read_text())
    assert sum(Decimal(r["BilledCost"]) for r in rows) == ledger["total"]
    result = runner.invoke(
        build_app(),
        [*args, "--format", "parquet", "--granularity", "day", "--out", str(tmp_path / "f.parquet")],
    )
    assert result.exit_code == 0, result.output
    assert (
        sum(pq.read_table(tmp_path / "f.parquet").column("BilledCost").to_pylist(), Decimal(0))
        == ledger["total"]
    )
    refused = runner.invoke(build_app(), [*args, "--format", "parquet"])
    assert refused.exit_code == 2 and "--out" in refused.output
