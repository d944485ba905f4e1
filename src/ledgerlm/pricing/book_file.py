"""A price file for ``ledgerlm reprice --price-file F``: price book entries written by hand (YAML/JSON).

::

    prices:
      - model: openai/gpt-4o-mini          # "provider/model" as spend rows name it
        effective_from: 2026-11-01         # UTC date or ISO datetime (inclusive)
        effective_to: 2026-11-15           # optional (exclusive); absent: still in force
        input_cost_per_token: 1.5e-7       # LiteLLM price keys, USD per unit -> a custom price
        output_cost_per_token: 6.0e-7
      - model: anthropic/claude-sonnet-4-5
        source: catalog                    # the bundled genai-prices catalog, at each call's time
        effective_from: 2026-11-01

Entries of the file replace the database's price book for every model the file names. Raises
``ConfigError`` naming the entry (``prices[2].effective_from: ...``) for a bad file.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from ledgerlm.errors import ConfigError
from ledgerlm.pricing.book import PriceBook, PriceEntry
from ledgerlm.pricing.catalog import data_version
from ledgerlm.pricing.compiled import compile_price
from ledgerlm.pricing.custom import validate_custom_prices
from ledgerlm.pricing.price_id import custom_price_id

__all__ = ["load_price_file", "parse_moment"]


def parse_moment(value: Any, *, path: str) -> datetime:
    """A UTC date (midnight) or ISO-8601 datetime (naive = UTC) -> aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(), UTC)
    else:
        try:
            text = str(value).replace("Z", "+00:00")
            moment = (
                datetime.combine(date.fromisoformat(text), time(), UTC)
                if len(text) == 10
                else (datetime.fromisoformat(text))
            )
        except ValueError:
            raise ConfigError(f"expected a date or ISO datetime, got {value!r}", path=path) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _entry(item: Mapping[str, Any], path: str) -> PriceEntry:
    model = item.get("model")
    if not isinstance(model, str) or "/" not in model:
        raise ConfigError("model must be 'provider/model'", path=f"{path}.model")
    start = parse_moment(item.get("effective_from"), path=f"{path}.effective_from")
    end = item.get("effective_to")
    until = None if end is None else parse_moment(end, path=f"{path}.effective_to")
    if until is not None and until <= start:
        raise ConfigError("effective_to must be after effective_from", path=f"{path}.effective_to")
    source = item.get("source", "custom")
    if source == "catalog":
        provider, _, name = model.partition("/")
        price = compile_price(provider, name)
        if price.price_id is None:
            raise ConfigError(price.unpriced_reason or "not in the catalog", path=f"{path}.model")
        return PriceEntry(price.price_id, model, "catalog", start, until, price.model_ref, data_version())
    if source != "custom":
        raise ConfigError("source must be 'custom' or 'catalog'", path=f"{path}.source")
    prices = validate_custom_prices(item, path=path)
    if not prices:
        raise ConfigError("a custom price needs LiteLLM price keys (input_cost_per_token, ...)", path=path)
    return PriceEntry(custom_price_id(model, prices), model, "custom", start, until, model, None, prices)


def load_price_file(path: str | Path) -> PriceBook:
    """The ``PriceBook`` of a price file (see the module docstring); raises ``ConfigError``."""
    import yaml

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        data = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read price file {str(file)!r}: {exc}") from None
    items = data.get("prices") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise ConfigError(f"price file {str(file)!r} needs a 'prices' list")
    entries = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ConfigError("each price must be a mapping", path=f"prices[{index}]")
        entries.append(_entry(item, f"prices[{index}]"))
    book = PriceBook(entries)
    for model in book.models:
        _check_no_overlap(book.entries(model), model)
    return book


def _check_no_overlap(entries: list[PriceEntry], model: str) -> None:
    for before, after in itertools.pairwise(entries):
        if before.effective_to is None or before.effective_to > after.effective_from:
            raise ConfigError(f"entries of {model} overlap: close the earlier one with effective_to")
