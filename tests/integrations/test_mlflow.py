"""MLflow exporter against a real ``mlflow server`` (SQLite backend, local artifacts) started by the test.

The server is started once for the module (its first start migrates the SQLite schema: ~30 s on a
loaded 2-core machine); traces are read back with MLflow's own client.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exporter_support import make_record

from ledgerlm.integrations import get_exporter
from ledgerlm.integrations.mlflow import MlflowExporter

pytest.importorskip("mlflow", reason="mlflow (dev extra) runs the tracking server")
pytestmark = [pytest.mark.timeout(300), pytest.mark.filterwarnings("ignore::DeprecationWarning")]

FAST = {"flush_interval_s": 0.05, "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "max_retries": 3}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("mlflow")
    port = _free_port()
    mlflow_bin = str(Path(sys.executable).parent / "mlflow")
    command = [
        mlflow_bin, "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
        "--default-artifact-root", str(root / "artifacts"),
    ]  # fmt: skip
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while not _healthy(url):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            pytest.fail(f"mlflow server did not start: {(root / 'server.log').read_text()[-2000:]}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


def _traces(url: str, experiment_id: str) -> list[Any]:
    from mlflow import MlflowClient

    return list(MlflowClient(url).search_traces(locations=[experiment_id]))


async def test_each_call_is_an_mlflow_trace_with_genai_attributes_and_cost(mlflow_server: str) -> None:
    env = {"MLFLOW_TRACKING_URI": mlflow_server, "MLFLOW_EXPERIMENT_NAME": "ledgerlm-calls"}
    exporter = get_exporter(
        "mlflow",
        {"callback_settings": {"mlflow": {**FAST, "content_logging": True}}, "environment_variables": env},
    )
    assert isinstance(exporter, MlflowExporter)
    ok = make_record(id="req-ml-ok")
    failed = make_record(
        id="req-ml-fail",
        status="failure",
        error={"type": "RateLimitError", "message": "slow down"},
        cost={"total": None},
    )
    try:
        exporter.enqueue(ok)
        exporter.enqueue(failed)
        assert await exporter.aflush(timeout=60)
    finally:
        await exporter.aclose()
    assert exporter.experiment_id not in (None, "0")  # created by name

    found = _traces(mlflow_server, str(exporter.experiment_id))
    assert len(found) == 2
    by_request = {t.data.spans[0].attributes["ledgerlm.request.id"]: t for t in found}
    trace = by_request["req-ml-ok"]
    [span] = trace.data.spans
    assert span.span_type == "LLM"
    assert span.name == "chat gpt-4o-mini"
    assert str(trace.info.state).endswith("OK")
    attrs = span.attributes
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == 1200 and attrs["gen_ai.usage.output_tokens"] == 300
    assert attrs["mlflow.llm.cost"]["total_cost"] == pytest.approx(0.000375)
    assert attrs["ledgerlm.cost.total_decimal"] == "0.000375"
    assert attrs["ledgerlm.team.id"] == "team-a"
    assert attrs["mlflow.spanInputs"] == {"messages": [{"role": "user", "content": "secret prompt"}]}
    assert trace.info.execution_duration == 1500  # ms, the call's latency

    failure = by_request["req-ml-fail"]
    assert str(failure.info.state).endswith("ERROR")
    assert "RateLimitError" in failure.data.spans[0].status.description
    attrs = failure.data.spans[0].attributes
    # unpriced: ledgerlm sends no cost (MLflow may add its own estimate from the model name)
    assert attrs["ledgerlm.cost.priced"] is False and "ledgerlm.cost.total_usd" not in attrs


def test_tracking_uri_is_required() -> None:
    with pytest.raises(ValueError, match="MLFLOW_TRACKING_URI"):
        MlflowExporter.from_settings({}, {"MLFLOW_TRACKING_URI": "file:///tmp/mlruns"})
