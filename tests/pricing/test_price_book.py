"""Price ids and the in-memory price book: ids name a price's content; lookups by effective date;
price files parsed with errors naming the entry."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerlm.errors import ConfigError
from ledgerlm.pricing import compile_price
from ledgerlm.pricing.book import PriceBook, PriceEntry
from ledgerlm.pricing.book_file import load_price_file
from ledgerlm.types import Usage


def _at(day: int) -> datetime:
    return datetime(2026, 11, day, tzinfo=UTC)


def test_a_price_id_names_the_content_of_a_price() -> None:
    same = compile_price("openai", "m", custom={"input_cost_per_token": "3e-06"})
    again = compile_price("openai", "m", custom={"input_cost_per_token": "0.000003"})
    other = compile_price("openai", "m", custom={"input_cost_per_token": "0.000004"})
    elsewhere = compile_price("openai", "n", custom={"input_cost_per_token": "0.000003"})
    assert same.price_id == again.price_id and same.price_id is not None and same.price_id.startswith("cus_")
    assert len({same.price_id, other.price_id, elsewhere.price_id}) == 3
    catalog = compile_price("openai", "gpt-4o-mini")
    assert catalog.price_id is not None and catalog.price_id.startswith("cat_")
    assert catalog.cost(Usage(input_tokens=10)).price_id == catalog.price_id
    unpriced = compile_price("openrouter", "acme/unknown-model").cost(Usage(input_tokens=1))
    assert unpriced.price_id is None and unpriced.total is None  # unpriced: no price id
    reported = compile_price("openrouter", "acme/x").cost(Usage(input_tokens=1, provider_cost=Decimal(1)))
    assert reported.source == "provider" and (reported.price_id or "").startswith("prv_")


def test_the_entry_in_force_and_the_first_entry() -> None:
    a = PriceEntry("cus_a", "openai/m", "custom", _at(1), _at(15))
    b = PriceEntry("cus_b", "openai/m", "custom", _at(15))
    book = PriceBook([b, a])
    assert book.in_force("openai/m", _at(3)) is a and book.in_force("openai/m", _at(15)) is b
    assert book.in_force("openai/m", datetime(2026, 10, 31, tzinfo=UTC)) is None
    assert book.first("openai/m") is a and book.in_force("openai/other", _at(3)) is None
    c = PriceEntry("cus_c", "openai/m", "custom", _at(20))
    assert book.overlay(PriceBook([c])).entries("openai/m") == [c]


def test_price_files_and_their_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "prices:\n"
        "  - {model: openai/m, effective_from: 2026-11-01, effective_to: 2026-11-10,\n"
        "     input_cost_per_token: 1e-6}\n"
        "  - {model: openai/m, effective_from: '2026-11-10T00:00:00Z', input_cost_per_token: 2e-6}\n"
        "  - {model: openai/gpt-4o-mini, source: catalog, effective_from: 2026-11-01}\n"
    )
    book = load_price_file(path)
    assert [e.effective_from for e in book.entries("openai/m")] == [_at(1), _at(10)]
    assert book.entries("openai/gpt-4o-mini")[0].price_id == compile_price("openai", "gpt-4o-mini").price_id
    bad = {
        "prices: [{model: m, effective_from: 2026-11-01, input_cost_per_token: 1}]": "prices[0].model",
        "prices: [{model: openai/m, effective_from: soon, input_cost_per_token: 1}]": "0].effective_from",
        "prices: [{model: openai/m, effective_from: 2026-11-01, input_cost_per_token: -1}]": "0].input_cost",
        "prices: [{model: openai/m, effective_from: 2026-11-01}]": "prices[0]",
        "prices:\n- {model: openai/m, effective_from: 2026-11-01, input_cost_per_token: 1}\n"
        "- {model: openai/m, effective_from: 2026-11-02, input_cost_per_token: 2}": "overlap",
        "nothing: here": "'prices' list",
    }
    for text, named in bad.items():
        path.write_text(text)
        with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
            load_price_file(path)
