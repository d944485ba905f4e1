"""The offline half of ``ledgerlm prices update``: validating and loading a price data file."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from genai_prices import data_snapshot

from ledgerlm.pricing import compile_price, data_version
from ledgerlm.pricing.data_file import default_prices_path, load_prices_file, parse_prices
from ledgerlm.types import Usage

DATA = [
    {
        "id": "acme",
        "name": "Acme",
        "api_pattern": "https://api\\.acme\\.test",
        "models": [
            {"id": "acme-1", "match": {"equals": "acme-1"}, "prices": {"input_mtok": 2, "output_mtok": 8}}
        ],
    }
]


def test_load_prices_file_replaces_the_catalog(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(DATA))
    try:
        assert load_prices_file(path) == 1
        assert "(update " in data_version()
        # 1000 * 2e-6 + 100 * 8e-6
        assert compile_price("acme", "acme-1").cost(Usage(input_tokens=1000, output_tokens=100)).total == D(
            "0.0028"
        )
        assert compile_price("openai", "gpt-4o").cost(Usage(input_tokens=1)).total is None  # not in this file
    finally:
        data_snapshot.set_custom_snapshot(None)
    assert compile_price("openai", "gpt-4o").cost(Usage(input_tokens=1)).total is not None


def test_invalid_price_data_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        parse_prices(b'{"not": "a list"}')
    with pytest.raises(ValueError):
        parse_prices(b"[]")
    assert default_prices_path().name == "genai-prices.json"
