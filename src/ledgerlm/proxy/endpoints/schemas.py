"""OpenAPI descriptions of the endpoint modules' routes (merged into ``/openapi.json``).

Request shapes follow OpenAI's API reference ("Responses"); only what the proxy checks is required.
"""

from __future__ import annotations

from typing import Any

from ledgerlm.proxy.openapi_schemas import OBJECT, TAGS, _op

__all__ = ["endpoint_paths"]

_LLM_ERRORS = (400, 401, 403, 404, 413, 429, 500, 502, 503, 504)

RESPONSES_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "input": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "minItems": 1}]},
        "instructions": {"type": "string"},
        "stream": {"type": "boolean"},
        "max_output_tokens": {"type": "integer", "minimum": 1},
        "tools": {"type": "array", "items": {"type": "object"}},
        "metadata": {"type": "object"},
        "store": {"type": "boolean"},
        "tags": TAGS,
    },
    "additionalProperties": True,
}
RESPONSE_OBJECT = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string"},
        "status": {"type": "string"},
        "output": {"type": "array"},
        "usage": {"type": "object"},
    },
}


def _body(*required: str) -> dict[str, Any]:
    props: dict[str, Any] = {name: {} for name in required}
    props.update({"model": {"type": "string", "minLength": 1}, "metadata": {"type": "object"}, "tags": TAGS})
    return {
        "type": "object",
        "required": ["model", *required],
        "properties": props,
        "additionalProperties": True,
    }


_FORM = {
    "type": "object",
    "required": ["model", "file"],
    "properties": {"model": {"type": "string"}, "file": {"type": "string", "format": "binary"}},
}


_IMAGE_FORM = {
    "type": "object",
    "required": ["model", "image"],
    "properties": {"model": {"type": "string"}, "image": {"type": "string", "format": "binary"}},
}


def _other_endpoints() -> dict[str, Any]:
    """Completions, images, audio, moderations, rerank, count_tokens (with and without ``/v1``)."""
    ops: dict[str, tuple[str, dict[str, Any]]] = {
        "/completions": ("Legacy text completion (plain or SSE stream)", _body("prompt")),
        "/images/generations": ("Image generation, priced per image", _body("prompt")),
        "/audio/speech": ("Text to speech (audio bytes), priced per character", _body("input", "voice")),
        "/moderations": ("Moderation (free)", _body("input")),
        "/rerank": ("Rerank (Cohere format), priced per search", _body("query", "documents")),
        "/messages/count_tokens": ("Anthropic token count (free, never admitted)", _body("messages")),
    }
    out: dict[str, Any] = {}
    for path, (summary, body) in ops.items():
        op = {"post": _op(summary, OBJECT, body=body, errors=_LLM_ERRORS, sse=path == "/completions")}
        out[f"/v1{path}"] = out[path] = op
    out["/v2/rerank"] = out["/rerank"]
    form = _op("Audio transcription (multipart), priced per second", OBJECT, errors=_LLM_ERRORS)
    form["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": _FORM}}}
    out["/v1/audio/transcriptions"] = out["/audio/transcriptions"] = {"post": form}
    uploads = {
        "/audio/translations": ("Audio translation (multipart), priced per second", _FORM),
        "/images/edits": ("Image edit (multipart), priced by tokens or per image", _IMAGE_FORM),
        "/images/variations": ("Image variation (multipart), priced per image", _IMAGE_FORM),
    }
    for path, (summary, schema) in uploads.items():
        op = _op(summary, OBJECT, errors=_LLM_ERRORS)
        op["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
        out[f"/v1{path}"] = out[path] = {"post": op}
    return out


def _azure_paths(others: dict[str, Any]) -> dict[str, Any]:
    """The Azure deployment paths: the OpenAI twin's operation plus ``deployment`` and ``api-version``."""
    from ledgerlm.proxy.endpoints.azure_paths import AZURE_BASE, AZURE_PATHS
    from ledgerlm.proxy.openapi import _llm_paths

    twins = {**_llm_paths(), **others}
    params = [
        {"name": "deployment", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "api-version", "in": "query", "required": False, "schema": {"type": "string"}},
    ]
    return {
        f"{AZURE_BASE}/{path}": {"post": {**twins[f"/v1/{path}"]["post"], "parameters": params}}
        for path in AZURE_PATHS
    }


def _path_param(op: dict[str, Any]) -> dict[str, Any]:
    param = {"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {**op, "parameters": [*op.get("parameters", []), param]}


def endpoint_paths() -> dict[str, Any]:
    """``/v1/responses`` and the stored-response routes, with and without ``/v1``."""
    create = _op(
        "Responses API (plain or SSE stream of response.* events)",
        RESPONSE_OBJECT,
        body=RESPONSES_REQUEST,
        errors=_LLM_ERRORS,
        sse=True,
    )
    stored = _path_param(_op("A stored response", RESPONSE_OBJECT, errors=(401, 404)))
    deleted = _path_param(_op("Delete a stored response", OBJECT, errors=(401, 404)))
    items = _path_param(
        _op("Input items of a stored response", OBJECT, params=["after", "limit", "order"], errors=(401, 404))
    )
    out: dict[str, Any] = {}
    for prefix in ("/v1", ""):
        out[f"{prefix}/responses"] = {"post": create}
        out[f"{prefix}/responses/{{response_id}}"] = {"get": stored, "delete": deleted}
        out[f"{prefix}/responses/{{response_id}}/input_items"] = {"get": items}
    out.update(_other_endpoints())
    out.update(_azure_paths(out))
    out.update(_passthrough_paths())
    return out


def _passthrough_paths() -> dict[str, Any]:
    """``/{provider}/{path}``: the provider's own request and answer, unchanged."""
    from ledgerlm.proxy.endpoints.passthrough_targets import PREFIXES

    param = [{"name": "path", "in": "path", "required": True, "schema": {"type": "string"}}]
    out: dict[str, Any] = {}
    for prefix in PREFIXES:
        op = _op(
            f"Pass-through to {prefix} (native format, logged and charged)", OBJECT, errors=(401, 403, 429)
        )
        op["parameters"] = param
        op["x-ledgerlm-pass-through"] = True  # the provider's own answers, its 5xx included
        body = {"required": False, "content": {"application/json": {"schema": OBJECT}}}
        out[f"/{prefix}/{{path}}"] = {
            method: {**op, "requestBody": body} if method in ("post", "put", "patch") else op
            for method in ("get", "post", "put", "patch", "delete")
        }
    return out
