"""File sink: JSON lines on the real filesystem, rotated by size and by date."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
from exporter_support import make_record

from ledgerlm.integrations.events import to_export_dict
from ledgerlm.integrations.file import FileExporter
from ledgerlm.integrations.settings import BatchSettings
from ledgerlm.record import CallRecord

FAST = BatchSettings(flush_interval_s=0.02, batch_size=3)


def _lines(folder: Path) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for path in sorted(folder.rglob("*.jsonl")):
        out.extend(orjson.loads(line) for line in path.read_bytes().splitlines())
    return out


async def test_one_call_record_per_line(tmp_path: Path) -> None:
    sink = FileExporter(tmp_path, settings=FAST, clock=lambda: datetime(2026, 11, 29, 10, tzinfo=UTC))
    ids = [f"req-{i}" for i in range(7)]
    for record_id in ids:
        sink.enqueue(make_record(id=record_id))
    assert await sink.aflush()
    await sink.aclose()

    files = sorted(tmp_path.rglob("*.jsonl"))
    assert [p.relative_to(tmp_path).as_posix() for p in files] == ["2026-11-29/calls-00000.jsonl"]
    rows = _lines(tmp_path)
    assert [r["id"] for r in rows] == ids
    parsed = CallRecord.model_validate(rows[0])  # each line is a valid CallRecord
    assert str(parsed.cost.total) == "0.000375"
    assert parsed.messages is None  # content logging off


async def test_rotates_by_size(tmp_path: Path) -> None:
    line_size = len(orjson.dumps(to_export_dict(make_record(id="req-00"), content_logging=False))) + 1
    sink = FileExporter(
        tmp_path,
        prefix="spend",
        max_file_bytes=line_size * 4,
        settings=BatchSettings(flush_interval_s=0.02, batch_size=2),
        clock=lambda: datetime(2026, 11, 29, tzinfo=UTC),
    )
    ids = [f"req-{i:02d}" for i in range(10)]
    for record_id in ids:
        sink.enqueue(make_record(id=record_id))
        await sink.aflush()  # one batch of one or two lines per write
    await sink.aclose()

    files = sorted((tmp_path / "2026-11-29").glob("spend-*.jsonl"))
    assert len(files) >= 3
    assert all(p.stat().st_size <= line_size * 4 for p in files)
    assert [r["id"] for r in _lines(tmp_path)] == ids


async def test_rotates_by_date_and_continues_numbering(tmp_path: Path) -> None:
    now = [datetime(2026, 11, 29, 23, 59, tzinfo=UTC)]
    sink = FileExporter(tmp_path, settings=FAST, clock=lambda: now[0])
    sink.enqueue(make_record(id="before-midnight"))
    assert await sink.aflush()
    now[0] = datetime(2026, 11, 30, 0, 1, tzinfo=UTC)
    sink.enqueue(make_record(id="after-midnight"))
    assert await sink.aflush()
    await sink.aclose()

    assert [r["id"] for r in _lines(tmp_path / "2026-11-29")] == ["before-midnight"]
    assert [r["id"] for r in _lines(tmp_path / "2026-11-30")] == ["after-midnight"]

    (tmp_path / "2026-11-30" / "calls-00003.jsonl").write_bytes(b"")  # a previous process's file
    again = FileExporter(tmp_path, settings=FAST, clock=lambda: now[0])
    again.enqueue(make_record(id="restart"))
    assert await again.aflush()
    await again.aclose()
    assert [r["id"] for r in _lines(tmp_path / "2026-11-30")] == ["after-midnight", "restart"]
    assert (tmp_path / "2026-11-30" / "calls-00003.jsonl").read_bytes().count(b"\n") == 1


def test_from_settings(tmp_path: Path) -> None:
    sink = FileExporter.from_settings(
        {}, {"LEDGERLM_FILE_SINK_DIR": str(tmp_path), "LEDGERLM_FILE_SINK_PREFIX": "x"}
    )
    assert sink.directory == tmp_path and sink.prefix == "x"


EXIT_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[2])
from exporter_support import make_record
from ledgerlm.integrations.file import FileExporter
from ledgerlm.integrations.settings import BatchSettings
sink = FileExporter(__import__("pathlib").Path(sys.argv[1]), settings=BatchSettings(flush_interval_s=60))
for i in range(5):
    sink.enqueue(make_record(id=f"exit-{i}"))
# no close(): the interpreter-exit hook must flush the queue
"""


def test_queued_events_are_flushed_at_interpreter_exit(tmp_path: Path) -> None:
    here = str(Path(__file__).parent)
    done = subprocess.run([sys.executable, "-c", EXIT_SCRIPT, str(tmp_path), here], timeout=60, check=False)
    assert done.returncode == 0
    assert [r["id"] for r in _lines(tmp_path)] == [f"exit-{i}" for i in range(5)]
