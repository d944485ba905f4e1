"""A proxy under test for routing: several simulator instances as distinct deployments, the real proxy
(uvicorn thread), the official openai client, and the spend rows (SQLite) read back."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path
from typing import Any

import openai
import orjson
import sqlalchemy as sa
import yaml

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.store import tables

MASTER = "sk-routing-master"
UPSTREAM_KEY = "sk-sim"


def deployment(name: str, sim_url: str, model: str, **params: Any) -> dict[str, Any]:
    """One ``model_list`` entry on a simulator (OpenAI format); ``model_info`` via ``params['info']``."""
    info = params.pop("info", {})
    entry: dict[str, Any] = {
        "model_name": name,
        "litellm_params": {
            "model": f"openai/{model}",
            "api_base": f"{sim_url}/v1",
            "api_key": UPSTREAM_KEY,
            **params,
        },
    }
    if info:
        entry["model_info"] = info
    return entry


class RoutedProxy:
    """A running proxy with ``client()``, ``post()`` (raw response with headers) and ``rows()``."""

    def __init__(self, folder: Path, model_list: list[dict[str, Any]], **sections: Any) -> None:
        db = f"sqlite:///{folder}/ledger.db"
        config = {
            "model_list": model_list,
            "general_settings": {
                "master_key": MASTER,
                "database_url": sections.pop("database_url", db),
                "spool_dir": str(folder / "spool"),
                **sections.pop("general_settings", {}),
            },
            "litellm_settings": {"request_timeout": 30, **sections.pop("litellm_settings", {})},
            **sections,
        }
        path = folder / "config.yaml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        self.app = create_app(path)
        self.server = ServerThread(self.app).start()
        self.url = self.server.url
        self.database_url = config["general_settings"]["database_url"]
        self._db = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)
        self._clients: list[openai.OpenAI] = []

    def client(self, key: str = MASTER) -> openai.OpenAI:
        client = openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, timeout=30)
        self._clients.append(client)
        return client

    def chat(self, model: str, key: str = MASTER, **extra: Any) -> Any:
        """A chat call with the openai client; returns the raw response (``.headers``, ``.parse()``)."""
        return self.client(key).chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": "hello there"}], extra_body=extra or None
        )

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """A management call with the master key; the parsed JSON body (asserts 200)."""
        req = urllib.request.Request(
            self.url + path,
            data=None if body is None else orjson.dumps(body),
            method=method,
            headers={"authorization": f"Bearer {MASTER}", "content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
            return orjson.loads(resp.read())

    def wait_written(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.app.state.proxy.store.writer.queue_depth:
            assert time.monotonic() < deadline, "spend rows not written"
            time.sleep(0.02)
        time.sleep(0.05)

    def rows(self, **where: Any) -> list[dict[str, Any]]:
        self.wait_written()
        query = sa.select(tables.spend_logs)
        for name, value in where.items():
            query = query.where(tables.spend_logs.c[name] == value)
        with self._db.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.server.stop()
        self._db.dispose()
