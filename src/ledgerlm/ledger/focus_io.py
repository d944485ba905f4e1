"""Write FOCUS rows as CSV (text, RFC 4180) or Parquet (pyarrow), batch by batch.

``await write_focus(batches, fmt, out)`` -> ``(rows written, BilledCost total)``:

* ``csv``: a header of ``COLUMN_NAMES`` then one line per row; decimals as plain decimal text (never
  an exponent or a float), datetimes as ``YYYY-MM-DDTHH:mm:ssZ``, null as an empty field. ``out`` is a
  path or a text stream (stdout).
* ``parquet``: one row group per batch; ``decimal128(38, scale)`` for decimals (``focus_columns``
  scale), ``timestamp[s, UTC]`` for datetimes, strings otherwise. ``out`` must be a path.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TextIO

from ledgerlm.ledger.focus_columns import COLUMN_NAMES, COLUMNS, FocusColumn

__all__ = ["FocusFormat", "arrow_schema", "write_focus"]

FocusFormat = Literal["csv", "parquet"]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return "0" if text in ("-0", "0") else text
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def arrow_schema() -> Any:
    """The pyarrow schema of the FOCUS columns."""
    import pyarrow as pa

    def arrow_type(column: FocusColumn) -> Any:
        if column.kind == "decimal":
            return pa.decimal128(38, column.scale)
        if column.kind == "datetime":
            return pa.timestamp("s", tz="UTC")
        return pa.string()

    return pa.schema([pa.field(c.name, arrow_type(c), nullable=c.nullable) for c in COLUMNS])


async def _write_csv(batches: AsyncIterator[list[dict[str, Any]]], stream: TextIO) -> tuple[int, Decimal]:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMN_NAMES)
    count, total = 0, Decimal(0)
    async for batch in batches:
        writer.writerows([_text(row[name]) for name in COLUMN_NAMES] for row in batch)
        count += len(batch)
        total += sum((row["BilledCost"] for row in batch), Decimal(0))
    return count, total


async def _write_parquet(batches: AsyncIterator[list[dict[str, Any]]], path: Path) -> tuple[int, Decimal]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema()
    count, total = 0, Decimal(0)
    with pq.ParquetWriter(str(path), schema) as writer:
        async for batch in batches:
            columns = {name: [row[name] for row in batch] for name in COLUMN_NAMES}
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))
            count += len(batch)
            total += sum((row["BilledCost"] for row in batch), Decimal(0))
        if count == 0:
            writer.write_table(schema.empty_table())
    return count, total


async def write_focus(
    batches: AsyncIterator[list[dict[str, Any]]], fmt: FocusFormat, out: Path | TextIO
) -> tuple[int, Decimal]:
    """Write every batch to ``out`` as ``fmt`` (see the module docstring); raises ``ValueError`` for
    Parquet without a path."""
    if fmt == "parquet":
        if not isinstance(out, Path):
            raise ValueError("--format parquet needs --out PATH")
        return await _write_parquet(batches, out)
    if isinstance(out, Path):
        with out.open("w", encoding="utf-8", newline="") as stream:
            return await _write_csv(batches, stream)
    return await _write_csv(batches, out)
