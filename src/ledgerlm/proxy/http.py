"""HTTP edge helpers: orjson responses, OpenAI-format errors, request-body parsing.

Errors leave the proxy as ``{"error": {"message", "type", "param", "code"}}`` with the status of the
``LedgerLMError`` (``to_openai()`` / ``status_code``); anything else is a 500 ``api_error`` whose message
does not leak internals (the traceback is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ledgerlm.errors import APIError, BadRequestError, LedgerLMError, RequestTooLargeError

__all__ = [
    "decimal_number",
    "error_response",
    "http_exception_response",
    "json_response",
    "nul_path",
    "read_json_body",
    "reject_nul",
    "status_of",
]

log = logging.getLogger("ledgerlm.proxy")

JSON_MEDIA = "application/json"


def decimal_number(value: Decimal) -> orjson.Fragment | None:
    """A ``Decimal`` as a JSON NUMBER with its exact digits (``Decimal("0.00000855")`` -> ``0.00000855``,
    never ``8.55e-06`` nor a float round-off; ``1E+2`` -> ``100``). Money leaves the proxy this way in every
    response, so clients that do arithmetic and clients that parse decimals exactly both lose nothing.
    A non-finite value (never money) is ``null``."""
    if not value.is_finite():
        return None
    text = format(value.normalize(), "f")
    return orjson.Fragment("0" if text in ("-0", "0") else text)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_number(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """orjson bytes; ``Decimal`` as an exact JSON number (``decimal_number``), pydantic models dumped."""
    return orjson.dumps(value, default=_default)


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None, *, any_keys: bool = False
) -> Response:
    """A JSON response encoded once with orjson (``any_keys``: dict keys may be ``str`` subclasses, as in
    database rows)."""
    content = (
        orjson.dumps(body, default=_default, option=orjson.OPT_NON_STR_KEYS) if any_keys else dumps(body)
    )
    return Response(
        content, status_code=status, headers=dict(headers) if headers else None, media_type=JSON_MEDIA
    )


def status_of(exc: BaseException) -> int:
    """The HTTP status for ``exc`` (5xx for anything that is not a ledgerlm API error)."""
    if isinstance(exc, LedgerLMError):
        status = exc.status_code
        return status if isinstance(status, int) and 400 <= status <= 599 else 502
    return 500


def error_body(exc: BaseException) -> dict[str, Any]:
    """The OpenAI error body for ``exc``."""
    if isinstance(exc, LedgerLMError):
        return exc.to_openai()
    return {"error": {"message": "internal error", "type": "api_error", "param": None, "code": None}}


def error_response(exc: BaseException, headers: Mapping[str, str] | None = None) -> Response:
    """The OpenAI-format error response for ``exc`` (``Retry-After`` kept for 429/503)."""
    if not isinstance(exc, LedgerLMError):
        log.error("unhandled error in the proxy", exc_info=exc)
    out = dict(headers) if headers else {}
    if isinstance(exc, APIError) and exc.retry_after is not None:
        out["retry-after"] = str(max(0, int(exc.retry_after + 0.999)))
    if isinstance(exc, APIError) and exc.status_code == 429:  # OpenAI's x-ratelimit-* headers (budgets)
        out.update({k: v for k, v in exc.headers.items() if k.lower().startswith("x-ratelimit-")})
    return json_response(error_body(exc), status=status_of(exc), headers=out)


_HTTP_ERROR_TYPES = {
    404: ("not_found_error", "route_not_found"),
    405: ("invalid_request_error", "method_not_allowed"),
}


async def http_exception_response(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors (404 unknown route, 405 wrong method) in OpenAI's error format,
    e.g. ``{"error": {"message": "GET /v1/chat/completions: Method Not Allowed", ...}}`` (status kept)."""
    status = int(getattr(exc, "status_code", 400))
    kind, code = _HTTP_ERROR_TYPES.get(status, ("invalid_request_error", None))
    message = f"{request.method} {request.url.path}: {getattr(exc, 'detail', None) or 'bad request'}"
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return json_response(body, status=status, headers=getattr(exc, "headers", None))


def nul_path(value: Any, path: str = "body") -> str | None:
    """The path (``body.a[2]``) of the first string (value or key) in ``value`` holding U+0000, or None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = path if "\x00" in str(key) else nul_path(item, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = nul_path(item, f"{path}[{index}]")
            if found:
                return found
    return None


def reject_nul(value: Any, path: str = "body") -> None:
    """400 when ``value`` holds a NUL character anywhere (PostgreSQL text cannot store U+0000)."""
    found = nul_path(value, path)
    if found:
        raise BadRequestError(
            f"{found}: NUL characters (\\u0000) are not accepted", param=found, code="invalid_characters"
        )


async def read_json_body(request: Request, max_bytes: int, *, forbid_nul: bool = False) -> dict[str, Any]:
    """The request's JSON object. Raises 413 over ``max_bytes``, 400 for non-JSON / non-object bodies
    (and, with ``forbid_nul``, for any string holding U+0000: management bodies end up in the database)."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise RequestTooLargeError(f"request body over {max_bytes} bytes", code="request_too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise RequestTooLargeError(f"request body over {max_bytes} bytes", code="request_too_large")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise BadRequestError("the request body is empty: send a JSON object", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequestError(f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequestError("the request body must be a JSON object", code="invalid_json")
    if forbid_nul and b"\\u0000" in raw:
        reject_nul(body)
    return body
