"""The price book in the database (table ``price_book``): load it, record prices, show history.

* ``await record_prices(engine, prices, now=...)``: for each compiled deployment price
  (``ledgerlm.pricing.CompiledPrice``) make sure the entry in force for its model is that price: the
  same ``price_id`` -> nothing; another one -> the open entry is closed at ``now`` and a new one opens at
  ``now`` (a custom price changed in the config opens a new entry, the old one stays in the history).
  Unpriced deployments record nothing. Returns the entries opened.
* ``await load_book(engine) -> PriceBook``: every entry (for re-pricing).
* ``await price_history(engine, model) -> list[PriceEntry]``: the entries of ``model`` (``provider/model``,
  or a bare model name matching every provider), oldest first.

History is append-only: entries are never deleted; only ``effective_to`` of the open entry is set.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ledgerlm.pricing.book import PriceBook, PriceEntry, entry_for_price
from ledgerlm.pricing.compiled import CompiledPrice
from ledgerlm.pricing.price_id import decimal_text
from ledgerlm.store.tables import price_book

__all__ = ["insert_entry", "load_book", "price_history", "record_prices"]

log = logging.getLogger("ledgerlm.pricing")
_LOCK_KEY = 0x4C4C4D1B  # pg_advisory_xact_lock key of price book writes


def _entry(row: Mapping[str, Any]) -> PriceEntry:
    prices = {key: Decimal(str(value)) for key, value in (row["prices"] or {}).items()}
    return PriceEntry(
        price_id=row["price_id"],
        model=row["model"],
        source=row["source"],
        effective_from=row["effective_from"],
        effective_to=row["effective_to"],
        model_ref=row["model_ref"],
        data_version=row["data_version"],
        prices=prices,
        note=row["note"],
    )


def _params(entry: PriceEntry) -> dict[str, Any]:
    return {
        "price_id": entry.price_id,
        "model": entry.model,
        "source": entry.source,
        "effective_from": entry.effective_from,
        "effective_to": entry.effective_to,
        "model_ref": entry.model_ref,
        "data_version": entry.data_version,
        "prices": {key: decimal_text(value) for key, value in entry.prices.items()},
        "note": entry.note,
    }


async def insert_entry(conn: AsyncConnection, entry: PriceEntry, *, now: datetime) -> None:
    """Open ``entry`` for its model at ``entry.effective_from``, closing the open entry at ``now``."""
    open_entry = price_book.c.effective_to.is_(None) & (price_book.c.model == entry.model)
    await conn.execute(price_book.update().where(open_entry).values(effective_to=now))
    await conn.execute(price_book.insert().values(**_params(entry)))


async def record_prices(
    engine: AsyncEngine, prices: Iterable[CompiledPrice], *, now: datetime | None = None
) -> list[PriceEntry]:
    """Record the prices in force now (see the module docstring); the first price of a model wins
    when several deployments price the same ``provider/model`` differently (logged)."""
    moment = now or datetime.now(UTC)
    wanted: dict[str, PriceEntry] = {}
    for price in prices:
        entry = entry_for_price(price, moment)
        if entry is None:
            continue
        seen = wanted.setdefault(entry.model, entry)
        if seen.price_id != entry.price_id:
            log.warning(
                "deployments price %s differently; the price book keeps %s", entry.model, seen.price_id
            )
    if not wanted:
        return []
    opened: list[PriceEntry] = []
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # proxy instances starting together record once
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_LOCK_KEY)))
        statement = sa.select(price_book.c.model, price_book.c.price_id).where(
            price_book.c.effective_to.is_(None), price_book.c.model.in_(sorted(wanted))
        )
        current = {row.model: row.price_id for row in await conn.execute(statement)}
        for model in sorted(wanted):
            if current.get(model) != wanted[model].price_id:
                await insert_entry(conn, wanted[model], now=moment)
                opened.append(wanted[model])
    return opened


async def load_book(engine: AsyncEngine) -> PriceBook:
    """Every price book entry as a ``PriceBook``."""
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(price_book))).mappings()
        return PriceBook(_entry(dict(row)) for row in rows)


async def price_history(engine: AsyncEngine, model: str) -> list[PriceEntry]:
    """The entries of ``model`` (exact ``provider/model``, or ``*/model``), oldest first."""
    c = price_book.c
    where = sa.or_(c.model == model, c.model.like(f"%/{_escape(model)}", escape="\\"))
    statement = sa.select(price_book).where(where).order_by(c.model, c.effective_from, c.entry_id)
    async with engine.connect() as conn:
        return [_entry(dict(row)) for row in (await conn.execute(statement)).mappings()]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
