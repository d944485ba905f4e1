"""The published JSON schema of CallRecord stays equal to the model."""

from __future__ import annotations

import json
from pathlib import Path

from ledgerlm.callbacks.schema import SCHEMA_PATH, current_schema, render_schema
from ledgerlm.record import SCHEMA_VERSION, CallRecord

ROOT = Path(__file__).resolve().parents[2]


def test_the_published_schema_equals_the_model() -> None:
    path = ROOT / SCHEMA_PATH
    assert path.is_file(), f"{path} is missing: run `.venv/bin/python -m ledgerlm.callbacks.schema`"
    published = json.loads(path.read_text(encoding="utf-8"))
    assert published == CallRecord.model_json_schema(), (
        "schema/call_record.schema.json is out of date with ledgerlm.record.CallRecord: "
        "regenerate it with `.venv/bin/python -m ledgerlm.callbacks.schema` (and bump SCHEMA_VERSION "
        "for a breaking change)"
    )
    assert path.read_text(encoding="utf-8") == render_schema()


def test_the_schema_names_the_version_and_the_required_fields() -> None:
    schema = current_schema()
    assert schema["properties"]["schema_version"]["default"] == SCHEMA_VERSION
    assert {"id", "call_type", "status", "start_time", "end_time", "latency_s"} <= set(schema["required"])
    assert schema["additionalProperties"] is False
