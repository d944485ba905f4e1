"""Spool: one line per row on disk, segments, health reporting, survival of a SIGKILLed process."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from ledgerlm.store.spool import Spool, SpoolError

from .helpers import rows

ROOT = Path(__file__).resolve().parents[2]


def _lines(spool: Spool) -> list[dict[str, object]]:
    return [orjson.loads(line) for path in spool.segments() for line in path.read_bytes().splitlines()]


def test_append_writes_one_json_line_per_row(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    batch = rows(3)
    for row in batch:
        spool.append(row)
    assert [line["request_id"] for line in _lines(spool)] == [row["request_id"] for row in batch]
    assert spool.rows_appended == 3 and spool.disk_bytes() == spool.bytes_appended


def test_decimal_values_are_written_as_strings(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append({"request_id": "r1", "spend": Decimal("0.0000001500")})
    assert _lines(spool) == [{"request_id": "r1", "spend": "0.0000001500"}]


def test_segments_rotate_at_max_size_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_segment_bytes=2000)
    batch = rows(20)
    for row in batch:
        spool.append(row)
    assert len(spool.segments()) >= 5
    assert [line["request_id"] for line in _lines(spool)] == [row["request_id"] for row in batch]


def test_unwritable_directory_is_unhealthy_and_append_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spool directory should be")
    spool = Spool(blocker / "spool")
    assert not spool.healthy()
    assert "spool directory" in (spool.unhealthy_reason or "")
    with pytest.raises(SpoolError):
        spool.append(rows(1)[0])


def test_spool_directory_removed_at_run_time_is_reported_then_recreated(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    assert spool.healthy()
    spool.append(rows(1)[0])
    for path in spool.segments():
        path.unlink()  # the active segment is deleted while its descriptor is open
    (tmp_path / "spool").rmdir()
    assert not spool.healthy() and "does not exist" in (spool.unhealthy_reason or "")
    row = rows(1)[0]
    spool.append(row)  # lands in a new segment of a recreated directory, not in the deleted file
    assert spool.healthy()
    assert [line["request_id"] for line in _lines(spool)] == [row["request_id"]]


def test_disk_below_free_space_threshold_is_unhealthy(tmp_path: Path) -> None:
    spool = Spool(tmp_path, min_free_bytes=2**62)  # more than any disk: "full"
    assert not spool.healthy()
    assert "nearly full" in (spool.unhealthy_reason or "")


KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    sys.path.insert(0, {root!r})
    from ledgerlm.store import Spool
    from tests.store.helpers import rows
    spool = Spool(sys.argv[1])
    batch = rows(int(sys.argv[2]))
    for row in batch:
        spool.append(row)
    print("\\n".join(row["request_id"] for row in batch), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_rows_survive_sigkill_and_segment_becomes_claimable(tmp_path: Path) -> None:
    script = KILLED_WRITER.format(root=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), "50"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == -signal.SIGKILL
    expected = done.stdout.split()
    spool = Spool(tmp_path)  # a new process's spool sees the dead one's segment
    assert [line["request_id"] for line in _lines(spool)] == expected
    (segment,) = spool.segments()
    fd = os.open(segment, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no live owner: claimable
    finally:
        os.close(fd)
