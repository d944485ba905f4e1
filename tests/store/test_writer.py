"""SpendWriter: drains the spool in batches, survives the database going away, replays after SIGKILL."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendWriter, Spool, create_engine, keys, migrate
from ledgerlm.store.bounds import bound_id
from ledgerlm.store.segments import Chunk, SegmentReader
from ledgerlm.store.tables import spend_logs

from .factories import Database, uid
from .helpers import TCPForwarder, count_rows, rows, sum_spend, wait_until

ROOT = Path(__file__).resolve().parents[2]
COST = Decimal("0.0002865")


async def _new_key(engine: AsyncEngine) -> str:
    token = keys.hash_key(keys.generate_key())
    await keys.create_key(engine, token)
    return token


async def test_writer_drains_spool_in_batches_and_deletes_segments(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key = await _new_key(engine)
    spool = Spool(tmp_path, max_segment_bytes=256 * 1024)
    writer = SpendWriter(engine, spool, batch_size=200, interval_s=0.01)
    await writer.start()
    for row in rows(1100, key_hash=key):
        spool.append(row)
    assert await writer.flush(timeout_s=60)
    await writer.stop()
    assert writer.rows_written == 1100 and writer.queue_depth == 0
    assert await count_rows(engine, spend_logs.c.api_key == key) == 1100
    stored = await keys.get_key(engine, key)
    assert stored is not None and stored["spend"] == COST * 1100
    assert spool.segments() == []  # everything committed and deleted


async def test_replay_at_start_and_lost_checkpoint_never_doubles(engine: AsyncEngine, tmp_path: Path) -> None:
    key = await _new_key(engine)
    first = Spool(tmp_path)
    batch = rows(40, key_hash=key)
    for row in batch:
        first.append(row)
    first.close()  # process "ended" before any writer ran
    copy = tmp_path / "00000000000000000001-1.jsonl"  # the same rows again, as if a checkpoint was lost
    (segment,) = first.segments()
    shutil.copy(segment, copy)

    (tmp_path / "00000000000000000000-9.jsonl.ckpt").write_text("123")  # its segment is long gone
    writer = SpendWriter(engine, Spool(tmp_path), interval_s=0.01)
    await writer.start()
    await writer.stop(timeout_s=30)
    assert writer.rows_written == 40 and writer.rows_duplicate == 40
    assert sorted(path.name for path in tmp_path.iterdir()) == []  # segments, checkpoints: all gone
    assert await count_rows(engine, spend_logs.c.api_key == key) == 40
    stored = await keys.get_key(engine, key)
    assert stored is not None and stored["spend"] == COST * 40


async def test_malformed_row_is_set_aside_without_stalling(engine: AsyncEngine, tmp_path: Path) -> None:
    torn = rows(1)[0]
    old = tmp_path / "00000000000000000001-1.jsonl"  # left by a process whose last write was cut short
    old.write_bytes(b"not json\n" + orjson.dumps(torn)[:40])
    spool = Spool(tmp_path)
    good = rows(5)
    spool.append({"request_id": uid("bad-"), "status": "exploded"})
    for row in good:
        spool.append(row)
    writer = SpendWriter(engine, spool, interval_s=0.01)
    await writer.start()
    assert await writer.flush(timeout_s=30)
    await writer.stop()
    assert writer.rows_written == 5 and writer.rows_rejected == 3
    rejected = [orjson.loads(line) for line in (tmp_path / "rejected.jsonl").read_bytes().splitlines()]
    assert [item.get("line") for item in rejected[:2]] == ["not json", orjson.dumps(torn)[:40].decode()]
    assert rejected[2]["row"]["status"] == "exploded" and "status" in rejected[2]["reason"]
    assert not old.exists()
    assert await count_rows(engine, spend_logs.c.request_id.in_([row["request_id"] for row in good])) == 5


async def _unreachable_then_back(
    database: Database, tmp_path: Path
) -> tuple[AsyncEngine, TCPForwarder | None, Path]:
    """An engine whose database is unreachable now; ``_bring_back`` makes it reachable."""
    if database.kind == "postgresql":
        forwarder = TCPForwarder("127.0.0.1", 5432)
        await forwarder.up()
        await forwarder.down()
        url = database.url.replace("127.0.0.1:5432", f"127.0.0.1:{forwarder.port}")
        return create_engine(url, search_path=database.search_path), forwarder, tmp_path
    target = tmp_path / "later" / "ledgerlm.db"  # its directory does not exist yet
    return create_engine(f"sqlite:///{target}"), None, target


async def _bring_back(database: Database, forwarder: TCPForwarder | None, target: Path) -> None:
    if forwarder is not None:
        await forwarder.up()
        return
    fresh = target.parent.parent / "fresh.db"
    await asyncio.to_thread(migrate, f"sqlite:///{fresh}")
    target.parent.mkdir()
    fresh.rename(target)


async def test_writer_keeps_rows_while_database_is_down_then_drains(
    database: Database, tmp_path: Path
) -> None:
    engine, forwarder, target = await _unreachable_then_back(database, tmp_path)
    spool = Spool(tmp_path / "spool")
    writer = SpendWriter(engine, spool, interval_s=0.01, max_backoff_s=0.2)
    try:
        await writer.start()
        batch = rows(120)
        for row in batch:
            spool.append(row)
        assert not await writer.flush(timeout_s=1.0)  # database down: nothing committed
        assert writer.last_error is not None and writer.queue_depth == 120 and writer.spool_bytes > 0
        await _bring_back(database, forwarder, target)
        assert await writer.flush(timeout_s=60)
        await writer.stop()
        assert writer.rows_written == 120 and writer.last_error is None
        assert await count_rows(engine, spend_logs.c.request_id.in_([r["request_id"] for r in batch])) == 120
    finally:
        await writer.stop()
        await engine.dispose()
        if forwarder is not None:
            await forwarder.down()


KILLED_PROCESS = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    sys.path.insert(0, {root!r})
    from ledgerlm.store import Spool, SpendWriter, create_engine
    from tests.store.helpers import rows

    async def main(url, search_path, directory, key):
        engine = create_engine(url, search_path=search_path or None)
        spool = Spool(directory)
        writer = SpendWriter(engine, spool, batch_size=25, interval_s=0.005)
        await writer.start()
        for index, row in enumerate(rows(300, key_hash=key)):
            spool.append(row)
            print(row["request_id"], flush=True)
            if index % 20 == 0:
                await asyncio.sleep(0.005)
        while writer.rows_written == 0:
            await asyncio.sleep(0.002)
        print("written-before-kill", writer.rows_written, file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_sigkill_mid_write_then_restart_loses_and_doubles_nothing(
    database: Database, engine: AsyncEngine, tmp_path: Path
) -> None:
    key = await _new_key(engine)
    script = KILLED_PROCESS.format(root=str(ROOT))
    argv = [sys.executable, "-c", script, database.url, database.search_path or "", str(tmp_path), key]
    done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=90)
    assert done.returncode == -signal.SIGKILL, done.stderr
    sent = done.stdout.split()
    assert len(sent) == 300

    writer = SpendWriter(engine, Spool(tmp_path), interval_s=0.01)
    await writer.start()
    await writer.stop(timeout_s=60)
    assert await count_rows(engine, spend_logs.c.request_id.in_(sent)) == 300
    assert await sum_spend(engine, spend_logs.c.api_key == key) == COST * 300
    stored = await keys.get_key(engine, key)
    assert stored is not None and stored["spend"] == COST * 300  # totals counted once per row


@pytest.mark.parametrize("batch_size", [1, 7])
async def test_small_batches_write_everything(engine: AsyncEngine, tmp_path: Path, batch_size: int) -> None:
    spool = Spool(tmp_path)
    batch = rows(30)
    writer = SpendWriter(engine, spool, batch_size=batch_size, interval_s=0.005)
    await writer.start()
    for row in batch:
        spool.append(row)
        writer.notify()
    assert await writer.flush(timeout_s=30)
    await writer.stop()
    assert await count_rows(engine, spend_logs.c.request_id.in_([r["request_id"] for r in batch])) == 30


async def test_black_holed_database_times_out_and_recovers(database: Database, tmp_path: Path) -> None:
    if database.kind != "postgresql":
        pytest.skip("a network black hole needs a network database; SQLite is a local file")
    forwarder = TCPForwarder("127.0.0.1", 5432)
    await forwarder.up()
    url = database.url.replace("127.0.0.1:5432", f"127.0.0.1:{forwarder.port}")
    engine = create_engine(url, search_path=database.search_path)
    spool = Spool(tmp_path)
    writer = SpendWriter(engine, spool, interval_s=0.01, max_backoff_s=0.1, write_timeout_s=0.5)
    try:
        await writer.start()
        spool.append(rows(1)[0])
        assert await writer.flush(timeout_s=30)  # the connection is open and working
        forwarder.stall()
        batch = rows(30)
        for row in batch:
            spool.append(row)
        assert await wait_until(lambda: "Timeout" in (writer.last_error or ""), timeout_s=20)
        assert writer.queue_depth == 30
        forwarder.resume()
        assert await writer.flush(timeout_s=60)
        assert await count_rows(engine, spend_logs.c.request_id.in_([r["request_id"] for r in batch])) == 30
    finally:
        await writer.stop()
        await engine.dispose()
        await forwarder.down()


async def test_two_writers_sharing_a_spool_directory_write_each_row_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    key = await _new_key(engine)
    spools = [Spool(tmp_path, max_segment_bytes=8 * 1024) for _ in range(2)]  # small: many sealed segments
    writers = [SpendWriter(engine, spool, batch_size=16, interval_s=0.005) for spool in spools]
    for writer in writers:
        await writer.start()
    batch = rows(300, key_hash=key)
    for index, row in enumerate(batch):
        spools[index % 2].append(row)
        if index % 25 == 0:
            await asyncio.sleep(0.005)
    for writer in writers:
        await writer.stop(timeout_s=60)
    assert sum(w.rows_written for w in writers) == 300
    assert await count_rows(engine, spend_logs.c.api_key == key) == 300
    stored = await keys.get_key(engine, key)
    assert stored is not None and stored["spend"] == COST * 300


async def test_oversized_values_are_bounded_written_and_flagged(engine: AsyncEngine, tmp_path: Path) -> None:
    """Issue 14: a request id over VARCHAR(255) (refused by PostgreSQL before) is stored cut + hashed."""
    spool = Spool(tmp_path)
    good = rows(4)
    oversized = rows(1, id="x" * 300)[0]  # request_id is VARCHAR(255)
    for row in [good[0], oversized, *good[1:]]:
        spool.append(row)
    writer = SpendWriter(engine, spool, interval_s=0.01)
    await writer.start()
    assert await writer.flush(timeout_s=30)
    await writer.stop()
    assert writer.rows_written == 5 and writer.rows_rejected == 0 and writer.rows_flagged == 1
    stored = bound_id("x" * 300, 255)
    assert len(stored) == 255 and stored.startswith("x" * 238 + "~")
    ids = [*(r["request_id"] for r in good), stored]
    assert await count_rows(engine, spend_logs.c.request_id.in_(ids)) == 5


async def test_row_the_database_refuses_is_written_minimal_and_counted(
    database: Database, engine: AsyncEngine, tmp_path: Path
) -> None:
    """Issue 14: a row the database still refuses (here: a real CHECK constraint / trigger on
    ``api_base``) is written in its minimal form, so the key is charged, and flagged; the rest go on."""
    async with engine.begin() as conn:
        if database.kind == "postgresql":
            await conn.exec_driver_sql(
                "ALTER TABLE spend_logs ADD CONSTRAINT no_poison CHECK (api_base NOT LIKE '%poison%')"
            )
        else:
            await conn.exec_driver_sql(
                "CREATE TRIGGER no_poison BEFORE INSERT ON spend_logs WHEN NEW.api_base LIKE '%poison%' "
                "BEGIN SELECT RAISE(ABORT, 'no poison'); END"
            )
    try:
        key = await _new_key(engine)
        spool = Spool(tmp_path)
        batch = rows(3, key_hash=key)
        batch[1]["api_base"] = "http://poison.example"
        for row in batch:
            spool.append(row)
        writer = SpendWriter(engine, spool, interval_s=0.01)
        await writer.start()
        assert await writer.flush(timeout_s=30)
        await writer.stop()
        assert writer.rows_minimal == 1 and writer.rows_rejected == 0
        assert await count_rows(engine, spend_logs.c.api_key == key) == 3
        stored = await keys.get_key(engine, key)
        assert stored is not None and stored["spend"] == COST * 3  # the refused row still counts
    finally:
        async with engine.begin() as conn:
            if database.kind == "postgresql":
                await conn.exec_driver_sql("ALTER TABLE spend_logs DROP CONSTRAINT no_poison")
            else:
                await conn.exec_driver_sql("DROP TRIGGER no_poison")


async def test_unexpected_error_does_not_kill_the_writer(
    engine: AsyncEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint write failing once (a disk error; simulated: root ignores permissions here)."""
    calls = {"n": 0}
    original = SegmentReader.commit

    def failing_once(self: SegmentReader, chunk: Chunk) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError(28, "No space left on device")
        original(self, chunk)

    monkeypatch.setattr(SegmentReader, "commit", failing_once)
    spool = Spool(tmp_path)
    batch = rows(10)
    for row in batch:
        spool.append(row)
    writer = SpendWriter(engine, spool, interval_s=0.01)
    await writer.start()
    assert await writer.flush(timeout_s=30)
    await writer.stop()
    assert writer.rows_written == 10 and writer.rows_duplicate == 10  # written, then replayed once
    assert await count_rows(engine, spend_logs.c.request_id.in_([r["request_id"] for r in batch])) == 10
