"""The schemas of ``/openapi.json``: OpenAI shapes for the LLM routes, the error body, response headers,
and ``op(...)``, which builds one operation (summary, 200 response, error responses, body, query params).

Hand-written from OpenAI's and Anthropic's API references; used by ``ledgerlm.proxy.openapi``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "param": {"type": ["string", "null"]},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}

MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool", "function"]},
        "content": {"anyOf": [{"type": "string"}, {"type": "array"}, {"type": "null"}]},
        "name": {"type": "string"},
        "tool_calls": {"type": "array"},
        "tool_call_id": {"type": "string"},
    },
}

TAGS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 128}, "maxItems": 64}
METADATA = {"type": "object", "properties": {"tags": TAGS}, "additionalProperties": True}

CHAT_REQUEST = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "items": MESSAGE, "minItems": 1},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "temperature": {"type": "number"},
        "top_p": {"type": "number"},
        "n": {"type": "integer", "minimum": 1},
        "stop": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "tools": {"type": "array"},
        "tool_choice": {},
        "response_format": {"type": "object"},
        "user": {"type": "string", "description": "end user id (also header x-litellm-end-user-id)"},
        "metadata": METADATA,
        "tags": TAGS,
    },
    "additionalProperties": True,
}

USAGE = {
    "type": "object",
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}

CHAT_RESPONSE = {
    "type": "object",
    "required": ["id", "object", "choices"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string"},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "object"}},
        "usage": USAGE,
    },
}

EMBEDDING_REQUEST = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "input": {"anyOf": [{"type": "string"}, {"type": "array"}]},
        "dimensions": {"type": "integer", "minimum": 1},
        "encoding_format": {"type": "string", "enum": ["float", "base64"]},
        "user": {"type": "string"},
        "metadata": METADATA,
        "tags": TAGS,
    },
}

EMBEDDING_RESPONSE = {
    "type": "object",
    "required": ["object", "data"],
    "properties": {
        "object": {"type": "string"},
        "data": {"type": "array"},
        "model": {"type": "string"},
        "usage": USAGE,
    },
}

MODELS_RESPONSE = {
    "type": "object",
    "properties": {
        "object": {"type": "string"},
        "data": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
    },
}

OBJECT = {"type": "object", "additionalProperties": True}
OBJECT_OR_LIST = {"type": ["object", "array"]}
LIST = {"type": "array", "items": {"type": "object"}}  # LiteLLM's list routes answer a JSON array
SPEND_ROW = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string"},
        "spend": {"type": ["number", "null"], "description": "USD, exact decimal digits; null when unpriced"},
    },
}
SPEND_LOGS = {  # /spend/logs/v2
    "type": "object",
    "properties": {"data": {"type": "array", "items": SPEND_ROW}, "page": {"type": "integer"}},
}

RESPONSE_HEADERS = {
    "x-request-id": {"schema": {"type": "string"}},
    "x-litellm-call-id": {"schema": {"type": "string"}},
    "x-litellm-response-cost": {"schema": {"type": "string"}, "description": "USD, absent when unpriced"},
    "x-ledgerlm-response-cost": {"schema": {"type": "string"}, "description": "USD, absent when unpriced"},
    "x-ledgerlm-overhead-ms": {"schema": {"type": "string"}, "description": "proxy time minus upstream"},
}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(s): {"description": "error", "content": {"application/json": {"schema": ERROR}}} for s in statuses
    }


def _op(
    summary: str,
    response: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: Sequence[str] = (),
    errors: tuple[int, ...] = (400, 401, 403),
    sse: bool = False,
) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": response}}
    if sse:
        content["text/event-stream"] = {"schema": {"type": "string"}}
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {
            "200": {"description": "OK", "content": content, "headers": RESPONSE_HEADERS},
            **_errors(*errors),
        },
        "security": [{"bearer": []}],
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = [
            {"name": p, "in": "query", "required": False, "schema": {"type": "string"}} for p in params
        ]
    return op


def _schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


ANTHROPIC_MESSAGES_REQUEST = {
    "type": "object",
    "required": ["model", "messages", "max_tokens"],
    "properties": {
        "model": {"type": "string", "minLength": 1},
        "messages": {"type": "array", "items": {"type": "object"}, "minItems": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "system": {"anyOf": [{"type": "string"}, {"type": "array"}]},
        "stream": {"type": "boolean"},
        "metadata": {"type": "object"},
        "tags": TAGS,
    },
    "additionalProperties": True,
}
ANTHROPIC_MESSAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "type": {"type": "string"},
        "content": {"type": "array"},
        "usage": {"type": "object"},
    },
}
