"""Helpers for store tests: spool rows, totals read back from the database, a TCP forwarder."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ledgerlm.store import SpendLog
from ledgerlm.store.ingest import write_rows
from ledgerlm.store.tables import spend_logs

from .factories import make_record


def rows(count: int, **overrides: Any) -> list[dict[str, Any]]:
    """``count`` spool rows of fresh records with ``overrides`` applied."""
    return [SpendLog.from_record(make_record(**overrides), store_prompts=False) for _ in range(count)]


async def ingest(engine: AsyncEngine, batch: list[dict[str, Any]]) -> list[str]:
    async with engine.begin() as conn:
        return await write_rows(conn, batch)


async def scalar(engine: AsyncEngine, statement: Any) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(statement)).scalar()


async def sum_spend(engine: AsyncEngine, *where: Any) -> Decimal:
    """``SUM(spend)`` of the spend log rows matching ``where`` (0 when none)."""
    value = await scalar(engine, sa.select(sa.func.sum(spend_logs.c.spend)).where(*where))
    return Decimal(0) if value is None else value


async def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll ``condition`` every 10 ms until it holds (``True``) or ``timeout_s`` passes (``False``)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def count_rows(engine: AsyncEngine, *where: Any) -> int:
    return int(await scalar(engine, sa.select(sa.func.count()).select_from(spend_logs).where(*where)))


class TCPForwarder:
    """A real TCP hop in front of a server that can be taken down and brought back (network fault)."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.stalled = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def down(self) -> None:
        """Refuse new connections and cut every open one."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def stall(self) -> None:
        """Black-hole the link: connections stay open but no byte gets through (a dropped-packet fault)."""
        self.stalled = True

    def resume(self) -> None:
        """End the black hole; connections that lost bytes are reset, as after a real outage."""
        self.stalled = False
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while data := await reader.read(65536):
                if self.stalled:
                    continue
                writer.write(data)
                await writer.drain()
        writer.transport.abort()
        self._writers.discard(writer)
