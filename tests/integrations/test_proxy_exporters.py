"""The real proxy loading exporters from its config (``callbacks`` + ``callback_settings``), called with
the official ``openai`` client: records reach a real webhook receiver and an OTLP receiver, and the span
continues the caller's W3C ``traceparent``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
import yaml
from exporter_support import Receiver, wait_until
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread
from ledgerlm.simulator import Simulator

MASTER_KEY = "sk-exporters-master"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator() as sim:
        yield sim


def _config(path: Path, sim: Simulator, receiver: Receiver) -> Path:
    fast = {"flush_interval_s": 0.02, "max_retries": 1, "backoff_initial_s": 0.01}
    config: dict[str, Any] = {
        "model_list": [
            {
                "model_name": "gpt-4o-mini",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": f"{sim.url}/v1",
                    "api_key": "sk-up",
                },
            }
        ],
        "general_settings": {
            "master_key": MASTER_KEY,
            "database_url": f"sqlite:///{path}/db.sqlite",
            "spool_dir": str(path / "spool"),
        },
        "litellm_settings": {"num_retries": 0, "callbacks": ["audit_hook", "otel"]},
        "callback_settings": {
            "audit_hook": {"callback_type": "generic_api", "endpoint": f"{receiver.url}/hook", **fast},
            "otel": {"endpoint": receiver.url, "metrics": False, **fast},
        },
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return path / "config.yaml"


async def test_proxy_calls_are_exported(simulator: Simulator, receiver: Receiver, tmp_path: Path) -> None:
    server = ServerThread(create_app(_config(tmp_path, simulator, receiver))).start()
    client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=MASTER_KEY, max_retries=0, timeout=30)
    try:
        reply = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01", "x-litellm-tags": "team:search"},
        )
        await wait_until(lambda: {r.path for r in receiver.requests} >= {"/hook", "/v1/traces"})
    finally:
        await client.close()
        server.stop()

    [record] = [e for r in receiver.requests if r.path == "/hook" for e in orjson.loads(r.body)]
    assert record["status"] == "success" and record["model_group"] == "gpt-4o-mini"
    assert record["response_id"] == reply.id
    assert record["cost"]["total"] is not None
    assert "team:search" in record["request_tags"]
    assert record["key_hash"] in (None, hashlib.sha256(MASTER_KEY.encode()).hexdigest())
    assert MASTER_KEY not in orjson.dumps(record).decode()  # no secret leaves the process

    spans = [
        span
        for r in receiver.requests
        if r.path == "/v1/traces"
        for rs in ExportTraceServiceRequest.FromString(r.body).resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    ]
    [span] = spans
    assert span.name == "chat gpt-4o-mini"
    assert span.trace_id.hex() == TRACE_ID  # the caller's trace continues
    assert span.parent_span_id.hex() == PARENT_SPAN
