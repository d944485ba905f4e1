"""Publish the JSON schema of ``CallRecord`` (the standard logging payload) to the repository.

Regenerate after any change to ``ledgerlm.record``::

    .venv/bin/python -m ledgerlm.callbacks.schema

``tests/callbacks/test_schema.py`` fails while ``schema/call_record.schema.json`` differs from
``CallRecord.model_json_schema()``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ledgerlm.record import CallRecord

__all__ = ["SCHEMA_PATH", "render_schema", "write_schema"]

SCHEMA_PATH = Path("schema") / "call_record.schema.json"
"""Where the schema lives, relative to the repository root."""


def current_schema() -> dict[str, Any]:
    """``CallRecord.model_json_schema()`` (pydantic's JSON Schema, draft 2020-12)."""
    return CallRecord.model_json_schema()


def render_schema() -> str:
    """The schema as the file holds it: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(current_schema(), indent=2, sort_keys=True) + "\n"


def write_schema(root: Path) -> Path:
    """Write the schema under ``root`` (the repository root); returns the file's path."""
    path = root / SCHEMA_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_schema(), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m ledgerlm.callbacks.schema [ROOT]``: write the schema under ROOT (default: cwd)."""
    args = sys.argv[1:] if argv is None else argv
    path = write_schema(Path(args[0]) if args else Path.cwd())
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
