"""Configs, databases and keys of the proxy benchmark.

Two simulators serve the same OpenAI format: one with no added latency (model ``gpt-4o-mini``), one
with 50 ms before the first byte (model ``gpt-4o-mini-2024-07-18``, both priced by the catalog). Every
proxy serves both model names from the matching simulator, so direct and proxied requests send the
very same body.
"""

from __future__ import annotations

import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
import yaml

MASTER_KEY = "sk-bench-master-key"
UPSTREAM_KEY = "sk-bench-upstream"
MODELS = {0: "gpt-4o-mini", 50: "gpt-4o-mini-2024-07-18"}
"""Upstream latency (ms) -> the model name served with it."""
TAGS_HEADER = "bench,env:bench"
PROMPT = "Summarise the benefits of a gateway that logs every call, in two short sentences please."


def request_body(latency_ms: int, stream: bool) -> bytes:
    """The chat request sent to every target (streams ask for usage, as ledgerlm does upstream)."""
    body: dict[str, Any] = {
        "model": MODELS[latency_ms],
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 64,
    }
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return orjson.dumps(body)


def simulator_models(latency_ms: int) -> dict[str, Any]:
    """Simulator knobs: the model of ``latency_ms`` waits that long before its first byte."""
    return {MODELS[latency_ms]: {"latency_ms": latency_ms}}


def _model_list(sims: dict[int, str], tags: bool) -> list[dict[str, Any]]:
    out = []
    for latency, model in MODELS.items():
        params: dict[str, Any] = {"model": f"openai/{model}", "api_base": f"{sims[latency]}/v1"}
        params["api_key"] = UPSTREAM_KEY
        if tags:
            params["tags"] = ["deploy:bench"]
        out.append({"model_name": model, "litellm_params": params})
    return out


def ledgerlm_config(path: Path, sims: dict[int, str], database_url: str, spool_dir: Path) -> Path:
    """A ``ledgerlm proxy`` config with everything on (issue 22): master key, database, spool, a tag
    policy (``env`` required, aliased, defaulted), routing settings, one ``CustomLogger`` and Prometheus."""
    config = {
        "model_list": _model_list(sims, tags=True),
        "general_settings": {
            "master_key": MASTER_KEY,
            "database_url": database_url,
            "spool_dir": str(spool_dir),
            "tag_policies": {
                "env": {
                    "required": True,
                    "allowed": ["bench", "production"],
                    "aliases": {"prod": "production"},
                    "default": "bench",
                    "action": "default",
                }
            },
        },
        "router_settings": {"routing_strategy": "simple-shuffle"},
        "litellm_settings": {
            "callbacks": ["_bench_logger.handler", "prometheus"],
            "num_retries": 0,
            "request_timeout": 60,
        },
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def litellm_config(path: Path, sims: dict[int, str]) -> Path:
    """The equivalent LiteLLM proxy config: same models and upstreams, a master key, no database."""
    config = {
        "model_list": _model_list(sims, tags=False),
        "general_settings": {"master_key": MASTER_KEY},
        "litellm_settings": {"num_retries": 0, "request_timeout": 60, "drop_params": True},
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def new_virtual_key(proxy_url: str) -> str:
    """A virtual key with a budget, an rpm and tpm limit and tags (``POST /key/generate``)."""
    body = {
        "max_budget": 1_000_000,
        "budget_duration": "30d",
        "rpm_limit": 100_000_000,
        "tpm_limit": 100_000_000_000,
        "metadata": {"tags": ["key:bench"]},
        "key_alias": f"bench-{uuid.uuid4().hex[:8]}",
    }
    req = urllib.request.Request(proxy_url + "/key/generate", data=orjson.dumps(body), method="POST")
    req.add_header("authorization", f"Bearer {MASTER_KEY}")
    req.add_header("content-type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(orjson.loads(resp.read())["key"])


def create_pg_database(server_url: str) -> tuple[str, str]:
    """A fresh PostgreSQL database on the server of ``server_url``: ``(its URL, its name)``."""
    import psycopg

    name = f"ledgerlm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name, name


def drop_pg_database(server_url: str, name: str) -> None:
    """Drop the benchmark database (connections closed first)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(database_url: str, prefix: str | None = None) -> int:
    """Rows in ``spend_logs`` (only those whose request id starts with ``prefix`` when given)."""
    where = " WHERE request_id LIKE %s" if prefix else ""
    if database_url.startswith("sqlite"):
        import sqlite3

        path = database_url.split(":///", 1)[1]
        with sqlite3.connect(path) as conn:
            query = "SELECT count(*) FROM spend_logs" + where.replace("%s", "?")
            return int(conn.execute(query, (prefix + "%",) if prefix else ()).fetchone()[0])
    import psycopg

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM spend_logs" + where, (prefix + "%",) if prefix else ())
        return int(row.fetchone()[0])  # type: ignore[index]
