"""End-to-end fixtures: the real proxy (uvicorn in a thread, or a subprocess), the simulator as upstream,
SQLite or the machine's PostgreSQL (a unique database per test module), the official ``openai`` client.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
import sqlalchemy as sa
import yaml

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator
from ledgerlm.store import tables

MASTER_KEY = "sk-e2e-master-key"
SIM_KEY = "sk-sim-upstream"

# Upstream models of the simulator (knobs per model) and the custom prices of "priced" (USD per token).
SIM_MODELS: dict[str, dict[str, Any]] = {
    "sim-priced": {"completion_tokens": 7},
    "sim-broken": {"error_status": 500},
    "sim-slow-stream": {"chunk_interval_ms": 40, "completion_tokens": 40},
    "sim-breaking": {"break_after_chunks": 2},
}
INPUT_PRICE = Decimal("0.000001")
OUTPUT_PRICE = Decimal("0.000002")


def model_list(sim_url: str) -> list[dict[str, Any]]:
    """The proxy's model groups: a catalog-priced one, a custom-priced one, a failing one, embeddings."""
    base = f"{sim_url}/v1"
    return [
        {
            "model_name": "gpt-4o-mini",
            "litellm_params": {
                "model": "openai/gpt-4o-mini",
                "api_base": base,
                "api_key": SIM_KEY,
                "tags": ["deploy:main"],
            },
        },
        {
            "model_name": "priced",
            "litellm_params": {
                "model": "openai/sim-priced",
                "api_base": base,
                "api_key": SIM_KEY,
                "input_cost_per_token": str(INPUT_PRICE),
                "output_cost_per_token": str(OUTPUT_PRICE),
            },
        },
        {
            "model_name": "broken",
            "litellm_params": {"model": "openai/sim-broken", "api_base": base, "api_key": SIM_KEY},
        },
        {
            "model_name": "slow-stream",
            "litellm_params": {"model": "openai/sim-slow-stream", "api_base": base, "api_key": SIM_KEY},
        },
        {
            "model_name": "breaking",
            "litellm_params": {"model": "openai/sim-breaking", "api_base": base, "api_key": SIM_KEY},
        },
        {
            "model_name": "unpriced",
            "litellm_params": {"model": "openai/sim-unpriced-model", "api_base": base, "api_key": SIM_KEY},
        },
        {
            "model_name": "embed",
            "litellm_params": {
                "model": "openai/text-embedding-3-small",
                "api_base": base,
                "api_key": SIM_KEY,
            },
        },
    ]


def write_config(path: Path, sim_url: str, database_url: str, spool_dir: Path, **sections: Any) -> Path:
    """Write a LiteLLM-style config; ``sections`` are merged into general/litellm settings."""
    config: dict[str, Any] = {
        "model_list": model_list(sim_url),
        "general_settings": {
            "master_key": MASTER_KEY,
            "database_url": database_url,
            "spool_dir": str(spool_dir),
            **sections.pop("general_settings", {}),
        },
        "litellm_settings": {"num_retries": 0, "request_timeout": 30, **sections.pop("litellm_settings", {})},
        **sections,
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def sync_url(database_url: str) -> str:
    """A synchronous SQLAlchemy URL for reading rows in the test (sqlite3 / psycopg)."""
    if database_url.startswith("postgresql"):
        return "postgresql+psycopg://" + database_url.split("://", 1)[1]
    return database_url


class Proxy:
    """A running proxy under test with helpers for HTTP, the openai client and reading the database."""

    def __init__(self, url: str, database_url: str, app: Any = None) -> None:
        self.url = url
        self.database_url = database_url
        self.app = app
        self._db = sa.create_engine(sync_url(database_url), poolclass=sa.pool.NullPool)
        self._clients: list[openai.OpenAI] = []

    # -- HTTP ------------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = MASTER_KEY,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        """(status, parsed JSON body, headers) of one HTTP call."""
        data = None if body is None else orjson.dumps(body)
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        if key is not None:
            req.add_header("authorization", f"Bearer {key}")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, orjson.loads(resp.read() or b"null"), dict(resp.headers)
        except urllib.error.HTTPError as err:
            return err.code, orjson.loads(err.read() or b"null"), dict(err.headers)

    def ok(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        """The JSON body of a call that must answer 200."""
        status, data, _ = self.request(method, path, body, **kw)
        assert status == 200, (status, data)
        return data

    def client(self, key: str = MASTER_KEY) -> openai.OpenAI:
        """The official openai client pointed at the proxy (no client-side retries)."""
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=30)
        self._clients.append(client)
        return client

    def new_team(self, **fields: Any) -> str:
        return str(self.ok("POST", "/team/new", fields)["team_id"])

    def new_key(self, **fields: Any) -> str:
        return str(self.ok("POST", "/key/generate", fields)["key"])

    # -- database --------------------------------------------------------------------------------------

    def wait_written(self, expected_rows: int | None = None, timeout_s: float = 20.0) -> None:
        """Wait until the in-process writer committed everything (or ``expected_rows`` rows exist)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if expected_rows is not None:
                if self.count_rows() >= expected_rows:
                    return
            elif self.app is not None and self.app.state.proxy.store.writer.queue_depth == 0:
                return
            time.sleep(0.02)
        raise AssertionError(f"spend rows not written within {timeout_s}s")

    def rows(self, **where: Any) -> list[dict[str, Any]]:
        """``spend_logs`` rows matching ``column == value``."""
        table = tables.spend_logs
        query = sa.select(table)
        for name, value in where.items():
            query = query.where(table.c[name] == value)
        with self._db.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def row(self, request_id: str) -> dict[str, Any]:
        found = self.rows(request_id=request_id)
        assert len(found) == 1, f"{len(found)} rows for {request_id}"
        return found[0]

    def count_rows(self) -> int:
        with self._db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(tables.spend_logs)).scalar_one())

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        self._db.dispose()


@pytest.fixture(scope="session")
def simulator() -> Iterator[Simulator]:
    """The provider simulator (OpenAI format) shared by the e2e tests."""
    with Simulator(models={k: dict(v) for k, v in SIM_MODELS.items()}) as sim:
        yield sim


def _create_pg_database(base_url: str) -> tuple[str, str]:
    import psycopg

    name = f"ledgerlm_e2e_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + "/" + name, name


def _drop_pg_database(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database per test module: a SQLite file, or a new PostgreSQL database (dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db')}/ledgerlm.db"
        return
    base = request.getfixturevalue("postgres_url")
    url, name = _create_pg_database(base)
    try:
        yield url
    finally:
        _drop_pg_database(base, name)


@pytest.fixture(scope="module")
def proxy_factory(simulator: Simulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """``start(database_url, **sections) -> Proxy`` running in a thread; all stopped at module end."""
    running: list[tuple[ServerThread, Proxy]] = []

    def start(database_url: str, **sections: Any) -> Proxy:
        folder = tmp_path_factory.mktemp("proxy")
        path = write_config(folder / "config.yaml", simulator.url, database_url, folder / "spool", **sections)
        app = create_app(path)
        server = ServerThread(app).start()
        proxy = Proxy(server.url, database_url, app)
        running.append((server, proxy))
        return proxy

    yield start
    for server, proxy in running:
        proxy.close()  # clients first: the server then has no open keep-alive connection to wait for
        server.stop()


@pytest.fixture(scope="module")
def proxy(proxy_factory: Any, database_url: str) -> Proxy:
    """A proxy on this module's database with ``extra_spend_tag_headers: [X-Service]``."""
    return proxy_factory(database_url, litellm_settings={"extra_spend_tag_headers": ["X-Service"]})
