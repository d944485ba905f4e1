"""Shared simulator state and request handling steps used by every format module.

``SimState`` holds the per-model knobs, the log of received requests (``SimRequest``: path, query,
headers with credential VALUES masked, JSON body) and the ``fail_times`` counters. ``prepare`` runs the
common steps of a request: parse JSON, log it, merge knobs, check auth, wait ``latency_ms``, inject an
error; it returns ``(knobs, body)`` or the error response to send.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from ledgerlm.simulator.billing import Billing
from ledgerlm.simulator.knobs import Knobs, merge_knobs

__all__ = [
    "BREAK_GRACE_S",
    "REQUEST_LOG_LIMIT",
    "SimRequest",
    "SimState",
    "abort_connection",
    "error_response",
    "split_words",
]

_MASKED = frozenset({"authorization", "api-key", "x-api-key", "x-goog-api-key"})
_WORDS = re.compile(r"\S+\s*|\s+")
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (simulated)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided (simulated)."),
    403: ("permission_denied", None, "You are not allowed to use this model (simulated)."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist (simulated)."),
    408: ("timeout", None, "Request timed out (simulated)."),
    409: ("conflict", None, "Conflict (simulated)."),
    413: ("invalid_request_error", None, "Request too large (simulated)."),
    422: ("invalid_request_error", None, "Unprocessable entity (simulated)."),
    429: ("rate_limit_error", "rate_limit_exceeded", "Rate limit reached (simulated)."),
    500: ("server_error", None, "The server had an error (simulated)."),
    502: ("server_error", None, "Bad gateway (simulated)."),
    503: ("server_error", None, "The engine is currently overloaded (simulated)."),
    504: ("server_error", None, "Gateway timeout (simulated)."),
    529: ("overloaded_error", None, "Overloaded (simulated)."),
}


@dataclass(slots=True)
class SimRequest:
    """One received request: ``method``, ``path``, ``query`` (dict), ``headers`` (lower-case names;
    credential values replaced by ``"***"``), ``json`` (the parsed body or ``None``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


def split_words(text: str) -> list[str]:
    """``text`` in stream pieces: each word with its following whitespace."""
    return _WORDS.findall(text)


BREAK_GRACE_S = 0.05
"""Pause before aborting a connection (``break_after_chunks``): aiohttp clients drop data still
unread in their buffer when the connection fails, so the events already sent must be read first."""


async def abort_connection(request: web.Request) -> None:
    """Break the connection abruptly (no chunked-encoding end) after the client read what was sent."""
    await asyncio.sleep(BREAK_GRACE_S)
    if request.transport is not None:
        request.transport.abort()


def error_response(
    status: int, message: str | None = None, *, body: Any = None, retry_after: float | None = None
) -> web.Response:
    """An OpenAI-format error response (``{"error": {message, type, param, code}}``)."""
    etype, code, default = _ERRORS.get(
        status, ("server_error" if status >= 500 else "invalid_request_error", None, "Simulated error.")
    )
    payload = (
        body
        if body is not None
        else {"error": {"message": message or default, "type": etype, "param": None, "code": code}}
    )
    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
    raw = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
    return web.Response(status=status, body=raw, content_type="application/json", headers=headers)


REQUEST_LOG_LIMIT = 10_000
"""The request log keeps at most this many entries (the newest): a long benchmark must not grow the
simulator's memory without bound."""


@dataclass
class SimState:
    """Knobs per model, the request log (the newest ``REQUEST_LOG_LIMIT`` requests) and the failure
    counters (thread-safe appends)."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[SimRequest] = field(default_factory=list)
    fail_counts: dict[str, int] = field(default_factory=dict)
    billing: Billing = field(default_factory=Billing)
    closing: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, request: web.Request, body: Any) -> None:
        """Append the request (credentials masked) to ``requests``."""
        headers = {k.lower(): ("***" if k.lower() in _MASKED else v) for k, v in request.headers.items()}
        entry = SimRequest(request.method, request.path, dict(request.query), headers, body)
        with self._lock:
            self.requests.append(entry)
            if len(self.requests) > REQUEST_LOG_LIMIT:
                del self.requests[: len(self.requests) - REQUEST_LOG_LIMIT // 2]

    def should_fail(self, knobs: Knobs) -> bool:
        """True when this request must answer ``error_status`` (counting ``fail_times`` per key)."""
        if knobs.fail_times is None:
            return knobs.error_status is not None
        with self._lock:
            seen = self.fail_counts.get(knobs.fail_key, 0)
            if seen >= knobs.fail_times:
                return False
            self.fail_counts[knobs.fail_key] = seen + 1
            return True

    async def wait_until_closed(self, request: web.Request, limit_s: float = 300.0) -> None:
        """Keep a response open (a stall) until the client goes away, the server stops, or ``limit_s``."""
        waited = 0.0
        while waited < limit_s and not self.closing:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.05)
            waited += 0.05

    async def prepare(
        self, request: web.Request, *, azure: bool = False
    ) -> tuple[Knobs, dict[str, Any]] | web.Response:
        """Common request steps; returns ``(knobs, body)`` or the error response to send."""
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            self.log(request, None)
            return error_response(400, "The request body is not valid JSON.")
        self.log(request, body)
        if not isinstance(body, dict):
            return error_response(400, "The request body must be a JSON object.")
        model = request.match_info.get("deployment") if azure else body.get("model")
        try:
            knobs = merge_knobs(self.models.get(str(model)), _header_knobs(request.headers))
        except (ValueError, TypeError) as exc:
            return error_response(400, f"bad x-sim header: {exc}")
        denied = _check_auth(request, knobs, azure=azure)
        if denied is not None:
            return denied
        if knobs.latency_ms:
            await asyncio.sleep(knobs.latency_ms / 1000.0)
        if knobs.raw_body is not None:
            return web.Response(status=200, text=knobs.raw_body, content_type="application/json")
        if self.should_fail(knobs):
            return error_response(
                knobs.error_status or 500, body=knobs.error_body, retry_after=knobs.retry_after
            )
        return knobs, body


def _header_knobs(headers: Mapping[str, str]) -> dict[str, Any] | None:
    raw = headers.get("x-sim")
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValueError("x-sim must be a JSON object") from None
    if not isinstance(value, dict):
        raise ValueError("x-sim must be a JSON object")
    return value


def _check_auth(request: web.Request, knobs: Knobs, *, azure: bool) -> web.Response | None:
    if azure:
        if not request.query.get("api-version"):
            body = {
                "error": {
                    "code": "MissingApiVersionParameter",
                    "message": "The api-version query parameter (?api-version=) is required.",
                }
            }
            return error_response(400, body=body)
        if knobs.require_auth and not request.headers.get("api-key"):
            body = {
                "error": {
                    "code": "401",
                    "message": "Access denied due to invalid subscription key or wrong API endpoint.",
                }
            }
            return error_response(401, body=body)
        return None
    if not knobs.require_auth:
        return None
    if request.path.startswith("/openai/v1/") and request.headers.get("api-key"):
        return None  # Azure OpenAI v1 API (no api-version; key in api-key)
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return error_response(401, "You didn't provide an API key (simulated).")
    return None
