"""MLflow exporter (LiteLLM's ``mlflow`` callback): each call as an MLflow trace with one ``LLM`` span.

Transport: the MLflow tracking server's OpenTelemetry endpoint (MLflow 3, ``mlflow/server/otel_api.py``):
``POST {MLFLOW_TRACKING_URI}/v1/traces`` with ``Content-Type: application/json`` (OTLP/HTTP JSON,
trace and span ids as hex) and the ``x-mlflow-experiment-id`` header. The experiment is
``MLFLOW_EXPERIMENT_ID``, else the one named ``MLFLOW_EXPERIMENT_NAME`` (looked up with
``GET /api/2.0/mlflow/experiments/get-by-name`` and created with ``POST .../experiments/create`` when
missing), else ``0`` (MLflow's Default experiment). No MLflow client library runs in the proxy.

One trace per call: trace id = the first 16 bytes of SHA-256(request id) (a resend lands on the same
trace), one root span named ``"{operation} {model}"`` with ``start``/``end`` of the call, status
``OK`` or ``ERROR`` (with the error type and message), and attributes:

* the OpenTelemetry GenAI attributes of ``ledgerlm.integrations.otel_attributes`` (``gen_ai.*`` incl.
  ``gen_ai.usage.input_tokens``/``output_tokens``, which MLflow turns into the trace's token usage,
  and ``ledgerlm.cost.*``, ``ledgerlm.request.id``, team, key alias, tags);
* MLflow's own keys (``mlflow/tracing/constant.py``, values JSON-encoded as MLflow stores them):
  ``mlflow.spanType`` = ``"LLM"``, ``mlflow.llm.model``, ``mlflow.llm.provider``, ``mlflow.llm.cost``
  (``input_cost``/``output_cost``/``total_cost`` in USD from ledgerlm's own price; absent when unpriced,
  never a fake 0: MLflow may then add its own estimate from the model name), and, with content
  logging on, ``mlflow.spanInputs`` / ``mlflow.spanOutputs``.

Settings (mapping key / env var): ``tracking_uri`` / ``MLFLOW_TRACKING_URI`` (required, http(s)),
``experiment_id`` / ``MLFLOW_EXPERIMENT_ID``, ``experiment_name`` / ``MLFLOW_EXPERIMENT_NAME``,
``MLFLOW_TRACKING_TOKEN`` (bearer) or ``MLFLOW_TRACKING_USERNAME`` + ``MLFLOW_TRACKING_PASSWORD``
(basic auth), plus the common batching settings.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import orjson

from ledgerlm.integrations.base import BatchingExporter, PermanentSendError, RetryableSendError
from ledgerlm.integrations.otel_attributes import (
    operation_name,
    provider_name,
    request_model,
    span_attributes,
)
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["MlflowExporter", "otlp_span"]

_INPUT_COSTS = ("input", "cache_read", "cache_write", "cache_write_1h", "input_audio", "input_image")


def _ids(record_id: str) -> tuple[str, str]:
    digest = hashlib.sha256(record_id.encode()).hexdigest()
    return digest[:32], digest[32:48]


def _any_value(value: Any) -> dict[str, Any]:
    """An OTLP JSON ``AnyValue``."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list | tuple):
        return {"arrayValue": {"values": [_any_value(v) for v in value]}}
    return {"stringValue": str(value)}


def _nanos(epoch_s: Any) -> str:
    """Epoch seconds -> OTLP nanoseconds (via whole microseconds: exact within a float's 53 bits)."""
    return str(round(float(epoch_s or 0) * 1_000_000) * 1000)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def mlflow_cost(cost: Mapping[str, Any]) -> dict[str, float] | None:
    """``mlflow.llm.cost`` (USD floats) from ledgerlm's breakdown; ``None`` when unpriced."""
    if cost.get("total") is None:
        return None
    breakdown = cost.get("breakdown") or {}
    input_cost = sum(float(v) for k, v in breakdown.items() if k in _INPUT_COSTS)
    total = float(cost["total"])
    return {"input_cost": input_cost, "output_cost": max(0.0, total - input_cost), "total_cost": total}


def _mlflow_attributes(event: Mapping[str, Any], *, content: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "mlflow.spanType": _json("LLM"),
        "mlflow.llm.model": _json(request_model(event)),
        "mlflow.llm.provider": _json(provider_name(event)),
    }
    cost = mlflow_cost(event.get("cost") or {})
    if cost is not None:
        attrs["mlflow.llm.cost"] = _json(cost)
    if content:
        if event.get("messages") is not None:
            attrs["mlflow.spanInputs"] = _json({"messages": event["messages"]})
        if event.get("response") is not None:
            attrs["mlflow.spanOutputs"] = _json(event["response"])
    return attrs


def otlp_span(event: Mapping[str, Any], *, content: bool) -> dict[str, Any]:
    """The OTLP JSON span of one call (CallRecord JSON ``event``)."""
    trace_id, span_id = _ids(str(event.get("id")))
    attrs = span_attributes(event, latest=False, content=False) | _mlflow_attributes(event, content=content)
    status: dict[str, Any] = {"code": 1}
    if event.get("status") == "failure":
        error = event.get("error") or {}
        status = {"code": 2, "message": f"{error.get('type')}: {error.get('message')}"[:1000]}
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "name": f"{operation_name(event)} {request_model(event)}",
        "kind": 3,  # CLIENT
        "startTimeUnixNano": _nanos(event.get("start_time")),
        "endTimeUnixNano": _nanos(event.get("end_time")),
        "attributes": [{"key": k, "value": _any_value(v)} for k, v in attrs.items() if v is not None],
        "status": status,
    }


class MlflowExporter(BatchingExporter):
    """Sends each call as an MLflow trace to a tracking server (module docstring)."""

    name: ClassVar[str] = "mlflow"

    def __init__(
        self,
        tracking_uri: str,
        *,
        experiment_id: str | None = None,
        experiment_name: str | None = None,
        authorization: str | None = None,
        settings: BatchSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.tracking_uri = tracking_uri.rstrip("/")
        self.experiment_id = experiment_id
        self.experiment_name = experiment_name
        self._auth = {"Authorization": authorization} if authorization else {}

    @classmethod
    def from_settings(
        cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> MlflowExporter:
        """Build from config/env; raises ``ValueError`` without an http(s) ``MLFLOW_TRACKING_URI``."""
        look = Lookup(settings, env)
        uri = look.get_str("tracking_uri", "MLFLOW_TRACKING_URI")
        if not uri or not uri.startswith(("http://", "https://")):
            raise ValueError("mlflow: set MLFLOW_TRACKING_URI to the tracking server's http(s) URL")
        token = look.get_str("tracking_token", "MLFLOW_TRACKING_TOKEN")
        user = look.get_str("tracking_username", "MLFLOW_TRACKING_USERNAME")
        password = look.get_str("tracking_password", "MLFLOW_TRACKING_PASSWORD")
        auth = f"Bearer {token}" if token else None
        if not auth and user and password:
            auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        return cls(
            uri,
            experiment_id=look.get_str("experiment_id", "MLFLOW_EXPERIMENT_ID"),
            experiment_name=look.get_str("experiment_name", "MLFLOW_EXPERIMENT_NAME"),
            authorization=auth,
            settings=BatchSettings.from_settings(settings, env),
        )

    async def _experiment(self) -> str:
        """The experiment id (resolved by name once, created when missing)."""
        if self.experiment_id:
            return self.experiment_id
        if not self.experiment_name:
            self.experiment_id = "0"
            return "0"
        assert self.session is not None
        url = f"{self.tracking_uri}/api/2.0/mlflow/experiments/get-by-name?experiment_name="
        async with self.session.get(url + quote(self.experiment_name), headers=self._auth) as resp:
            body = await resp.read()
            status = resp.status
        if status == 200:
            self.experiment_id = str(orjson.loads(body)["experiment"]["experiment_id"])
            return self.experiment_id
        if status != 404:
            raise RetryableSendError(f"mlflow: experiment lookup HTTP {status}")
        headers = {"Content-Type": "application/json", **self._auth}
        create = f"{self.tracking_uri}/api/2.0/mlflow/experiments/create"
        _, created = await self.post(create, orjson.dumps({"name": self.experiment_name}), headers)
        self.experiment_id = str(orjson.loads(created)["experiment_id"])
        return self.experiment_id

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """POST the batch as one OTLP JSON request (one resource, one scope, one span per call)."""
        content = self.settings.content_logging
        body = {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "ledgerlm"}}]
                    },
                    "scopeSpans": [
                        {
                            "scope": {"name": "ledgerlm"},
                            "spans": [otlp_span(e, content=content) for e in events],
                        }
                    ],
                }
            ]
        }
        headers = {
            "Content-Type": "application/json",
            "x-mlflow-experiment-id": await self._experiment(),
            **self._auth,
        }
        try:
            await self.post(f"{self.tracking_uri}/v1/traces", orjson.dumps(body), headers)
        except PermanentSendError as exc:
            if "404" in str(exc):  # an MLflow server before 3.x: no OTLP endpoint
                raise PermanentSendError(
                    "mlflow: no /v1/traces endpoint (needs an MLflow 3 server)"
                ) from None
            raise
