"""Ports and readiness probes for servers started by the tests (127.0.0.1 only)."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import openai


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (bind port 0, read it, release it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout_s: float = 60.0, alive: object = None) -> None:
    """Poll ``url`` until it answers (any HTTP status). ``alive``: a callable returning False when the
    server process died (then ``RuntimeError``). Raises ``TimeoutError`` after ``timeout_s`` seconds."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if callable(alive) and not alive():
            raise RuntimeError(f"the server behind {url} exited")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


def wait_port(host: str, port: int, timeout_s: float = 10.0) -> None:
    """Wait until a TCP connect to ``host:port`` succeeds. Raises ``TimeoutError``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not accept connections within {timeout_s}s")


@contextmanager
def openai_client(base_url: str, key: str, timeout_s: float = 30.0) -> Iterator[openai.OpenAI]:
    """The official openai client on ``{base_url}/v1`` (no retries), closed on exit so no keep-alive
    connection delays the server's graceful shutdown."""
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key=key, max_retries=0, timeout=timeout_s)
    try:
        yield client
    finally:
        client.close()
