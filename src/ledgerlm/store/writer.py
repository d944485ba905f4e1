"""``SpendWriter``: moves spooled spend rows into the database in batches, never losing or doubling one.

Loop: read up to ``batch_size`` complete lines from the spool (``SegmentReader``), parse and convert
them in a worker thread (``ingest.prepare``; the next batch is prepared while the current one is in the
database), write them in one transaction (``ingest.write_prepared``, idempotent by ``request_id``),
then checkpoint and delete finished segments. When the database is unreachable the batch is retried
with exponential backoff (``interval_s`` doubling up to ``max_backoff_s``; a write taking over
``write_timeout_s`` counts as a failure) while the spool keeps growing; at start-up everything left by
an earlier process is replayed first.

One row never stalls the ledger (issue 14): every row is bounded to its columns before the write
(``store.bounds``: impossible token counts and costs clamped, long strings cut, each change flagged in
``metadata.anomalies`` and counted in ``rows_flagged``). A batch the database refuses for its data (a
constraint, data or encoding error, also one raised by the driver) is written row by row; a row still
refused is written in its minimal form (``bounds.minimal_row``: money, tokens and attribution, so it
counts toward budgets; ``rows_minimal``); only a row even that cannot store, or a line that is not a
row at all, is moved to ``<spool>/rejected.jsonl`` (``{"reason", "row"}`` or ``{"reason", "line"}``).
Every such event is logged at ERROR (the alert). ``failing_since`` (UNIX seconds) is when writes
started failing; readiness reports a writer behind from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import rollup_deltas
from ledgerlm.store.bounds import ANOMALIES, minimal_row
from ledgerlm.store.ingest import Prepared, prepare, write_prepared
from ledgerlm.store.segments import Chunk, SegmentReader, parse_lines
from ledgerlm.store.spool import Spool

logger = logging.getLogger(__name__)

REJECTED_FILE = "rejected.jsonl"
INLINE_PREPARE_ROWS = 64  # smaller chunks are prepared on the event loop (a thread hop costs more)
_ROW_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.IntegrityError,
    sa_exc.DataError,
    asyncpg.exceptions.DataError,
    asyncpg.exceptions.IntegrityConstraintViolationError,
)


_DATA_ERRORS: tuple[type[BaseException], ...] = (OverflowError, ValueError, TypeError, UnicodeError)
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
)


def _is_row_error(exc: BaseException) -> bool:
    """True when the database or its driver refused the data itself (retrying the same rows cannot
    help): constraint and data errors, and a value the driver cannot encode (an int beyond 64 bits)."""
    if isinstance(exc, _ROW_ERRORS):
        return True
    seen: BaseException | None = exc
    for _ in range(4):  # the driver's error, wrapped by SQLAlchemy
        if seen is None or isinstance(seen, _CONNECTION_ERRORS):
            return False
        if isinstance(seen, _DATA_ERRORS + _ROW_ERRORS):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


@dataclass
class _Batch:
    chunk: Chunk
    prepared: Prepared


_Ahead = asyncio.Future[_Batch] | None


async def _discard(ahead: _Ahead) -> None:
    """Let a prepare-ahead finish (it runs in a thread) and drop its result."""
    if ahead is not None:
        await asyncio.gather(ahead, return_exceptions=True)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


class SpendWriter:
    """Batched async writer from a ``Spool`` to the database behind ``engine``.

    ``await start()`` launches the loop; ``await stop(timeout_s=10)`` seals the spool and drains it (rows
    still unwritten at the timeout stay spooled for the next start). Counters: ``rows_written`` (rows
    newly inserted), ``rows_duplicate`` (already present), ``rows_rejected``; ``queue_depth`` (rows this
    process appended and not yet committed), ``spool_bytes``, ``last_error`` (``None`` when the last
    write succeeded).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        spool: Spool,
        batch_size: int = 500,
        interval_s: float = 0.05,
        *,
        max_backoff_s: float = 5.0,
        write_timeout_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self.spool = spool
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.max_backoff_s = max_backoff_s
        self.write_timeout_s = write_timeout_s
        self.rows_written = 0
        self.rows_duplicate = 0
        self.rows_rejected = 0
        self.rows_flagged = 0
        self.rows_minimal = 0
        # called once per flagged row written: ("flagged" | "minimal", request id, metadata.anomalies);
        # the proxy raises its alerts from it (proxy.ops_alerts); it must not raise and never blocks
        self.on_anomaly: Callable[[str, str, list[Any]], None] | None = None
        self.failing_since: float | None = None
        self._idle_at = time.time()
        self.last_error: str | None = None
        self.last_success_at: float | None = None
        self._reader = SegmentReader(spool)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._unfolded = 0  # rows written since the last rollup fold (PostgreSQL)
        self._folding: asyncio.Task[None] | None = None
        self._fold_failed = False
        self._folded_at = time.monotonic()

    # -- public surface ----------------------------------------------------------------------------

    @property
    def queue_depth(self) -> int:
        """Rows appended by this process and not yet committed (rows)."""
        return max(0, self.spool.rows_appended - self._reader.own_lines_committed)

    @property
    def stalled_s(self) -> float:
        """Seconds this process's rows have waited with no successful write (0.0 when none waits):
        readiness reports the writer behind past ``spend_writer_max_lag_s``."""
        if self.queue_depth == 0:
            return 0.0
        return max(0.0, time.time() - max(self.last_success_at or 0.0, self._idle_at))

    @property
    def spool_bytes(self) -> int:
        """Bytes waiting in spool segment files (bytes)."""
        return self.spool.disk_bytes()

    @property
    def running(self) -> bool:
        """True while the background loop runs (readiness: a stopped writer logs nothing)."""
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        """Start the background loop (replays anything already spooled first)."""
        if self.running:
            return
        self._stopping = False
        self._reader.remove_stale_checkpoints()
        self._task = asyncio.create_task(self._run(), name="ledgerlm-spend-writer")

    def notify(self) -> None:
        """Wake the loop now instead of at the next ``interval_s`` tick (optional, after appends)."""
        self._wake.set()

    async def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every row appended so far is committed; ``False`` on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.queue_depth > 0:
            if time.monotonic() > deadline:
                return False
            self._wake.set()
            await asyncio.sleep(min(self.interval_s, 0.01))
        return True

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Seal the spool, drain it within ``timeout_s``, stop. Never raises for database failures."""
        if self._task is None:
            return
        self.spool.rotate()
        self._stopping = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except TimeoutError:
            logger.warning("spend writer stopped with %d rows still spooled", self.queue_depth)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            if self._folding is not None:  # rolled back: its deltas stay pending for the next fold
                self._folding.cancel()
        finally:
            self._task = None
            self._reader.close()

    # -- loop --------------------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.interval_s
        ahead: _Ahead = None
        while True:
            try:
                progressed, ahead = await self._step(ahead)
            except Exception as exc:  # database down, disk error or a bug: keep the rows, retry
                await _discard(ahead)
                ahead = None
                self._record_failure(exc)
                await self._sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
                continue
            backoff = self.interval_s
            await self._fold(idle=not progressed)
            if not progressed:
                self._idle_at = time.time()
                if self._stopping:
                    return
                await self._sleep(self.interval_s)
            elif ahead is None and not self._stopping:
                # (performance, issue 9) The spool is drained: let rows gather for interval_s (flush()
                # and stop() cut the wait short), so that steady traffic makes a few transactions of many
                # rows each instead of one per request (per-statement round trips were its main cost).
                await self._sleep(self.interval_s)

    async def _fold(self, idle: bool) -> None:
        """PostgreSQL: fold the pending rollup deltas (``store.rollup_deltas``) every ``FOLD_ROWS`` rows
        written, ``FOLD_S`` seconds, or when the spool is drained; in the background (a second
        connection), so batches keep being written meanwhile; awaited when stopping."""
        running = self._folding
        if running is not None and not running.done():
            if not self._stopping:
                return
            await running
        if self._unfolded == 0 or self.engine.dialect.name != "postgresql":
            return
        due = time.monotonic() - self._folded_at >= rollup_deltas.FOLD_S
        if not (due or (not self._fold_failed and (idle or self._unfolded >= rollup_deltas.FOLD_ROWS))):
            return  # (after a failed fold: only every FOLD_S seconds, not at every idle tick)
        self._folded_at = time.monotonic()
        self._folding = asyncio.create_task(self._fold_once(self._unfolded), name="ledgerlm-rollup-fold")
        if self._stopping:
            await self._folding

    async def _fold_once(self, counted: int) -> None:
        """One fold; a failure is logged and the deltas stay pending (readers count them, the next
        fold takes them)."""
        try:
            async with asyncio.timeout(self.write_timeout_s):
                folded = await rollup_deltas.fold(self.engine)
        except Exception as exc:  # the database is down
            level = logging.DEBUG if self._fold_failed else logging.WARNING
            logger.log(level, "spend writer: rollup fold failed, deltas stay pending: %s", _short(exc))
            self._fold_failed = True
            return
        self._fold_failed = False
        if folded is not None:  # None: another instance was folding; try again after FOLD_S
            self._unfolded -= counted

    async def _step(self, ahead: _Ahead) -> tuple[bool, _Ahead]:
        """Write one batch (the prepared-ahead one if any); ``(progressed, next prepared-ahead)``."""
        batch = await ahead if ahead is not None else await self._next_batch()
        if batch is None:
            return False, None
        following = self._reader.read_after(batch.chunk, self.batch_size)
        upcoming: _Ahead = None
        if following is not None:  # prepare the next batch while this one is in the database
            upcoming = asyncio.ensure_future(asyncio.to_thread(self._prepare, following))
        try:
            await self._write_batch(batch)
            self._reader.commit(batch.chunk)
        except BaseException:
            await _discard(upcoming)
            raise
        return True, upcoming

    async def _next_batch(self) -> _Batch | None:
        chunk = self._reader.next_chunk(self.batch_size)
        if chunk is None:
            return None
        if len(chunk.lines) < INLINE_PREPARE_ROWS:
            return self._prepare(chunk)
        return await asyncio.to_thread(self._prepare, chunk)

    def _prepare(self, chunk: Chunk) -> _Batch:
        """Parse and convert a chunk (CPU only; runs in a worker thread for big chunks)."""
        rows, bad = parse_lines(chunk.lines)
        prepared = prepare(rows, dialect=self.engine.dialect.name)
        prepared.rejected[:0] = [(line, "not a JSON object") for line in bad]
        if chunk.torn:
            prepared.rejected.append((chunk.torn, "incomplete line (a write was cut short)"))
        return _Batch(chunk, prepared)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _record_failure(self, exc: Exception) -> None:
        if self.failing_since is None:
            self.failing_since = time.time()
        message = _short(exc)
        if message != self.last_error:
            unexpected = not isinstance(exc, sa_exc.SQLAlchemyError | OSError | asyncpg.PostgresError)
            logger.warning("spend writer: write failed, rows stay spooled: %s", message, exc_info=unexpected)
        self.last_error = message

    async def _write_batch(self, batch: _Batch) -> None:
        prepared = batch.prepared
        if prepared.params:
            try:
                await self._write(prepared)
            except Exception as exc:
                if not _is_row_error(exc):
                    raise
                await self._write_one_by_one(prepared)
        if prepared.rejected:
            self._reject(prepared.rejected)

    async def _write(self, prepared: Prepared) -> None:
        # a black-holed database connection must not stall the ledger: give up and retry the batch
        async with asyncio.timeout(self.write_timeout_s), self.engine.begin() as conn:
            inserted = await write_prepared(conn, prepared)
        self.rows_written += len(inserted)
        self._unfolded += len(inserted)
        self.rows_duplicate += len(prepared.params) + len(prepared.reused) - len(inserted)
        self.last_error = None
        self.failing_since = None
        self.last_success_at = time.time()
        self._count_flagged(prepared)

    def _count_flagged(self, prepared: Prepared) -> None:
        flagged = [
            p for p in [*prepared.params, *prepared.reused] if (p.get("metadata") or {}).get(ANOMALIES)
        ]
        if flagged:
            self.rows_flagged += len(flagged)
            first = flagged[0]
            logger.error(
                "spend writer: %d row(s) written with anomalies (clamped or cut values), first %s: %s",
                len(flagged),
                first.get("request_id"),
                first["metadata"][ANOMALIES],
            )
            self._notify_anomalies(flagged)

    def _notify_anomalies(self, flagged: Sequence[dict[str, Any]]) -> None:
        """Hand each flagged row to ``on_anomaly`` (``minimal``: written in its minimal form)."""
        if self.on_anomaly is None:
            return
        for row in flagged:
            anomalies = list(row["metadata"][ANOMALIES])
            kind = "minimal" if any(a.get("field") == "*" for a in anomalies) else "flagged"
            try:
                self.on_anomaly(kind, str(row.get("request_id")), anomalies)
            except Exception:  # an alert must never stop the ledger
                logger.exception("spend writer: anomaly alert hook failed")

    async def _write_one_by_one(self, prepared: Prepared) -> None:
        for row in [*prepared.params, *prepared.reused]:  # reused: other calls sharing a request id
            try:
                await self._write(Prepared([row]))
            except Exception as exc:
                if not _is_row_error(exc):
                    raise
                await self._write_minimal(prepared, row, _short(exc))

    async def _write_minimal(self, prepared: Prepared, row: dict[str, Any], reason: str) -> None:
        """Write the minimal form of a refused row (it still counts); reject it only if that fails too."""
        try:
            await self._write(Prepared([minimal_row(row, reason)]))
        except Exception as exc:
            if not _is_row_error(exc):
                raise
            prepared.rejected.append((row, f"{reason}; minimal row: {_short(exc)}"))
            return
        self.rows_minimal += 1
        logger.error(
            "spend writer: row %s refused (%s); written in minimal form", row.get("request_id"), reason
        )

    def _reject(self, items: Sequence[tuple[Any, str]]) -> None:
        """Append unwritable rows to ``rejected.jsonl`` (with the reason) and log them."""
        self.rows_rejected += len(items)
        logger.error(
            "spend writer: %d row(s) rejected, kept in %s: %s", len(items), REJECTED_FILE, items[0][1]
        )
        path = self.spool.directory / REJECTED_FILE
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            for item, why in items:
                if isinstance(item, bytes):  # a raw spool line that is not JSON
                    record = {"reason": why, "line": item.decode("utf-8", "replace").rstrip("\n")}
                else:
                    record = {"reason": why, "row": item}
                options = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
                os.write(fd, orjson.dumps(record, default=str, option=options))
        finally:
            os.close(fd)
