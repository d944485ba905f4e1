"""S3 exporter against a real S3-compatible server (moto's server mode, started by the test).

The server is stopped mid-run (connection refused: the batch is spooled to disk), started again with
its state wiped (``/moto-api/reset``, as a fresh store: ``NoSuchBucket`` keeps the batch spooled), and
once the bucket exists again the spooled batch lands: every call is in exactly one object line.
"""

from __future__ import annotations

import re
import socket
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from exporter_support import make_record
from moto.server import ThreadedMotoServer

from ledgerlm.integrations import get_exporter
from ledgerlm.integrations.s3 import S3Exporter

FAST = {"flush_interval_s": 0.05, "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_retries": 1}
CREDS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
HOUR = 3600.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def moto() -> Iterator[dict[str, Any]]:
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    state: dict[str, Any] = {"server": server, "port": port, "url": f"http://127.0.0.1:{port}"}
    yield state
    state["server"].stop()


def _client(url: str) -> Any:
    return boto3.session.Session().client("s3", endpoint_url=url, **CREDS)


def _read_all(url: str, bucket: str) -> dict[str, list[dict[str, Any]]]:
    client = _client(url)
    out: dict[str, list[dict[str, Any]]] = {}
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        out[item["Key"]] = [orjson.loads(line) for line in body.splitlines()]
    client.close()
    return out


def _exporter(url: str, tmp_path: Path) -> S3Exporter:
    config = {
        "litellm_settings": {
            "s3_callback_params": {
                "s3_bucket_name": "ledger-logs",
                "s3_region_name": "us-east-1",
                "s3_endpoint_url": url,
                "s3_path": "prod/llm",
                "s3_aws_access_key_id": "os.environ/TEST_S3_KEY_ID",
                "s3_aws_secret_access_key": "os.environ/TEST_S3_SECRET",
            }
        },
        "callback_settings": {"s3": {**FAST, "batch_size": 4, "spool_dir": str(tmp_path / "spool")}},
        "environment_variables": {"TEST_S3_KEY_ID": "testing", "TEST_S3_SECRET": "testing"},
    }
    exporter = get_exporter("s3", config)
    assert isinstance(exporter, S3Exporter)
    return exporter


async def test_objects_by_hour_and_no_batch_lost_across_restart(moto: dict[str, Any], tmp_path: Path) -> None:
    _client(moto["url"]).create_bucket(Bucket="ledger-logs")
    exporter = _exporter(moto["url"], tmp_path)
    start = 1_764_400_000.0  # 2025-11-29T07:06:40Z
    first = [make_record(start_time=start + i * 1200, end_time=start + i * 1200 + 1) for i in range(4)]
    second = [make_record(start_time=start + 2 * HOUR, end_time=start + 2 * HOUR + i) for i in range(5)]
    try:
        for record in first:
            assert exporter.enqueue(record)
        assert await exporter.aflush()
        before = _read_all(moto["url"], "ledger-logs")

        moto["server"].stop()  # the store goes away mid-run
        for record in second:
            exporter.enqueue(record)
        assert await exporter.aflush() is False
        assert exporter.stats()["spilled"] >= len(second)

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto["port"], verbose=False)
        server.start()
        moto["server"] = server
        urllib.request.urlopen(urllib.request.Request(f"{moto['url']}/moto-api/reset", method="POST"))
        assert await exporter.aflush() is False  # a fresh store without the bucket: still spooled
        _client(moto["url"]).create_bucket(Bucket="ledger-logs")
        assert await exporter.aflush()
        after = _read_all(moto["url"], "ledger-logs")
    finally:
        await exporter.aclose()

    # 07:06:41 + 0/20/40/60 min: one batch, two objects (hours 07 and 08)
    assert sorted({k.rsplit("/", 1)[0] for k in before}) == [
        "prod/llm/2025/11/29/07",
        "prod/llm/2025/11/29/08",
    ]
    assert {k.rsplit("/", 1)[0] for k in after} == {"prod/llm/2025/11/29/09"}
    for key in [*before, *after]:
        assert re.fullmatch(r"prod/llm/\d{4}/\d{2}/\d{2}/\d{2}/\d{8}T\d{6}-[0-9a-f]{20}\.jsonl", key)
    ids = [line["id"] for lines in [*before.values(), *after.values()] for line in lines]
    assert sorted(ids) == sorted(r["id"] for r in first + second)  # each call once, none lost
    line = next(iter(after.values()))[0]
    assert line["cost"]["total"] == "0.000375" and line["messages"] is None  # content off by default
    assert exporter.stats()["replayed"] == len(second)


def test_missing_bucket_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="s3_bucket_name"):
        S3Exporter.from_settings({"s3_callback_params": {"s3_region_name": "us-east-1"}}, {})
