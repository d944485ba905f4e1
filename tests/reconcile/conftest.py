"""Reconciliation fixtures: the real proxy (SQLite) in front of the simulator, real traffic through the
official ``openai`` client, and the simulator's admin reports built from the traffic it answered."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openai
import pytest
import sqlalchemy as sa
import yaml

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator
from ledgerlm.store.tables import spend_logs

MASTER_KEY = "sk-reconcile-master"
UPSTREAM_KEY = "sk-reconcile-upstream"
SIM_MODELS: dict[str, dict[str, Any]] = {
    "gpt-4o-mini": {"prompt_tokens": 1200, "cached_tokens": 1024, "completion_tokens": 90},
    "claude-3-5-haiku-20241022": {"prompt_tokens": 900, "cached_tokens": 300, "cache_write_tokens": 200},
    "sim-unpriced-model": {"prompt_tokens": 100, "completion_tokens": 10},
}


@dataclass
class Traffic:
    """The running simulator, the proxy config path, its SQLite URL and the calls made."""

    sim: Simulator
    config: Path
    database_url: str
    calls: int

    def ledger_spend(self, provider: str, model: str | None = None) -> Decimal:
        """Sum of ``spend_logs.spend`` (priced rows) of ``provider`` [and ``model``], read with SQL."""
        c = spend_logs.c
        query = sa.select(c.spend).where(c.custom_llm_provider == provider, c.spend.is_not(None))
        if model:
            query = query.where(c.model == model)
        engine = sa.create_engine(self.database_url)
        with engine.connect() as conn:
            values = [v for (v,) in conn.execute(query)]
        engine.dispose()
        return sum(values, Decimal(0))


def _config(folder: Path, sim_url: str) -> Path:
    def entry(name: str, model: str, **extra: Any) -> dict[str, Any]:
        params = {"model": model, "api_base": extra.pop("api_base", f"{sim_url}/v1"), "api_key": UPSTREAM_KEY}
        return {"model_name": name, "litellm_params": params, **extra}

    config = {
        "model_list": [
            entry("gpt-4o-mini", "openai/gpt-4o-mini"),
            entry("unpriced", "openai/sim-unpriced-model"),
            entry("haiku", "anthropic/claude-3-5-haiku-20241022", api_base=sim_url),
        ],
        "general_settings": {
            "master_key": MASTER_KEY,
            "database_url": f"sqlite:///{folder}/ledger.db",
            "spool_dir": str(folder / "spool"),
        },
        "litellm_settings": {"num_retries": 0},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _wait_written(app: Any) -> None:
    writer = app.state.proxy.store.writer
    deadline = time.monotonic() + 20
    while writer.queue_depth > 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)


@pytest.fixture(scope="package")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traffic]:
    """12 calls through the proxy: gpt-4o-mini (cached input), haiku (cache reads and writes), an
    unpriced model; plain and streamed."""
    folder = tmp_path_factory.mktemp("reconcile")
    with Simulator(models={k: dict(v) for k, v in SIM_MODELS.items()}) as sim:
        config = _config(folder, sim.url)
        app = create_app(config)
        with ServerThread(app) as server:
            client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=MASTER_KEY, max_retries=0)
            calls = 0
            for i in range(4):
                for model in ("gpt-4o-mini", "haiku", "unpriced"):
                    messages: Any = [{"role": "user", "content": f"reconcile me {i}"}]
                    if i % 2:
                        list(client.chat.completions.create(model=model, messages=messages, stream=True))
                    else:
                        client.chat.completions.create(model=model, messages=messages)
                    calls += 1
            client.close()
            _wait_written(app)
        yield Traffic(sim, config, f"sqlite:///{folder}/ledger.db", calls)


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""
    from tests.helpers.pg import temp_database

    with temp_database(postgres_url, prefix="ledgerlm_reconcile") as url:
        yield url
