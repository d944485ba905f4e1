"""The lifecycle's body readers (``Endpoint.read``): how an endpoint's request body becomes the dict the
lifecycle routes, hooks and admits on. Each takes the ``ProxyCall`` and returns that dict; what is not
a plain field (an uploaded file, the raw bytes) is kept in ``call.attachments`` for the endpoint's
``prepare``.

* ``read_json``: a JSON object (400 ``invalid_json``, 413 over ``max_body_bytes``);
* ``read_form``: ``multipart/form-data`` (OpenAI uploads): fields as strings (``name[]`` as lists),
  each file part as its file name, the file itself as ``attachments["file"] = (name, bytes,
  content type)``; 400 when the form is broken or has no ``file`` part, 413 over the limit. An Azure
  path's deployment (``request.state.model_override``) becomes the ``model`` field;
* ``read_raw``: the bytes as sent (``attachments["raw"]``), the body their JSON object or ``{}`` (a
  pass-through body goes upstream untouched, whatever it is);
* ``read_nothing``: ``{}`` (GET / DELETE lookups).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.datastructures import UploadFile

from ledgerlm.errors import BadRequestError, RequestTooLargeError
from ledgerlm.proxy.http import read_json_body

if TYPE_CHECKING:
    from ledgerlm.proxy.call import ProxyCall

__all__ = ["BodyReader", "read_form", "read_json", "read_nothing", "read_raw"]

BodyReader = Callable[["ProxyCall"], Awaitable[dict[str, Any]]]


async def read_json(call: ProxyCall) -> dict[str, Any]:
    """The request's JSON object (``proxy.http.read_json_body``)."""
    return await read_json_body(call.request, call.state.max_body_bytes)


def _check_length(call: ProxyCall) -> None:
    length = call.request.headers.get("content-length")
    limit = call.state.max_body_bytes
    if length is not None and length.isdigit() and int(length) > limit:
        raise RequestTooLargeError(f"request body over {limit} bytes", code="request_too_large")


async def read_form(call: ProxyCall) -> dict[str, Any]:
    """The multipart form as a body (module docstring)."""
    _check_length(call)
    request = call.request
    try:
        form = await request.form()
    except Exception as exc:  # not multipart, or a broken one
        raise BadRequestError(f"send multipart/form-data with a 'file' part ({exc})", param="file") from None
    body: dict[str, Any] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                data = await value.read()
                kind = value.content_type or "application/octet-stream"
                call.attachments[name] = (value.filename or "audio", data, kind)
                body[name] = value.filename or "audio"
            elif name.endswith("[]"):
                body.setdefault(name, []).append(value)
            else:
                body[name] = value
    finally:
        await form.close()
    override = getattr(request.state, "model_override", None)
    if override:
        body["model"] = override  # Azure path: /openai/deployments/{deployment}/audio/transcriptions
    if "file" not in call.attachments:
        raise BadRequestError("'file' is required (a multipart file part)", param="file")
    return body


async def read_raw(call: ProxyCall) -> dict[str, Any]:
    """The raw bytes kept as ``attachments["raw"]``; the body their JSON object, else ``{}``."""
    _check_length(call)
    raw = await call.request.body()
    limit = call.state.max_body_bytes
    if len(raw) > limit:
        raise RequestTooLargeError(f"request body over {limit} bytes", code="request_too_large")
    call.attachments["raw"] = raw
    try:
        parsed = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {}


async def read_nothing(call: ProxyCall) -> dict[str, Any]:
    """No body: ``{}``."""
    return {}
