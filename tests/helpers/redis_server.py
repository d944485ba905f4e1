"""A private ``redis-server`` on a free port (no persistence), which a test may stop and start again.

Never touches the machine's shared Redis. ``RedisServer().start()``; ``url``; ``restart()`` (all data
lost, like a crash of an unpersisted Redis); ``stop()``.
"""

from __future__ import annotations

import shutil
import subprocess

from tests.helpers.net import free_port, wait_port


def redis_server_available() -> bool:
    """True when the ``redis-server`` binary is on PATH."""
    return shutil.which("redis-server") is not None


class RedisServer:
    """See the module docstring."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> RedisServer:
        """Start it and wait until it accepts connections."""
        cmd = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port("127.0.0.1", self.port)
        return self

    def stop(self) -> None:
        """Kill it (SIGKILL: nothing is saved) and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        """Stop, then start on the same port: every key is gone."""
        self.stop()
        self.start()
        self.restarts += 1
