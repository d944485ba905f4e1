"""Column types that behave the same on SQLite and PostgreSQL.

* ``Money``: exact USD amounts. PostgreSQL stores an unconstrained ``NUMERIC`` (any scale, since
  migration 0013; ``NUMERIC(24, 10)`` before), so a cost of 18 or more decimal places (genai-prices
  per-token prices times token counts) is stored, summed and read back to its last digit. SQLite (which
  has no exact decimal type) stores a 64-bit INTEGER of 1e-10 USD units, so ``SUM`` stays exact at that
  precision (values are rounded half-even to 1e-10 there). Python always sees ``Decimal``, never float.
* ``UTCDateTime``: timezone-aware UTC datetimes. PostgreSQL stores ``TIMESTAMP WITH TIME ZONE``; SQLite
  stores naive UTC text. Python always gets aware UTC datetimes back; naive inputs are taken as UTC.
* ``JSONType``: ``JSONB`` on PostgreSQL, JSON text on SQLite; ``JSONText``: ``json`` on PostgreSQL (cheaper
  to write, for large write-mostly documents), JSON text on SQLite.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

MONEY_SCALE = 10
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_UNITS = 10**MONEY_SCALE

JSONType: TypeEngine[Any] = sa.JSON().with_variant(JSONB(), "postgresql")
JSONText: TypeEngine[Any] = sa.JSON()  # PostgreSQL ``json`` (text kept as written), SQLite JSON text


def to_decimal(value: Decimal | int | str | float) -> Decimal:
    """``value`` as a ``Decimal`` USD amount quantized to 1e-10 (half-even); floats go via ``str``."""
    if isinstance(value, float):
        value = str(value)
    return Decimal(value).quantize(_QUANTUM, rounding=ROUND_HALF_EVEN)


def exact_decimal(value: Decimal | int | str | float) -> Decimal:
    """``value`` as an exact ``Decimal`` USD amount (floats go via ``str``; no rounding)."""
    return Decimal(str(value)) if isinstance(value, float) else Decimal(value)


def money_str(value: Decimal | None) -> str | None:
    """USD ``Decimal`` as a plain decimal string for JSON (``"0.00000015"``, ``"10"``), or ``None``."""
    if value is None:
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


class Money(sa.types.TypeDecorator[Decimal]):
    """Exact USD amount (see the module docstring). Binds ``Decimal``/``int``/``str``; returns ``Decimal``."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))  # unconstrained: exact, any scale

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return int(to_decimal(value).scaleb(MONEY_SCALE))
        return exact_decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            amount: Decimal = (Decimal(int(value)) / _UNITS).quantize(_QUANTUM)
            return amount
        return exact_decimal(value)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetime on every database (see the module docstring)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime expects a datetime, got {type(value).__name__}")
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
