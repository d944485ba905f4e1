"""Processes of the proxy benchmark: the simulator, the minimal proxy, ``ledgerlm proxy``, LiteLLM.

Every server is a subprocess bound to 127.0.0.1 on a free port, optionally pinned to CPU cores with
``taskset``; ``Server.rss_mb()`` is the resident memory of the process and its children (MiB, from
``/proc``). ``ensure_litellm()`` installs ``litellm[proxy]`` into its own virtual environment under
``~/.cache/ledgerlm-bench/litellm-venv`` once and returns its ``litellm`` executable (or the reason it
could not).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
CACHE_DIR = Path(os.environ.get("LEDGERLM_BENCH_CACHE", Path.home() / ".cache" / "ledgerlm-bench"))
LITELLM_VENV = CACHE_DIR / "litellm-venv"


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cores() -> list[int]:
    """CPU cores this process may run on (sorted)."""
    return sorted(os.sched_getaffinity(0))


def pinned(cmd: list[str], cpus: str | None) -> list[str]:
    """``cmd`` prefixed with ``taskset -c CPUS`` when asked for and available."""
    if cpus is None or shutil.which("taskset") is None:
        return cmd
    return ["taskset", "-c", cpus, *cmd]


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    kids = [int(x) for x in text.split()]
    return kids + [g for k in kids for g in _children(k)]


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` and its descendants in MiB (0 when gone)."""
    total_kb = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024.0


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (all its threads) and its descendants (0 when gone)."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class Server:
    """A server subprocess: ``url``, ``pid``, ``rss_mb()``, ``stop()``. Output goes to ``log_path``."""

    def __init__(self, name: str, cmd: list[str], port: int, log_path: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, path: str, timeout_s: float = 60.0) -> None:
        """Poll ``GET path`` until it answers (any HTTP status). Raises ``RuntimeError`` with the log tail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                urllib.request.urlopen(self.url + path, timeout=2).close()
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                time.sleep(0.1)
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"{self.name} did not start (log {self.log_path}):\n{tail}")

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def cpu_s(self) -> float:
        return cpu_s(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 15 s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(extra or {})
    return env


def start_simulator(models_file: Path, cpus: str | None, logs: Path, tag: str) -> Server:
    """``ledgerlm simulate`` with the knobs in ``models_file``."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "ledgerlm")
    cmd = pinned([exe, "simulate", "--port", str(port), "--models", str(models_file)], cpus)
    server = Server(f"simulator-{tag}", cmd, port, logs / f"simulator-{tag}.log", _env())
    server.wait_ready("/v1/models")
    return server


def start_minimal(upstream: str, cpus: str | None, logs: Path) -> Server:
    """The minimal pass-through proxy (``benchmarks/_minimal_proxy.py``)."""
    port = free_port()
    cmd = pinned([sys.executable, str(BENCH_DIR / "_minimal_proxy.py"), str(port), upstream], cpus)
    server = Server("minimal", cmd, port, logs / "minimal.log", _env())
    server.wait_ready("/health")
    return server


def start_ledgerlm(config: Path, cpus: str | None, logs: Path, tag: str) -> Server:
    """``ledgerlm proxy --config CONFIG`` (one worker); ``benchmarks/`` on PYTHONPATH for the callback."""
    port = free_port()
    exe = str(Path(sys.executable).parent / "ledgerlm")
    cmd = pinned([exe, "proxy", "--config", str(config), "--port", str(port), "--log-level", "warning"], cpus)
    path = os.pathsep.join(p for p in (str(BENCH_DIR), os.environ.get("PYTHONPATH", "")) if p)
    server = Server(f"ledgerlm-{tag}", cmd, port, logs / f"ledgerlm-{tag}.log", _env({"PYTHONPATH": path}))
    server.wait_ready("/health/liveliness")
    return server


def ensure_litellm(log: Path) -> Path | str:
    """The ``litellm`` executable of the cached venv, installing ``litellm[proxy]`` when missing;
    a string saying why when the install fails."""
    exe = LITELLM_VENV / "bin" / "litellm"
    if exe.exists():
        return exe
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        steps = [
            [sys.executable, "-m", "venv", str(LITELLM_VENV)],
            [str(LITELLM_VENV / "bin" / "pip"), "install", "-q", "litellm[proxy]"],
        ]
        for step in steps:
            code = subprocess.call(step, stdout=out, stderr=subprocess.STDOUT)
            if code != 0:
                return f"install failed ({' '.join(step[-2:])}: exit {code}; see {log})"
    return exe if exe.exists() else f"install finished but {exe} is missing (see {log})"


def litellm_version(exe: Path) -> str:
    """The installed LiteLLM version (``?`` when it cannot be read)."""
    python = exe.parent / "python"
    code = "import importlib.metadata as m; print(m.version('litellm'))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return done.stdout.strip() or "?"


def start_litellm(exe: Path, config: Path, cpus: str | None, logs: Path) -> Server:
    """``litellm --config CONFIG`` (one worker, no database, local price map: no network)."""
    port = free_port()
    cmd = pinned([str(exe), "--config", str(config), "--port", str(port), "--num_workers", "1"], cpus)
    env = _env(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "DISABLE_SCHEMA_UPDATE": "True",
        }
    )
    for name in ("DATABASE_URL", "PYTHONPATH"):
        env.pop(name, None)
    server = Server("litellm", cmd, port, logs / "litellm.log", env)
    server.wait_ready("/health/liveliness", timeout_s=180.0)
    return server
