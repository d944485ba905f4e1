"""An asyncio TCP forwarder the tests control, run on its own event loop in a daemon thread.

``TcpForwarder(target_host, target_port)`` listens on 127.0.0.1 (a free port, kept across cuts) and pipes
bytes both ways to the target. ``cut()`` closes the listener AND every open connection: clients see
"connection refused" for new connections and a reset/EOF on old ones, exactly as when the target machine
goes away. ``restore()`` listens again on the same port. Used to make the machine's shared PostgreSQL
unreachable for ONE proxy without stopping the server other tests use.

``blackhole()`` is a silent partition (issue 14): connections stay open and new ones are accepted, but
every byte either way is dropped (no reset, no FIN), so a client waits until its own deadline.
``heal()`` ends it: the connections that lost bytes are reset (their streams are out of step) and new
ones are forwarded again.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any


class TcpForwarder:
    """See the module docstring. ``port``: the listening port; ``connections``: accepted so far."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0
        self.cuts = 0
        self.dropping = False
        self._held: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-forwarder", daemon=True)
        self._thread.start()
        self._call(self._listen())

    def _call(self, coro: Coroutine[Any, Any, Any], timeout_s: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout_s)

    @property
    def listening(self) -> bool:
        """True while connections are forwarded (not cut)."""
        return self._server is not None

    async def _listen(self) -> None:
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = int(server.sockets[0].getsockname()[1])
        self._server = server

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.dropping:  # accepted, then silence: read and drop everything
            self._held.add(writer)
            try:
                while await reader.read(65536):
                    pass
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                self._held.discard(writer)
                with contextlib.suppress(Exception):
                    writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except asyncio.CancelledError:
            return  # closing the forwarder: end quietly (a cancelled handler is logged by asyncio)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                if self.dropping:
                    continue  # the packet is lost
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            transport = writer.transport
            with contextlib.suppress(Exception):
                transport.abort()  # RST, not a polite FIN: the peer "vanished"
        self._writers.clear()

    def cut(self) -> None:
        """Close the listener and every forwarded connection (the target becomes unreachable)."""
        self.cuts += 1
        self._call(self._cut())

    def blackhole(self) -> None:
        """Drop every byte silently from now on (see the module docstring)."""
        self.dropping = True

    async def _heal(self) -> None:
        self.dropping = False
        for writer in [*self._writers, *self._held]:
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._writers.clear()
        self._held.clear()

    def heal(self) -> None:
        """End a ``blackhole()``: reset the connections that lost bytes, forward new ones again."""
        self._call(self._heal())

    def restore(self) -> None:
        """Listen again on the same port (no-op when not cut)."""
        if self._server is None:
            self._call(self._listen())

    async def _shutdown(self) -> None:
        await self._cut()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        """Cut, finish every connection task and stop the forwarder's loop."""
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


def route_url_through(database_url: str, forwarder: TcpForwarder) -> str:
    """``database_url`` with its host:port replaced by the forwarder's (``postgresql://user@host:port/db``)."""
    scheme, rest = database_url.split("://", 1)
    auth, _, host_db = rest.rpartition("@")
    _, _, db = host_db.partition("/")
    prefix = f"{auth}@" if auth else ""
    return f"{scheme}://{prefix}127.0.0.1:{forwarder.port}/{db}"
