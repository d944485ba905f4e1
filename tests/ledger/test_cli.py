"""The ledger commands on SQLite and PostgreSQL: ``prices history``, ``reprice`` (dry run, apply,
idempotence, --reason required), ``period close|list|report`` (no reopen)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

from tests.store.factories import Database, cli_url, uid
from typer.testing import CliRunner

from ledgerlm.cli import build_app, user_error_message
from ledgerlm.pricing import compile_price
from ledgerlm.store.price_book import record_prices

from .calls import USAGE, at, call, ingest

runner = CliRunner()
PRICE_A = {"input_cost_per_token": "0.000001", "output_cost_per_token": "0.000002"}
PRICE_B = {"input_cost_per_token": "0.000002", "output_cost_per_token": "0.000002"}


async def _seed(database: Database, model: str, team: str) -> list[dict[str, Any]]:
    engine = database.engine()
    try:
        price_a = compile_price("openai", model, custom=PRICE_A)
        price_b = compile_price("openai", model, custom=PRICE_B)
        await record_prices(engine, [price_a], now=at(2023, 2, 1, 0))
        await record_prices(engine, [price_b], now=at(2023, 2, 10, 0))
        rows = [call(price_a, at(2023, 2, day), team_id=team) for day in (3, 12, 13)]
        await ingest(engine, rows)
        return rows
    finally:
        await engine.dispose()


def _invoke(*args: str) -> Any:
    return runner.invoke(build_app(), list(args))


def test_prices_history_reprice_and_period_commands(database: Database) -> None:
    model, team = uid("m-"), uid("team-")
    asyncio.run(_seed(database, model, team))
    url = ["--database-url", cli_url(database)]

    history = _invoke("prices", "history", model, *url)
    assert history.exit_code == 0, history.output
    entries = json.loads(history.output)
    assert [e["prices"]["input_cost_per_token"] for e in entries] == ["0.000001", "0.000002"]
    assert entries[0]["effective_to"] == entries[1]["effective_from"]
    assert _invoke("prices", "history", uid("nothing-"), *url).exit_code == 3

    scope = ["--from", "2023-02-01", "--to", "2023-02-28", "--team", team, *url]
    dry = _invoke("reprice", *scope, "--json")
    assert dry.exit_code == 0, dry.output
    data = json.loads(dry.output)
    assert (data["applied"], data["rows"], data["changed"], data["adjustments_written"]) == (False, 3, 2, 0)
    step = Decimal(PRICE_B["input_cost_per_token"]) - Decimal(PRICE_A["input_cost_per_token"])
    assert (
        Decimal(data["by"]["team"][team]["delta"]) == 2 * USAGE.input_tokens * step
    )  # 2 calls after the 10th
    assert "--reason" in _invoke("reprice", *scope, "--apply").output
    applied = _invoke("reprice", *scope, "--apply", "--reason", "price B from the 10th")
    assert applied.exit_code == 0 and "adjustments written 2" in applied.output, applied.output
    again = json.loads(_invoke("reprice", *scope, "--apply", "--reason", "again", "--json").output)
    assert (again["changed"], again["adjustments_written"]) == (0, 0)

    closed = _invoke("period", "close", "2023-02", "--note", "month end", *url)
    assert closed.exit_code == 0 and "closed 2023-02" in closed.output, closed.output
    listed = json.loads(_invoke("period", "list", *url).output)
    assert any(p["period"] == "2023-02" and p["note"] == "month end" for p in listed)
    report = _invoke("period", "report", "2023-02", *url).output
    assert report == _invoke("period", "report", "2023-02", *url).output
    assert json.loads(report)["totals"]["adjustments"] == 2
    twice = _invoke("period", "close", "2023-02", *url)
    message = user_error_message(twice.exception)  # what `ledgerlm` prints (one line, exit 1)
    assert twice.exit_code == 1 and message is not None and "already closed" in message
    bad = _invoke("period", "close", "2023-13", *url)
    assert bad.exit_code == 1 and "YYYY-MM" in (user_error_message(bad.exception) or "")
    assert _invoke("period", "reopen", "2023-02", *url).exit_code == 2  # there is no reopen
