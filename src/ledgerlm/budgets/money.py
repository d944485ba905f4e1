"""USD amounts as integer nano-USD for counters (Redis strings, in-process ints), never floats.

1 USD = 1,000,000,000 nano-USD. Reservations and settlements round UP to the next nano-USD, so a counter
never under-counts what the database records exactly as ``Decimal``. Redis ``INCRBY`` is exact on
64-bit integers (up to about 9.2e9 USD); Lua compares use doubles, exact up to 2**53 nano-USD (about
9.0e6 USD per counter), far above any per-period budget in practice.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

__all__ = ["NANO_PER_USD", "from_nano", "to_nano"]

NANO_PER_USD = 1_000_000_000
_NANO = Decimal(NANO_PER_USD)


def to_nano(amount: Decimal | int | str) -> int:
    """USD (``Decimal``, int or decimal string) -> integer nano-USD, rounded up. Negative -> ValueError."""
    value = Decimal(amount)
    if value < 0:
        raise ValueError(f"amount must be >= 0 USD, got {value}")
    return int((value * _NANO).to_integral_value(rounding=ROUND_CEILING))


def from_nano(amount: int | str | bytes) -> Decimal:
    """Integer nano-USD (int, or a Redis integer string) -> ``Decimal`` USD, exact."""
    if isinstance(amount, bytes):
        amount = amount.decode()
    return Decimal(int(amount)) / _NANO
