"""The OpenAI endpoints beside chat and embeddings, for OpenAI-compatible providers (Azure included):
legacy ``completions``, ``images/generations``, ``images/edits`` and ``images/variations``
(multipart), ``audio/transcriptions`` and ``audio/translations`` (multipart upload),
``audio/speech`` (audio bytes answer), ``moderations`` and ``rerank`` (Cohere format).

A call is made in one of these formats when ``deployment.extra[ENDPOINT_FLAG]`` names the endpoint
(set by the proxy on a per-call copy of the deployment). The body is sent as JSON with ``model`` set to
the deployment's model, except:

* ``audio/transcriptions``, ``audio/translations``, ``images/edits``, ``images/variations``:
  ``multipart/form-data`` of the body's fields plus the files in ``deployment.extra[UPLOAD_KEY]``
  (``Upload``; kept out of the body so no log or callback ever sees the audio or the images);
* ``rerank`` on Cohere: ``POST {root}/v2/rerank`` where ``root`` is the base URL without its
  ``/compatibility/v1`` or ``/v1`` suffix (Cohere API reference "Rerank V2").

The answers are passed on unchanged; their usage is read by ``ledgerlm.usage.media`` (units) or as
OpenAI token usage (completions).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from ledgerlm.providers.base import Deployment, HTTPRequest

if TYPE_CHECKING:
    from ledgerlm.providers.openai import OpenAICompatibleProvider

__all__ = [
    "BINARY_RESPONSE",
    "ENDPOINTS",
    "ENDPOINT_FLAG",
    "MULTIPART",
    "UPLOAD_KEY",
    "Upload",
    "build_endpoint_request",
]

ENDPOINT_FLAG = "openai_endpoint"
UPLOAD_KEY = "ledgerlm_upload"
BINARY_RESPONSE = "ledgerlm_binary_response"
"""``deployment.extra[BINARY_RESPONSE]``: the dict that stands for a non-JSON answer (speech audio);
the engine uses it as the parsed body and hands the bytes on as ``raw``."""

ENDPOINTS = frozenset(
    {
        "completions",
        "images/generations",
        "images/edits",
        "images/variations",
        "audio/transcriptions",
        "audio/translations",
        "audio/speech",
        "moderations",
        "rerank",
    }
)
MULTIPART = frozenset({"audio/transcriptions", "audio/translations", "images/edits", "images/variations"})
"""Endpoints sent as ``multipart/form-data`` with the files of ``extra[UPLOAD_KEY]``."""
Upload = tuple[str, bytes, str] | list[tuple[str, str, bytes, str]]
"""``(filename, bytes, content type)`` sent as the ``file`` part, or ``(part name, filename, bytes,
content type)`` for each file part (image edits: ``image`` / ``image[]`` and ``mask``)."""
_COHERE_SUFFIXES = ("/compatibility/v1", "/v1", "/v2")


def _url(provider: OpenAICompatibleProvider, deployment: Deployment, endpoint: str) -> str:
    if endpoint == "rerank" and provider.name == "cohere":
        base = provider.api_base(deployment)
        for suffix in _COHERE_SUFFIXES:
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                break
        return f"{base}/v2/rerank"
    return provider.url(deployment, endpoint)


def _multipart(fields: Mapping[str, Any], upload: Upload) -> tuple[bytes, str]:
    """``(body, content type)`` of a ``multipart/form-data`` request (RFC 7578)."""
    boundary = f"ledgerlm{uuid.uuid4().hex}"
    parts: list[bytes] = []
    for name, value in fields.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = item if isinstance(item, str) else orjson.dumps(item).decode()
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{text}\r\n'.encode()
            )
    files = [("file", *upload)] if isinstance(upload, tuple) else upload
    for part, filename, data, content_type in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{part}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        )
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def build_endpoint_request(
    provider: OpenAICompatibleProvider, deployment: Deployment, params: Mapping[str, Any], *, stream: bool
) -> HTTPRequest:
    """The upstream request for ``deployment.extra[ENDPOINT_FLAG]`` (see the module docstring)."""
    endpoint = str(deployment.extra[ENDPOINT_FLAG])
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown OpenAI endpoint {endpoint!r}")
    body, extra_headers = provider._body(deployment, params)
    headers = provider.headers(deployment, extra_headers)
    if endpoint == "completions" and stream:
        body["stream"] = True
        if provider.preset.stream_usage_option:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        headers["Accept"] = "text/event-stream"
    elif endpoint != "completions":
        body.pop("stream", None)
    url = _url(provider, deployment, endpoint)
    if endpoint in MULTIPART:
        data, content_type = _multipart(body, deployment.extra[UPLOAD_KEY])
        headers["Content-Type"] = content_type
        return HTTPRequest("POST", url, headers, data)
    if endpoint == "audio/speech":
        headers["Accept"] = "*/*"
    return HTTPRequest("POST", url, headers, orjson.dumps(body))
