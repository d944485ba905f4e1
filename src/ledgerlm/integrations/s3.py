"""S3 bucket logging (LiteLLM's ``s3`` callback): the standard logging payload as JSON-lines objects.

Any S3-compatible store works (AWS S3, MinIO, R2, moto's server): requests go through ``boto3``
(``put_object``), run on a worker thread of the exporter's own loop, never on the response path.

Objects: each flushed batch (``batch_size`` events or ``flush_interval_s`` seconds, whichever first;
then cut at ``max_object_bytes``) becomes one object per UTC hour of the calls' end times, keyed
``{s3_path}/YYYY/MM/DD/HH/{first end time}-{batch digest}.jsonl`` (``Content-Type:
application/x-ndjson``). The key is derived from the batch's request ids, so a batch that is resent
after a lost answer overwrites the same object: no duplicate lines, no lost batch. With
``s3_use_team_prefix`` the team id (or ``no-team``) goes right after ``s3_path``.

Errors: connection errors, timeouts, 5xx, ``SlowDown`` and ``NoSuchBucket`` (a store restarted or not yet
provisioned) are retried, then spooled to disk and replayed when the store answers again; other 4xx
(``AccessDenied``, ``InvalidAccessKeyId``) drop the batch (counted in ``dropped``).

Settings: LiteLLM's ``s3_callback_params`` block (``litellm_settings.s3_callback_params`` or
``callback_settings.s3``; values ``os.environ/NAME`` are read from the environment):
``s3_bucket_name`` (required), ``s3_region_name``, ``s3_endpoint_url``, ``s3_path`` (key prefix),
``s3_aws_access_key_id``, ``s3_aws_secret_access_key``, ``s3_aws_session_token``, ``s3_use_ssl``,
``s3_verify``, ``s3_use_team_prefix``; missing credentials come from boto3's usual chain
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, profiles, instance roles).
Plus ``max_object_bytes`` (default 8 MiB) and the common batching settings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson

from ledgerlm.integrations.base import BatchingExporter, PermanentSendError, RetryableSendError
from ledgerlm.integrations.events import batch_key
from ledgerlm.integrations.settings import BatchSettings, Lookup

__all__ = ["S3Exporter", "object_key", "split_objects"]

MAX_OBJECT_BYTES = 8 * 1024 * 1024
_RETRYABLE_CODES = {"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "NoSuchBucket"}
_PARAMS = (
    "s3_bucket_name",
    "s3_region_name",
    "s3_endpoint_url",
    "s3_path",
    "s3_aws_access_key_id",
    "s3_aws_secret_access_key",
    "s3_aws_session_token",
    "s3_use_ssl",
    "s3_verify",
    "s3_use_team_prefix",
)


def _hour(event: Mapping[str, Any]) -> datetime:
    stamp = datetime.fromtimestamp(float(event.get("end_time") or 0), UTC)
    return stamp.replace(minute=0, second=0, microsecond=0)


def object_key(prefix: str, events: list[dict[str, Any]], team: str | None = None) -> str:
    """``prefix[/team]/YYYY/MM/DD/HH/<first end time>-<digest>.jsonl`` for one object's events."""
    first = datetime.fromtimestamp(float(events[0].get("end_time") or 0), UTC)
    parts = [p for p in (prefix.strip("/"), team) if p]
    parts.append(first.strftime("%Y/%m/%d/%H"))
    parts.append(f"{first.strftime('%Y%m%dT%H%M%S')}-{batch_key(events)[:20]}.jsonl")
    return "/".join(parts)


def split_objects(
    events: list[dict[str, Any]], max_bytes: int, *, by_team: bool = False
) -> list[tuple[str | None, list[dict[str, Any]], bytes]]:
    """Group events by UTC hour (and team), cut at ``max_bytes``: ``[(team, events, body)]``."""
    groups: dict[tuple[datetime, str | None], list[dict[str, Any]]] = {}
    for event in events:
        team = (str(event.get("team_id") or "no-team")) if by_team else None
        groups.setdefault((_hour(event), team), []).append(event)
    out: list[tuple[str | None, list[dict[str, Any]], bytes]] = []
    for (_hour_start, team), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        chunk: list[dict[str, Any]] = []
        lines: list[bytes] = []
        size = 0
        for event in group:
            line = orjson.dumps(event) + b"\n"
            if chunk and size + len(line) > max_bytes:
                out.append((team, chunk, b"".join(lines)))
                chunk, lines, size = [], [], 0
            chunk.append(event)
            lines.append(line)
            size += len(line)
        if chunk:
            out.append((team, chunk, b"".join(lines)))
    return out


def _resolve_params(settings: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """Flat settings + ``s3_callback_params`` with ``os.environ/NAME`` references resolved."""
    params = {**dict(settings.get("s3_callback_params") or {}), **dict(settings)}
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("os.environ/"):
            params[key] = env.get(value.removeprefix("os.environ/"))
    return params


class S3Exporter(BatchingExporter):
    """JSON-lines objects in an S3-compatible bucket (module docstring)."""

    name: ClassVar[str] = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        client_kwargs: Mapping[str, Any],
        prefix: str = "",
        use_team_prefix: bool = False,
        max_object_bytes: int = MAX_OBJECT_BYTES,
        settings: BatchSettings | None = None,
    ) -> None:
        super().__init__(settings)
        self.bucket, self.prefix = bucket, prefix
        self.use_team_prefix = use_team_prefix
        self.max_object_bytes = max_object_bytes
        self._client_kwargs = dict(client_kwargs)
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any], env: Mapping[str, str] | None = None) -> S3Exporter:
        """Build from ``s3_callback_params``/env; raises ``ValueError`` without ``s3_bucket_name``."""
        look = Lookup(settings, env)
        params = _resolve_params(settings, look.env)
        plook = Lookup(params, look.env)
        bucket = plook.get_str("s3_bucket_name")
        if not bucket:
            raise ValueError("s3: set s3_callback_params.s3_bucket_name")
        client_kwargs = {
            "region_name": plook.get_str("s3_region_name", "AWS_REGION", "AWS_DEFAULT_REGION"),
            "endpoint_url": plook.get_str("s3_endpoint_url", "AWS_ENDPOINT_URL_S3"),
            "aws_access_key_id": plook.get_str("s3_aws_access_key_id"),
            "aws_secret_access_key": plook.get_str("s3_aws_secret_access_key"),
            "aws_session_token": plook.get_str("s3_aws_session_token"),
            "use_ssl": plook.get_bool("s3_use_ssl", default=True),
        }
        verify = plook.get("s3_verify")
        if verify is not None:  # False / "false": no TLS verification; a string: a CA bundle path
            off = str(verify).strip().lower() in ("false", "0", "no")
            client_kwargs["verify"] = False if off else (verify if isinstance(verify, str) else None)
        return cls(
            bucket,
            client_kwargs={k: v for k, v in client_kwargs.items() if v is not None},
            prefix=plook.get_str("s3_path", default="") or "",
            use_team_prefix=plook.get_bool("s3_use_team_prefix", default=False),
            max_object_bytes=plook.get_int("max_object_bytes", default=MAX_OBJECT_BYTES),
            settings=BatchSettings.from_settings(params, look.env),
        )

    def _s3(self) -> Any:
        """The boto3 client (built on first use, on the worker; boto3's own retries off: ours run)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            timeout = self.settings.request_timeout_s
            config = Config(
                retries={"max_attempts": 1, "mode": "standard"},
                connect_timeout=timeout,
                read_timeout=timeout,
            )
            self._client = boto3.session.Session().client("s3", config=config, **self._client_kwargs)
        return self._client

    def _put(self, key: str, body: bytes) -> None:
        """One ``put_object`` (runs in a thread); maps botocore errors onto retry/permanent."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3().put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            code = str(error.get("Code") or "")
            if code in _RETRYABLE_CODES or status in (408, 429) or status >= 500:
                raise RetryableSendError(f"s3: {code or status}") from None
            raise PermanentSendError(f"s3: {code or status}") from None
        except BotoCoreError as exc:  # connection refused, timeouts, DNS
            raise RetryableSendError(f"s3: {type(exc).__name__}") from None

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        """Write the batch as one object per UTC hour (cut at ``max_object_bytes``)."""
        for team, chunk, body in split_objects(events, self.max_object_bytes, by_team=self.use_team_prefix):
            key = object_key(self.prefix, chunk, team)
            await asyncio.to_thread(self._put, key, body)

    async def on_stop(self) -> None:
        """Close the boto3 client's connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None
