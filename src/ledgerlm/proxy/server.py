"""Running the proxy: ``serve`` (the ``ledgerlm proxy`` command) and ``ServerThread`` (tests, demo).

``serve`` validates the config, migrates the database and pings Redis (when ``redis_url`` / ``$REDIS_URL``
is set) BEFORE starting uvicorn, so a bad config, an unreachable database or Redis fails at start with
a clear message; with ``workers > 1`` each worker process builds
its own app from ``LEDGERLM_PROXY_CONFIG`` (and its own spool slot).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from ledgerlm.proxy.app import CONFIG_ENV, NO_MIGRATE_ENV, build_app
from ledgerlm.proxy.budget_setup import warn_if_unshared
from ledgerlm.proxy.config import ProxyConfig, load_config
from ledgerlm.proxy.state import build_state

__all__ = ["ServerThread", "serve"]


def _uvicorn_options(log_level: str) -> dict[str, Any]:
    # "auto" picks uvloop and httptools when installed.
    return {
        "loop": "auto",
        "http": "auto",
        "log_level": log_level,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
    }


def check_redis(config: ProxyConfig, *, timeout_s: float = 3.0) -> None:
    """Ping the Redis the proxy would use (``general_settings.redis_url``, else ``$REDIS_URL``; nothing
    when neither is set). Raises ``ConnectionError`` (an ``OSError``: the CLI prints one ``error:``
    line, exit 1) naming the host, port and db, never the URL's password."""
    import redis

    url = config.general_settings.redis_url or os.environ.get("REDIS_URL")
    if not url:
        return
    try:
        parts = urlsplit(url)
        where = f"{parts.hostname}:{parts.port or 6379}/{parts.path.strip('/') or 0}"
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
    except ValueError as exc:
        raise ConnectionError(f"redis_url is not a Redis URL: {exc}") from None
    try:
        client.ping()
    except redis.RedisError as exc:
        raise ConnectionError(
            f"Redis at {where} (general_settings.redis_url or $REDIS_URL) is unreachable: {exc}"
        ) from None
    finally:
        client.close()


def serve(
    config_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 4000,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Validate the config, migrate the database, then serve until interrupted.

    Raises ``ConfigError`` for a bad config (the CLI prints it and exits 2), ``ConnectionError`` for
    an unreachable Redis (``check_redis``).
    """
    from ledgerlm.store.migrate import migrate

    path = Path(config_path).resolve()
    config = load_config(path)
    state = build_state(config, base_dir=path.parent, migrate=False)
    migrate(config.database_url)
    check_redis(config)
    if workers <= 1:
        uvicorn.run(build_app(state), host=host, port=port, **_uvicorn_options(log_level))
        return
    warn_if_unshared(config, workers)
    os.environ[CONFIG_ENV] = str(path)
    os.environ[NO_MIGRATE_ENV] = "1"
    uvicorn.run(
        "ledgerlm.proxy.app:app_factory",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **_uvicorn_options(log_level),
    )


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a background thread.

    ``with ServerThread(app) as server: server.url`` -> ``http://127.0.0.1:PORT``. ``stop()`` shuts down
    gracefully (the app's lifespan drains the spend writer).
    """

    def __init__(self, app: Any, *, log_level: str = "warning", start_timeout_s: float = 30.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, lifespan="on", **_uvicorn_options(log_level))
        self.server = uvicorn.Server(config)
        self.start_timeout_s = start_timeout_s
        self.thread = threading.Thread(target=self._run, name=f"ledgerlm-proxy-{self.port}", daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])  # uvloop when installed, like the CLI
        except BaseException as exc:  # surfaced by start()
            self.error = exc

    def start(self) -> ServerThread:
        """Start and wait until the server accepts requests. Raises ``RuntimeError`` on failure."""
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"proxy did not start: {self.error!r}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Graceful shutdown; waits for the thread."""
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
