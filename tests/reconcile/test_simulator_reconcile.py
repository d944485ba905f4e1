"""``ledgerlm reconcile --pull`` against the simulator's admin reports, built from the traffic it
answered through the real proxy: an exact match per provider, then each explanation class produced by
a report knob, with the exact capture rate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from tests.reconcile.conftest import Traffic

from ledgerlm.commands.reconcile import Options, run_reconcile
from ledgerlm.ledger.reconcile.report import parse_json

TODAY = datetime.now(UTC).date()


def reconcile(traffic: Traffic, provider: str, *, days_after: int = 0, **extra: Any) -> tuple[int, Any]:
    options = Options(
        config=str(traffic.config),
        provider=provider,
        start=TODAY.isoformat(),
        end=(TODAY + timedelta(days=days_after)).isoformat(),
        reports=(),
        pull=True,
        tolerance=extra.get("tolerance", "0.01"),
        as_json=True,
        database_url=None,
        api_base=traffic.sim.url,
    )
    status, text = run_reconcile(options)
    assert status != 2, text
    return status, parse_json(text)


@pytest.fixture(autouse=True)
def _admin_keys(monkeypatch: pytest.MonkeyPatch, traffic: Traffic) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-openai")
    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-admin")
    traffic.sim.state.billing.knobs.clear()
    yield
    traffic.sim.state.billing.knobs.clear()


def _explanations(result: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in result["rows"]:
        out.setdefault(row["explanation"], []).append(row)
    return out


def test_openai_ledger_and_report_match_exactly(traffic: Traffic) -> None:
    # the unpriced model is billed by the simulator at a price the catalog does not know
    traffic.sim.state.billing.knobs["prices"] = {}
    status, result = reconcile(traffic, "openai")
    priced = [r for r in result["rows"] if r["model"] != "sim-unpriced-model"]
    assert {r["explanation"] for r in priced} == {"matched"}
    assert {r["category"] for r in priced} >= {"input", "cached_input", "output"}
    assert result["ledger_usd"] == traffic.ledger_spend("openai") == result["provider_usd"]
    assert result["capture_rate"] == 1
    assert status == 0
    mini = {r["category"]: r for r in priced}
    assert mini["cached_input"]["ledger_tokens"] == mini["cached_input"]["provider_tokens"] == 4 * 1024


def test_anthropic_ledger_and_report_match_exactly(traffic: Traffic) -> None:
    status, result = reconcile(traffic, "anthropic")
    assert status == 0
    assert {r["explanation"] for r in result["rows"]} == {"matched"}
    assert {r["category"] for r in result["rows"]} == {"input", "cached_input", "cache_write_5m", "output"}
    assert result["ledger_usd"] == result["provider_usd"] == traffic.ledger_spend("anthropic")
    assert result["capture_rate"] == 1


def test_untracked_traffic(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["untracked"] = [{"model": "gpt-4o-mini", "output": 1_000_000}]
    status, result = reconcile(traffic, "openai")
    ledger = traffic.ledger_spend("openai")
    extra = Decimal("0.6")  # 1M output tokens of gpt-4o-mini at $0.60 per million
    assert result["provider_usd"] == ledger + extra
    assert result["capture_rate"] == ledger / (ledger + extra)
    assert status == 4
    (row,) = _explanations(result)["untracked_traffic"]
    assert (row["category"], row["delta_usd"]) == ("output", -extra)
    assert row["detail"]["untracked_tokens"] == 1_000_000


def test_unpriced_in_ledger(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["prices"] = {"sim-unpriced-model": {"input": 1, "output": 2}}
    status, result = reconcile(traffic, "openai")
    assert status == 4
    ledger = traffic.ledger_spend("openai")
    billed = Decimal(4 * 100 * 1 + 4 * 10 * 2) / 1_000_000
    assert result["provider_usd"] == ledger + billed
    assert result["capture_rate"] == ledger / (ledger + billed)
    rows = _explanations(result)["unpriced_in_ledger"]
    assert {(r["model"], r["category"]) for r in rows} == {
        ("sim-unpriced-model", "input"),
        ("sim-unpriced-model", "output"),
    }
    assert all(r["ledger_unpriced_calls"] == 4 for r in rows)


def test_price_mismatch_names_each_rate(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["price_factor"] = {"gpt-4o-mini": "1.1"}
    _, result = reconcile(traffic, "openai")
    mini = traffic.ledger_spend("openai", "gpt-4o-mini")
    ledger = traffic.ledger_spend("openai")
    assert result["capture_rate"] == ledger / (ledger + mini * Decimal("0.1"))
    rows = {r["category"]: r for r in _explanations(result)["price_mismatch"]}
    assert set(rows) == {"input", "cached_input", "output"}
    detail = rows["input"]["detail"]
    assert detail["catalog_rate"] == detail["ledger_rate"] == Decimal("0.15")
    assert detail["provider_rate"] == Decimal("0.165")


def test_provider_report_anomaly(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["price_factor"] = {"gpt-4o-mini": 10}
    _, result = reconcile(traffic, "openai")
    mini = traffic.ledger_spend("openai", "gpt-4o-mini")
    ledger = traffic.ledger_spend("openai")
    assert result["capture_rate"] == ledger / (ledger + mini * 9)
    rows = _explanations(result)["provider_report_anomaly"]
    assert {r["category"] for r in rows} == {"input", "cached_input", "output"}
    assert rows[0]["detail"]["provider_rate"] == 10 * rows[0]["detail"]["catalog_rate"]


def test_token_category_mismatch(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["category_moves"] = {"cached_input": "input"}
    _, result = reconcile(traffic, "anthropic")
    rows = {r["category"]: r for r in _explanations(result)["token_category_mismatch"]}
    assert set(rows) == {"input", "cached_input"}
    assert rows["input"]["provider_tokens"] - rows["input"]["ledger_tokens"] == 4 * 300
    assert rows["cached_input"]["detail"]["offset_by"] == "input"
    ledger = traffic.ledger_spend("anthropic")
    assert result["capture_rate"] == ledger / Decimal(str(result["provider_usd"]))
    assert result["provider_usd"] > ledger


def test_day_boundary_nets_out(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["shift_seconds"] = 86400  # every bucket one day late
    status, result = reconcile(traffic, "anthropic", days_after=1)
    assert {r["explanation"] for r in result["rows"]} == {"day_boundary"}
    assert result["capture_rate"] == 1
    assert status == 0
    assert {r["date"] for r in result["rows"]} == {TODAY.isoformat(), (TODAY + timedelta(days=1)).isoformat()}


def test_paging_through_next_page(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["page_size"] = 1
    status, result = reconcile(traffic, "anthropic", days_after=2)
    assert status == 0 and result["capture_rate"] == 1
    paged = [r for r in traffic.sim.requests if r.path.endswith("cost_report")]
    assert [r.query.get("page") for r in paged[-3:]] == [None, "page_1", "page_2"]


def test_demo_reconciliation_finds_and_explains_the_injected_difference(traffic: Traffic) -> None:
    from io import StringIO

    from rich.console import Console

    from ledgerlm.proxy.demo import UNTRACKED, _reconcile

    out = StringIO()
    _reconcile(traffic.sim.url, traffic.database_url, traffic.sim.state.billing, Console(file=out, width=220))
    text = out.getvalue()
    assert "DRIFT" in text and "untracked_traffic" in text
    assert f"{UNTRACKED['input']:,} input" in text


def test_openai_paging_through_next_page(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["page_size"] = 2
    _, result = reconcile(traffic, "openai", days_after=4)
    priced = [r for r in result["rows"] if r["model"] != "sim-unpriced-model"]
    assert {r["explanation"] for r in priced} == {"matched"}
    costs = [r for r in traffic.sim.requests if r.path == "/v1/organization/costs"]
    assert [r.query.get("page") for r in costs[-3:]] == [None, "page_2", "page_4"]
    assert costs[-1].query["group_by"] == "line_item" and costs[-1].query["bucket_width"] == "1d"


def test_rate_limited_report_pages_are_retried_and_a_dead_endpoint_is_bad_input(traffic: Traffic) -> None:
    traffic.sim.state.billing.knobs["fail_first"] = 2  # two 429s with Retry-After: 0, then answers
    status, result = reconcile(traffic, "anthropic")
    assert status == 0 and result["capture_rate"] == 1
    traffic.sim.state.billing.knobs["fail_first"] = 100
    options = Options(str(traffic.config), "anthropic", TODAY.isoformat(), TODAY.isoformat(), (), True,
                      "0.01", True, None, traffic.sim.url)  # fmt: skip
    status, text = run_reconcile(options)
    assert status == 2 and "HTTP 429" in text
