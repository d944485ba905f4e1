"""``ledgerlm proxy`` as a subprocess, with everything it prints captured to a log file.

Used where the test needs a real process: SIGKILL, a second instance, or the process's own log output
(the secrets suite greps it). ``ProxyProcess(config, log_path, env=..., log_level="debug")``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.helpers.net import free_port, wait_http


class ProxyProcess:
    """A started proxy. ``url``: ``http://127.0.0.1:PORT``; ``log_text()``: its stdout+stderr so far."""

    def __init__(
        self,
        config: Path,
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        log_level: str = "warning",
        port: int | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("ab")
        cmd = [sys.executable, "-m", "ledgerlm.cli", "proxy", "--config", str(config)]
        cmd += ["--port", str(self.port), "--log-level", log_level]
        full_env = {**os.environ, **(env or {})}
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env)
        try:
            wait_http(f"{self.url}/health/liveliness", start_timeout_s, alive=self.alive)
        except (RuntimeError, TimeoutError) as exc:
            self.terminate()
            raise RuntimeError(f"proxy did not start: {exc}\n{self.log_text()[-3000:]}") from None

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL (no shutdown hooks run) and reap."""
        if self.alive():
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def terminate(self) -> None:
        """SIGTERM (graceful: the spend writer drains) and reap; SIGKILL after 20 s."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()

    def log_text(self) -> str:
        """Everything the process printed so far (decoded leniently)."""
        return self.log_path.read_bytes().decode("utf-8", "replace")
